#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster, exported as SUPPLYBID_TEST_POSTGRES_URL.
# Where no server is installed the command runs on SQLite alone, unless
# SUPPLYBID_REQUIRE_POSTGRES=1 (CI), which makes that an error.
set -euo pipefail
if [ -n "${SUPPLYBID_TEST_POSTGRES_URL:-}" ]; then exec "$@"; fi
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  if [ "${SUPPLYBID_REQUIRE_POSTGRES:-0}" = 1 ]; then
    echo "PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1
  fi
  echo "note: no PostgreSQL server here; tests run on SQLite only (apt-get install postgresql to run both)" >&2
  exec "$@"
fi
dir=$(mktemp -d /tmp/supplybid-pg.XXXXXX)
port=${SUPPLYBID_TEST_POSTGRES_PORT:-$(( 55000 + RANDOM % 5000 ))}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
chmod 700 "$dir"
as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
cleanup() { as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres supplybid_test
export SUPPLYBID_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/supplybid_test"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on port $port for the tests" >&2
"$@"
