#!/usr/bin/env bash
# Measures the chat of three salon nodes that share it over a NATS cluster
# (docs/benchmarks.md, "Chat on three nodes"): three nats-server with
# JetStream and routes, three salons with -nats and one archive, all on
# loopback; `salon-bench chat` spreads the viewers over the three nodes.
#
#   bench/chat_nodes.sh                 # both cases
#   CASES=steady N=3000 bench/chat_nodes.sh
#
# Cases: steady  N viewers, 10 msg/s for $DURATION: latency within a node
#                and across nodes, lost messages, CPU per node;
#        kill    the same load, node 1 killed (SIGKILL) 10 s into sending:
#                how soon its viewers are back on the other nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-60s}
N=${N:-9000}
RATE=${RATE:-10}
SENDERS=${SENDERS:-30}
GRACE=${GRACE:-30s}   # wait for deliveries after the last message: more than the p99 of a loaded machine
CASES=${CASES:-"steady kill"}
BASE=${BASE_PORT:-18300}
NATS_BIN=${SALON_NATS_SERVER:-${XDG_CACHE_HOME:-$HOME/.cache}/salon/bin/nats-server}
LOG_LEVEL=${LOG_LEVEL:-warn}
[[ -x $NATS_BIN ]] || { echo "no nats-server at $NATS_BIN: .ci/run installs it, or set SALON_NATS_SERVER" >&2; exit 1; }
if (( $(ulimit -Hn) < N + 200 )); then
  echo "the open-files hard limit ($(ulimit -Hn)) is below $((N + 200)): raise it" >&2
  exit 1
fi
trap bench_cleanup EXIT
bench_build

# start_nodes starts the NATS cluster and the salons on fresh stores;
# sets NODE_PIDS and URLS.
start_nodes() {
  local tmp; tmp=$(mktemp -d); tmps+=("$tmp")
  local routes="nats://127.0.0.1:$((BASE + 11)),nats://127.0.0.1:$((BASE + 12)),nats://127.0.0.1:$((BASE + 13))"
  NATS_URLS="nats://127.0.0.1:$((BASE + 1)),nats://127.0.0.1:$((BASE + 2)),nats://127.0.0.1:$((BASE + 3))"
  for i in 1 2 3; do
    "$NATS_BIN" --name "n$i" --addr 127.0.0.1 --port $((BASE + i)) --http_port $((BASE + 20 + i)) \
      --jetstream --store_dir "$tmp/nats$i" --cluster_name bench --cluster "nats://127.0.0.1:$((BASE + 10 + i))" \
      --routes "$routes" >"$OUT/nats$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$((BASE + 20 + i))/healthz" >/dev/null && break; sleep 0.1; done
  done
  NODE_PIDS=() URLS=()
  for i in 1 2 3; do
    local http=127.0.0.1:$((BASE + 30 + i))
    "$OUT/salon" -http "$http" -rtsp "" -rtmp "" -data "$tmp/salon$i" -archive "$tmp/archive" \
      -nats "$NATS_URLS" -node "node$i" -admin-token bench-admin-token -log-level "$LOG_LEVEL" >"$OUT/salon-node$i.log" 2>&1 &
    pids+=($!) NODE_PIDS+=($!) URLS+=("http://$http")
    wait_healthy "$http"
    if [[ $i == 1 ]]; then
      curl -sf -H "Authorization: Bearer bench-admin-token" -H "Content-Type: application/json" \
        -d '{"title":"Chat benchmark","stage":"main"}' "http://$http/api/talks" >/dev/null
    fi
  done
}

stop_nodes() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

run_case() {
  local name=$1; shift
  start_nodes
  local urls pidlist
  urls=$(IFS=,; echo "${URLS[*]}") pidlist=$(IFS=,; echo "${NODE_PIDS[*]}")
  echo "== $name: salon-bench chat -url $urls -n $N -senders $SENDERS -rate $RATE $*"
  "$OUT/salon-bench" chat -url "$urls" -pids "$pidlist" -n "$N" -senders "$SENDERS" -rate "$RATE" -duration "$DURATION" \
    -grace "$GRACE" -json -v "$@" >"$OUT/chat-nodes-$name.json" 2>"$OUT/chat-nodes-$name.err" &
  local tool=$!
  if [[ $name == kill ]]; then
    until grep -q 'msg=sending' "$OUT/chat-nodes-$name.err"; do sleep 0.2; done
    sleep 10
    echo "   killing node 1 (pid ${NODE_PIDS[0]})"
    kill -9 "${NODE_PIDS[0]}"
  fi
  wait "$tool" || true
  stop_nodes
  python3 - "$OUT/chat-nodes-$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  connected {r['connected']}/{r['viewers']} in {r['connect_total_seconds']:.1f} s; sent {r['sent']}, broadcast {r['accepted']}, refused {r['refused']}, send errors {r['send_errors']}")
for k, label in (("latency_ms", "all"), ("latency_same_node_ms", "within a node"), ("latency_cross_node_ms", "across nodes")):
    l = r.get(k)
    if l:
        print(f"  latency {label}: p50 {l['p50']:.1f} ms p99 {l['p99']:.1f} ms max {l['max']:.0f} ms ({l['count']} deliveries)")
print(f"  lost {r['lost']} of {r['expected']} (duplicates {r['duplicates']}); readers dropped {r['readers_dropped']} {r.get('readers_dropped_why') or ''}")
if r.get("reconnect_ms"):
    b = r["reconnect_ms"]
    print(f"  reconnected {r['reconnected']}: p50 {b['p50']:.0f} ms p99 {b['p99']:.0f} ms max {b['max']:.0f} ms; lost after {r.get('lost_after_reconnect', 0)}")
for i, s in enumerate(r.get("salon_nodes") or []):
    print(f"  node {i+1}: CPU load {s['cpu_seconds_load']:.1f} s ({s['cpu_percent_load']:.0f}% of a core), RSS end {s['rss_end_bytes']/2**20:.0f} MiB")
t = r["tool"]
print(f"  tool {t['cpu_seconds_per_minute']:.1f} CPU-s/min; machine {r['machine_busy_percent_load']:.0f}% busy of {r['cores']} cores")
PY
}

for c in $CASES; do
  case $c in
    steady) run_case steady ;;
    kill)   run_case kill -reconnect ;;
    *) echo "unknown case $c (steady kill)" >&2; exit 2 ;;
  esac
done
