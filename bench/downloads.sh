#!/usr/bin/env bash
# Downloads side by side, interleaved: `vestry up` sending blob files itself (sendfile), `vestry up`
# streaming them from storage over gRPC (VESTRY_GATEWAY_LOCAL_BLOBS=false), and nginx serving the
# same file; the harness's download_load.py (the corpus's 18 MB numpy wheel, c=8) for each, and
# the CPU time all of Vestry's processes (or nginx's) spent per GB sent: the figure that holds
# when the machine is shared and MB/s swings from run to run.
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
cpu_ticks() {  # user+system clock ticks of these PIDs and their children
  local total=0 pid
  for pid in "$@" $(pgrep -P "$(echo "$@" | tr ' ' ,)" || true); do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
measure() {  # label simple-url user password pid...: MB/s and CPU s per GB
  local label=$1 url=$2 user=$3 pass=$4; shift 4
  local before after line
  before=$(cpu_ticks "$@")
  line=$(cd "$bench" && python3 download_load.py "$url" --user "$user" --password "$pass")
  after=$(cpu_ticks "$@")
  python3 - "$label" "$line" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import json, sys
label, line, before, after, hz = sys.argv[1], json.loads(sys.argv[2]), *map(int, sys.argv[3:])
cpu = (after - before) / hz
print(f"{label}: {line['MB_per_s']} MB/s, {cpu / (line['bytes'] / 1e9):.2f} CPU s per GB")
PY
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
    measure "$label round $r" http://127.0.0.1:8092/simple/ __token__ "$token" "$up_pid"
    stop_up
  done
  measure "nginx round $r" "$nginx_simple" bench bench-pass $(cat /tmp/bench/state/nginx-nginx/nginx.pid)
done
