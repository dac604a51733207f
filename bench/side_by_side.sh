#!/usr/bin/env bash
# Vestry next to its peers, in one sitting, with the benchmark harness (BENCH_HARNESS):
#   bench/side_by_side.sh [PEER...]        (default: pypiserver nginx)
# Starts `vestry up` on a fresh data dir (port 8090), runs the whole harness against it with a
# token, then the same harness against each peer (which the harness starts and stops itself),
# and prints one table of all runs. Needs the harness's setup_peers.sh and make_corpus.sh run once.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_HARNESS:-$here/../shared/bench}
peers=${*:-pypiserver nginx}
export RESULTS_DIR=${RESULTS_DIR:-/tmp/bench/results/side-by-side-$(date +%Y%m%dT%H%M%S)}
mkdir -p "$RESULTS_DIR"
data=$(mktemp -d)
"$here/.venv/bin/vestry" up --data-dir "$data/vestry" --port 8090 >"$RESULTS_DIR/vestry-up.log" 2>&1 &
up_pid=$!
trap 'kill $up_pid 2>/dev/null || true; wait $up_pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do grep -q "Vestry is running" "$RESULTS_DIR/vestry-up.log" && break; sleep 0.2; done
token=$("$here/.venv/bin/vestry" admin create-user bench --data-dir "$data/vestry" | tail -n 1)
(cd "$bench" && BENCH_USER=__token__ BENCH_PASS=$token ./run_all.sh vestry \
  http://127.0.0.1:8090/simple/ http://127.0.0.1:8090/legacy/)
kill $up_pid; wait $up_pid || true
export BENCH_USER=bench BENCH_PASS=bench-pass
for p in $peers; do
  read -r simple upload < <(cd "$bench" && ./peers.sh start "$p")
  (cd "$bench" && ./run_all.sh "$p" "$simple" "$upload") || echo "!! run failed: $p"
  (cd "$bench" && ./peers.sh stop "$p")
done
"$bench/summarize.py" table "$RESULTS_DIR"/*.json
