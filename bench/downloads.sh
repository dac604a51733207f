#!/usr/bin/env bash
# Downloads side by side, interleaved: `vestry up` sending blob files itself (sendfile), `vestry up`
# streaming them from storage over gRPC (VESTRY_GATEWAY_LOCAL_BLOBS=false), and nginx serving the
# same file; the harness's download_load.py (the corpus's 18 MB numpy wheel, c=8) for each.
#   bench/downloads.sh [ROUNDS]     (default 3; needs the harness's setup_peers.sh and make_corpus.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_HARNESS:-$here/../shared/bench}
rounds=${1:-3}
corpus=${BENCH_CORPUS:-/tmp/bench/corpus}
export RESULTS_DIR=${RESULTS_DIR:-/tmp/bench/results/downloads-$(date +%Y%m%dT%H%M%S)}
mkdir -p "$RESULTS_DIR"
data=$(mktemp -d)
up_pid=""
stop_up() { [ -z "$up_pid" ] || { kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; }; up_pid=""; }
trap 'stop_up; (cd "$bench" && ./peers.sh stop nginx >/dev/null 2>&1) || true; rm -rf "$data"' EXIT
start_up() {  # local-blobs setting: one data dir, so both modes serve the very same blob
  VESTRY_GATEWAY_LOCAL_BLOBS=$1 "$here/.venv/bin/vestry" up --data-dir "$data/vestry" --port 8092 \
    >"$RESULTS_DIR/vestry-up-$1.log" 2>&1 &
  up_pid=$!
  for _ in $(seq 150); do grep -q "Vestry is running" "$RESULTS_DIR/vestry-up-$1.log" && return; sleep 0.2; done
  echo "vestry up did not start" >&2; exit 1
}
wheel=$(ls -S "$corpus" | head -n 1)
start_up true
token=$("$here/.venv/bin/vestry" admin create-user bench --data-dir "$data/vestry" | tail -n 1)
PIP_CONFIG_FILE=/dev/null "${BENCH_PY:-/tmp/bench/venv-tools/bin/python}" -m twine upload --disable-progress-bar \
  --repository-url http://127.0.0.1:8092/legacy/ -u __token__ -p "$token" "$corpus/$wheel" >/dev/null
stop_up
read -r nginx_simple _ < <(cd "$bench" && ./peers.sh start nginx)
for r in $(seq "$rounds"); do
  for mode in true false; do
    start_up "$mode"
    label=$([ "$mode" = true ] && echo vestry-sendfile || echo vestry-grpc)
    echo "$label round $r: $(cd "$bench" && python3 download_load.py http://127.0.0.1:8092/simple/ \
      --user __token__ --password "$token" | grep -o '"MB_per_s": [0-9.]*')"
    stop_up
  done
  echo "nginx round $r: $(cd "$bench" && BENCH_USER=bench BENCH_PASS=bench-pass python3 download_load.py \
    "$nginx_simple" | grep -o '"MB_per_s": [0-9.]*')"
done
