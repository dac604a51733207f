#!/usr/bin/env bash
# Vestry next to its peers, in one sitting, with the benchmark harness (BENCH_HARNESS):
#   bench/side_by_side.sh [--reps N] [PEER...]
#     (default: 1 rep of pypiserver devpi peryx-mirror-private nginx; --reps 3 for figures to publish)
# Runs are interleaved: vestry, peer1, peer2, ..., then again, N times. Each run starts its server
# on fresh state: `vestry up` on a new data dir, with a user's token and its projects private
# (created so by the first upload), or the peer as the harness's peers.sh starts it. Every run is
# the harness's run_all.sh (upload, pages, root, download, pip/uv install) with pip's Accept
# header on every request. Memory of the server's processes is read after start and after the
# run (bench/memory.py). At the end, bench/compare.py prints medians, Vestry/peer ratios, the
# issue #13 bars met or not, and memory; all saved in RESULTS_DIR (table.md).
# Env: DURATION (s per load step, default 10), RUNS (install repetitions, default 3),
#      RUN_TIMEOUT (s, default 900: a run that takes longer is stopped and counted failed),
#      VESTRY_BENCH_PORT (default 8090), BENCH_HARNESS, RESULTS_DIR.
# Needs the harness's setup_peers.sh and make_corpus.sh run once (/tmp/bench).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_HARNESS:-$here/../shared/bench}
py=$here/.venv/bin/python
vestry=$here/.venv/bin/vestry
reps=1
if [ "${1:-}" = --reps ]; then reps=$2; shift 2; fi
peers=${*:-pypiserver devpi peryx-mirror-private nginx}
port=${VESTRY_BENCH_PORT:-8090}
export DURATION=${DURATION:-10} RUNS=${RUNS:-3}
# What pip sends (pip/_internal/index/collector.py); benchlib puts BENCH_ACCEPT on every request.
export BENCH_ACCEPT="application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
export RESULTS_DIR=${RESULTS_DIR:-/tmp/bench/results/side-by-side-$(date +%Y%m%dT%H%M%S)}
mkdir -p "$RESULTS_DIR"
mem=$RESULTS_DIR/memory.jsonl
state=${BENCH_DIR:-/tmp/bench}/state

[ -x "${BENCH_PY:-/tmp/bench/venv-tools/bin/python}" ] && [ -d "${BENCH_CORPUS:-/tmp/bench/corpus}" ] ||
  { echo "run $bench/setup_peers.sh and $bench/make_corpus.sh first" >&2; exit 2; }
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "port $port is taken (VESTRY_BENCH_PORT chooses another)" >&2; exit 2
fi

up_pid="" data=""
stop_vestry() {
  if [ -n "$up_pid" ]; then kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
  up_pid=""
  if [ -n "$data" ]; then rm -rf "$data"; fi
  data=""
}
# shellcheck disable=SC2086
trap 'stop_vestry; for p in $peers; do (cd "$bench" && ./peers.sh stop "$p") || true; done' EXIT

run() {  # label rep simple upload: run_all.sh, bounded by RUN_TIMEOUT
  (cd "$bench" && timeout "${RUN_TIMEOUT:-900}" ./run_all.sh "$1" "$3" "$4") ||
    echo "!! run failed: $1 rep $2"
}

run_vestry() {  # rep
  data=$(mktemp -d /tmp/bench-vestry.XXXXXX)
  local log=$RESULTS_DIR/vestry-up-$1.log token
  # Private is the default already; said here so that a changed default cannot make reads public.
  VESTRY_INDEX_DEFAULT_VISIBILITY=private "$vestry" up --data-dir "$data/vestry" --port "$port" >"$log" 2>&1 &
  up_pid=$!
  for _ in $(seq 300); do
    grep -q "Vestry is running" "$log" && break
    kill -0 "$up_pid" 2>/dev/null || { cat "$log" >&2; echo "!! vestry up exited" >&2; return 1; }
    sleep 0.2
  done
  grep -q "Vestry is running" "$log" || { echo "!! vestry up not ready in 60 s" >&2; return 1; }
  token=$("$vestry" admin create-user bench --data-dir "$data/vestry" | tail -n 1)
  case $token in vestry-*) ;; *) echo "!! no token from create-user" >&2; return 1 ;; esac
  "$py" "$here/bench/memory.py" vestry "$1" idle "$up_pid" >>"$mem"
  BENCH_USER=__token__ BENCH_PASS=$token run vestry "$1" \
    "http://127.0.0.1:$port/simple/" "http://127.0.0.1:$port/legacy/"
  "$py" "$here/bench/memory.py" vestry "$1" after "$up_pid" >>"$mem"
  # The figures are those of private projects only if the uploads made them so.
  VESTRY_URL=http://127.0.0.1:$port VESTRY_TOKEN=$token "$vestry" project show requests --json |
    "$py" -c 'import json, sys; v = json.load(sys.stdin)["visibility"]; print("vestry: requests is", v)
sys.exit(v != "private")' || echo "!! vestry rep $1: projects are not private"
  stop_vestry
}

run_peer() {  # name rep
  local simple upload
  read -r simple upload < <(cd "$bench" && ./peers.sh start "$1") || { echo "!! $1 did not start"; return 0; }
  # shellcheck disable=SC2046
  "$py" "$here/bench/memory.py" "$1" "$2" idle $(cat "$state/$1.pid") >>"$mem"
  BENCH_USER=${BENCH_USER:-bench} BENCH_PASS=${BENCH_PASS:-bench-pass} run "$1" "$2" "$simple" "$upload"
  # shellcheck disable=SC2046
  "$py" "$here/bench/memory.py" "$1" "$2" after $(cat "$state/$1.pid") >>"$mem"
  (cd "$bench" && ./peers.sh stop "$1")
}

for rep in $(seq "$reps"); do
  echo "== rep $rep/$reps: vestry"
  run_vestry "$rep" || stop_vestry
  for p in $peers; do
    echo "== rep $rep/$reps: $p"
    run_peer "$p" "$rep"
  done
done
"$py" "$here/bench/compare.py" "$RESULTS_DIR" --harness "$bench" | tee "$RESULTS_DIR/table.md"
