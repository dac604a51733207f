#!/usr/bin/env bash
# Warm reads before and after, back to back (docs/performance.md, "Warm reads"):
#   bench/warm_reads.sh BEFORE_VENV AFTER_VENV      e.g. ../main/.venv .venv
# For each venv: `vestry up` on a fresh data dir, the corpus uploaded with a token, then the
# harness's simple_load.py and index_root_load.py (pip's Accept header, token-authenticated),
# and each process's resident memory. DURATION (default 5) s per step; BENCH_HARNESS as in
# side_by_side.sh. Each line printed is one metric as JSON, labelled with its venv.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_HARNESS:-$here/../shared/bench}
py=${BENCH_PY:-/tmp/bench/venv-tools/bin/python}
export DURATION=${DURATION:-5}
export BENCH_ACCEPT=${BENCH_ACCEPT:-"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"}
port=${PORT:-8094}
run() {
  local label=$1 venv=$2 data up_pid token
  data=$(mktemp -d)
  "$venv/bin/vestry" up --data-dir "$data/vestry" --port "$port" >"$data/up.log" 2>&1 &
  up_pid=$!
  for _ in $(seq 150); do grep -q "Vestry is running" "$data/up.log" && break; sleep 0.2; done
  token=$("$venv/bin/vestry" admin create-user bench --data-dir "$data/vestry" | tail -n 1)
  export BENCH_USER=__token__ BENCH_PASS=$token
  (cd "$bench" && "$py" upload.py "http://127.0.0.1:$port/legacy/" >/dev/null)
  for script in simple_load.py index_root_load.py; do
    (cd "$bench" && "$py" "$script" --duration "$DURATION" "http://127.0.0.1:$port/simple/") |
      sed "s/^{/{\"label\": \"$label\", /"
  done
  echo "{\"label\": \"$label\", \"metric\": \"rss_kb_after\", \"kb\": $(ps -o rss= --ppid "$up_pid" | awk '{s+=$1} END {print s}')}"
  kill "$up_pid"; wait "$up_pid" || true
  rm -rf "$data"
}
run before "$1"
run after "$2"
