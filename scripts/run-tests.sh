#!/usr/bin/env bash
# Run the whole suite. PostgreSQL and Redis are used for real: the machine's own on
# 127.0.0.1:5432/6379 when they answer, otherwise throwaway ones started here (and stopped by
# PID on exit). In CI (CI=true) nothing may be skipped: a missing server is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="$PWD/.test-services"
mkdir -p "$STATE"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  if [ -f "$STATE/pg/data/postmaster.pid" ]; then
    su postgres -c "$PG_BIN/pg_ctl -D $STATE/pg/data -m fast -w stop" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1',$1)))"; }

missing=()
if [ -z "${VESTRY_TEST_POSTGRES_URL:-}" ]; then
  if port_open 5432; then
    export VESTRY_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$PG_BIN" ] && id postgres >/dev/null 2>&1; then
      port=$(free_port)
      rm -rf "$STATE/pg"; mkdir -p "$STATE/pg"; chown postgres "$STATE/pg"
      su postgres -c "$PG_BIN/initdb -D $STATE/pg/data -U postgres -A trust -E UTF8" >/dev/null
      su postgres -c "$PG_BIN/pg_ctl -D $STATE/pg/data -l $STATE/pg/log -o '-p $port -k $STATE/pg -c listen_addresses=127.0.0.1 -c fsync=off' -w start" >/dev/null
      export VESTRY_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
      echo "run-tests: started a throwaway PostgreSQL on port $port"
    else
      missing+=(PostgreSQL)
    fi
  fi
fi
if [ -z "${VESTRY_TEST_REDIS_URL:-}" ]; then
  if port_open 6379; then
    export VESTRY_TEST_REDIS_URL="redis://127.0.0.1:6379/0"
  elif command -v redis-server >/dev/null; then
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      >"$STATE/redis.log" 2>&1 &
    PIDS+=($!)
    export VESTRY_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
    echo "run-tests: started a throwaway Redis on port $port"
  else
    missing+=(Redis)
  fi
fi
# The compose file is validated offline with compose v1 (Debian's docker-compose): no engine needed.
if ! command -v docker-compose >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run-tests: installing docker-compose (apt) to validate docker-compose.yml"
    (apt-get install -y -qq docker-compose >/dev/null 2>&1 ||
      (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq docker-compose >/dev/null 2>&1)) ||
      missing+=(docker-compose)
  else
    missing+=(docker-compose)
  fi
fi
# The web UI's browser tests drive Debian's Chromium (Playwright's own download does not work here).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run-tests: installing chromium (apt) for the browser tests"
    (apt-get install -y -qq chromium >/dev/null 2>&1 ||
      (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) ||
      missing+=(chromium)
  else
    missing+=(chromium)
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "run-tests: ${missing[*]} not available, and CI may skip nothing" >&2
    exit 1
  fi
  echo "run-tests: ${missing[*]} not available here: those tests are skipped (install them to run all)"
fi
if [ "${CI:-}" = "true" ]; then
  export VESTRY_TEST_STRICT=1   # conftest turns any skip into a failure
fi
python -m pytest -n "${PYTEST_WORKERS:-2}" --durations=10 "$@"
