#!/usr/bin/env bash
# Measures salon's chat on this machine (docs/benchmarks.md, "Chat"): for each
# case a fresh salon (no HLS ingest) and one run of `salon-bench chat` against
# stage "main", on loopback, with the per-IP limits on. Results go to
# $OUT/chat-CASE.json and a table on stdout.
#
#   bench/chat.sh                          # every case, 60 s of sending each
#   CASES="n1000 idle" DURATION=20s bench/chat.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench-out}
DURATION=${DURATION:-60s}
CASES=${CASES:-"n1000 n10000 n5000 idle n5000-stalled"}
HTTP=127.0.0.1:${HTTP_PORT:-18081}
DEBUG=${DEBUG_ADDR:-}          # e.g. 127.0.0.1:6061 to profile salon during a case
TOOL_FLAGS=${TOOL_FLAGS:-}     # extra salon-bench chat flags, e.g. "-cpuprofile bench-out/tool.pprof"
SALON_ENV=${SALON_ENV:-}       # environment for salon, e.g. "GODEBUG=gctrace=1"
LOG_LEVEL=${LOG_LEVEL:-warn}   # salon's -log-level
SALON_BIN=${SALON_BIN:-}       # a salon binary to measure instead of building this tree's (e.g. an older commit's)

# Each viewer is one file descriptor in salon and one in the tool; Go raises
# the soft limit to the hard one by itself, so the hard limit must allow it.
if (( $(ulimit -Hn) < 10100 )); then
  echo "the open-files hard limit ($(ulimit -Hn)) is below 10,100: raise it (ulimit -Hn, limits.conf)" >&2
  exit 1
fi

mkdir -p "$OUT"
if [[ -n $SALON_BIN ]]; then cp "$SALON_BIN" "$OUT/salon"; else go build -o "$OUT/salon" ./cmd/salon; fi
go build -o "$OUT/salon-bench" ./cmd/salon-bench

data=$(mktemp -d)
SALON=
stop_salon() {
  if [[ -n $SALON ]]; then kill "$SALON" 2>/dev/null || true; wait "$SALON" 2>/dev/null || true; fi
  SALON=
}
trap 'stop_salon; rm -rf "$data"' EXIT

run_case() {
  local name=$1; shift
  rm -rf "${data:?}"/*
  local debug=()
  [[ -n $DEBUG ]] && debug=(-debug-addr "$DEBUG")
  env $SALON_ENV "$OUT/salon" -http "$HTTP" -rtsp "" -rtmp "" -data "$data" -log-level "$LOG_LEVEL" "${debug[@]}" \
    -admin-token bench-admin-token >"$OUT/salon-chat-$name.log" 2>&1 &
  SALON=$!
  for _ in $(seq 100); do curl -sf "http://$HTTP/healthz" >/dev/null && break; sleep 0.1; done
  # A stage has a chat room once it is live or has talks: give main a talk.
  curl -sf -H "Authorization: Bearer bench-admin-token" -H "Content-Type: application/json" -d '{"title":"Chat benchmark","stage":"main"}' \
    "http://$HTTP/api/talks" >/dev/null
  sleep 1 # let start-up settle before the baseline RSS
  echo "== $name: salon-bench chat $*"
  "$OUT/salon-bench" chat -url "http://$HTTP" -pid "$SALON" -json $TOOL_FLAGS "$@" >"$OUT/chat-$name.json" || true
  stop_salon
  python3 - "$OUT/chat-$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("salon") or {}
print(f"  connected {r['connected']}/{r['viewers']} in {r['connect_total_seconds']:.1f} s (p50 {r['connect_ms']['p50']:.0f} ms, p99 {r['connect_ms']['p99']:.0f} ms)")
print(f"  sent {r['sent']}, refused {r['refused']}, latency p50 {r['latency_ms']['p50']:.1f} ms p99 {r['latency_ms']['p99']:.1f} ms max {r['latency_ms']['max']:.0f} ms")
print(f"  lost {r['lost']} of {r['expected']}; readers dropped {r['readers_dropped']} {r.get('readers_dropped_why') or ''}; stalled dropped {r['stalled_dropped']}/{r['stalled']}")
if s:
    print(f"  salon CPU load {s['cpu_seconds_load']:.1f} s ({s['cpu_percent_load']:.0f}% of a core), RSS baseline {s['rss_baseline_bytes']/2**20:.1f} MiB idle {s['rss_idle_bytes']/2**20:.1f} MiB end {s['rss_end_bytes']/2**20:.1f} MiB peak {s['peak_rss_bytes']/2**20:.1f} MiB, {s['rss_per_idle_conn_bytes']/1024:.1f} KiB per idle connection")
t = r["tool"]
print(f"  tool {t['cpu_seconds_per_minute']:.1f} CPU-s/min, RSS {t['rss_bytes']/2**20:.0f} MiB")
PY
}

for c in $CASES; do
  case $c in
    n1000)         run_case n1000 -n 1000 -senders 100 -rate 50 -duration "$DURATION" ;;
    n10000)        run_case n10000 -n 10000 -senders 100 -rate 10 -duration "$DURATION" ;;
    n5000)         run_case n5000 -n 5000 -senders 100 -rate 50 -duration "$DURATION" ;;
    idle)          run_case idle -n 10000 -senders 0 -rate 0 -duration 5s -settle 10s ;;
    n5000-stalled) run_case n5000-stalled -n 5000 -senders 100 -rate 50 -stalled 0.05 -duration "$DURATION" ;;
    *) echo "unknown case $c (n1000 n10000 n5000 idle n5000-stalled)" >&2; exit 2 ;;
  esac
done
