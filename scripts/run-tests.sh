#!/usr/bin/env bash
# The whole suite, on SQLite and then on a throw-away PostgreSQL database.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv/bin
postgres_url="${PC_TEST_POSTGRES_ADMIN_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"

# Start the local PostgreSQL cluster when it is installed but stopped.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  version="$(ls /etc/postgresql 2>/dev/null | head -n1)"
  if [[ -n "$version" ]]; then
    echo "Starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
fi

echo "== ruff"
"$venv/ruff" check .
"$venv/ruff" format --check .

echo "== tests on SQLite"
PC_TEST_DATABASE=sqlite "$venv/pytest" "$@"

echo "== tests on PostgreSQL ($postgres_url)"
PC_TEST_DATABASE=postgresql PC_TEST_POSTGRES_ADMIN_URL="$postgres_url" "$venv/pytest" "$@"
