#!/usr/bin/env bash
# The whole suite, on SQLite and on a throw-away PostgreSQL database.
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

# The two databases' runs go side by side (each has its own databases, servers and ports), so
# the suite takes the time of the longer one; each run's output is printed whole when it ends.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
PC_TEST_DATABASE=sqlite "$venv/pytest" "$@" >"$logs/sqlite.log" 2>&1 &
sqlite_run=$!
PC_TEST_DATABASE=postgresql PC_TEST_POSTGRES_ADMIN_URL="$postgres_url" "$venv/pytest" "$@" \
  >"$logs/postgresql.log" 2>&1 &
postgres_run=$!
status=0
wait "$sqlite_run" || status=1
echo "== tests on SQLite"
cat "$logs/sqlite.log"
wait "$postgres_run" || status=1
echo "== tests on PostgreSQL ($postgres_url)"
cat "$logs/postgresql.log"
exit "$status"
