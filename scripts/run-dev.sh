#!/usr/bin/env bash
# `make run`: the privacy center on :5000 and the operator's demo page on :5001 (another origin).
set -euo pipefail
cd "$(dirname "$0")/.."
export PC_ENV=development
flask=.venv/bin/flask

"$flask" --app "demo_site:create_demo_site('http://127.0.0.1:5000')" run --host 127.0.0.1 --port 5001 &
demo=$!
trap 'kill "$demo" 2>/dev/null || true' EXIT
echo "Privacy center:        http://127.0.0.1:5000/policy"
echo "Operator's demo page:  http://127.0.0.1:5001/  (the consent widget at work)"
"$flask" --app wsgi run --host 127.0.0.1 --port 5000
