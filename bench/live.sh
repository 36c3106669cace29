#!/usr/bin/env bash
# Measures salon's live path on this machine (docs/benchmarks.md):
#   1. first playable playlist after the publisher starts,
#   2. CPU seconds per minute of stream and RSS with no viewers,
#   3. ingest-to-playlist latency quantiles (from salon's /metrics),
#   4. simulated viewers at increasing N (salon-bench ramp).
# One 1080p30 ~4 Mbit/s H.264+AAC file, encoded once, is published with -c copy
# so that no encoder shares the CPU. Everything runs on loopback and stops by itself.
#
#   bench/live.sh                       # defaults below
#   IDLE=60 STEPS=500,1500 bench/live.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
IDLE=${IDLE:-120}                          # seconds of idle measurement
STEPS=${STEPS-250,500,1000,1500,2000}      # viewer counts for the ramp; empty: no viewers
STEP_DURATION=${STEP_DURATION:-60s}
STEP_RAMP=${STEP_RAMP:-20s}
HTTP=127.0.0.1:${HTTP_PORT:-18080}
RTSP=127.0.0.1:${RTSP_PORT:-18554}
KEY=bench-key-$$

bench_build
bench_media bench.mp4 1920x1080 4M 128k

data=$(mktemp -d)
tmps+=("$data")
trap bench_cleanup EXIT

# The load tool is one address standing for many viewers: like a venue's
# NAT, it is named as shared so the per-address HTTP limits do not apply.
"$OUT/salon" -http "$HTTP" -rtsp "$RTSP" -rtmp "" -data "$data" -publish-key "$KEY" -chat-shared-nets 127.0.0.0/8 \
  -log-level warn >"$OUT/salon.log" 2>&1 &
SALON=$!
pids+=("$SALON")
wait_healthy "$HTTP"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

t0=$(date +%s.%N)
ffmpeg -v error -re -stream_loop -1 -i "$OUT/bench.mp4" -c copy \
  -f rtsp -rtsp_transport tcp "rtsp://$RTSP/live/main?key=$KEY" 2>"$OUT/ffmpeg.log" &
pids+=("$!")
# The playlist request blocks until the first segment exists; before the
# publish is announced the stage is unknown (404), so retry quickly.
until curl -sf -o /dev/null --max-time 20 "http://$HTTP/live/main/index.m3u8"; do sleep 0.02; done
t1=$(date +%s.%N)
echo "first playable playlist: $(echo "($t1 - $t0) * 1000" | bc -l | xargs printf '%.0f') ms after the publisher started (2 s GOP)"

sleep 10 # let the window fill
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks "$SALON"); s0=$(date +%s.%N)
sleep "$IDLE"
c1=$(cpu_ticks "$SALON"); s1=$(date +%s.%N)
echo "idle (0 viewers): $(echo "($c1 - $c0) / $hz / ($s1 - $s0) * 60" | bc -l | xargs printf '%.2f') CPU-s per minute of stream," \
  "RSS $(( $(status_kb "$SALON" VmRSS) / 1024 )) MiB (peak $(( $(status_kb "$SALON" VmHWM) / 1024 )) MiB)"
"$OUT/salon-bench" latency -url "http://$HTTP/metrics"

[[ -n $STEPS ]] || exit 0
"$OUT/salon-bench" ramp -url "http://$HTTP/live/main/index.m3u8" -steps "$STEPS" \
  -duration "$STEP_DURATION" -ramp "$STEP_RAMP" -pid "$SALON"
"$OUT/salon-bench" latency -url "http://$HTTP/metrics"
