#!/usr/bin/env bash
# Low-Latency HLS against MediaMTX, side by side in one run (issue #10,
# docs/benchmarks.md). Four parts, chosen with PARTS (default: all, in this
# order):
#   idle     CPU-s per minute of stream and RSS with no viewers: salon -part 0,
#            salon -part 200ms, MediaMTX fmp4, MediaMTX lowLatency, in
#            interleaved rounds (ROUNDS), a fresh server per round
#   ll       LL viewers (salon-bench -mode ll) at increasing N (LL_STEPS):
#            salon vs MediaMTX, each a fresh server
#   classic  classic viewers at increasing N (CLASSIC_STEPS): salon built from
#            main (before LL) vs this salon (LL on: same playlist, read as
#            classic HLS), each a fresh server
#   latency  arrival-to-display latency in headless Chromium with hls.js
#            (salon-bench browser-latency): salon LL, salon classic (-part 0)
#            and MediaMTX LL, all three up at once, played one at a time
#
# MediaMTX comes from bench/mediamtx.sh (built outside the repository once;
# MTX_DIR, default /work/ext). Never run in CI: it takes ~25 minutes and all
# of a 2-core machine.
#
#   bench/ll.sh
#   PARTS="idle latency" ROUNDS="salon-ll mtx-ll" IDLE=30 bench/ll.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
PARTS=${PARTS:-idle ll classic latency}
ROUNDS=${ROUNDS:-salon-classic salon-ll mtx-fmp4 mtx-ll mtx-ll mtx-fmp4 salon-ll salon-classic}
IDLE=${IDLE:-45}                             # seconds measured per idle round
LL_STEPS=${LL_STEPS:-500,1000,1500,2500}
CLASSIC_STEPS=${CLASSIC_STEPS:-1000,2000}
STEP_DURATION=${STEP_DURATION:-45s}
STEP_RAMP=${STEP_RAMP:-15s}
LAT_DURATION=${LAT_DURATION:-60s}
MEDIA=${MEDIA:-1080p}                        # 1080p (4 Mbit/s) or 360p (0.5 Mbit/s) for idle, ll, classic
LAT_MEDIA=${LAT_MEDIA:-360p}                 # the browser decodes it: keep it light
SALON_HTTP=127.0.0.1:${SALON_HTTP_PORT:-18080}
SALON_RTSP=127.0.0.1:${SALON_RTSP_PORT:-18554}
SALON2_HTTP=127.0.0.1:18081                  # the second salon of the latency part (-part 0)
SALON2_RTSP=127.0.0.1:18555
MTX_HTTP=127.0.0.1:${MTX_HLS_PORT:-28888}
MTX_RTSP=127.0.0.1:${MTX_RTSP_PORT:-28554}
KEY=bench-key-$$

bench_build
MTX=$(MTX_HLS_PORT=${MTX_HTTP##*:} MTX_RTSP_PORT=${MTX_RTSP##*:} bench/mediamtx.sh)
MTX_DIR=$(dirname "$MTX")
bench_media bench.mp4 1920x1080 4M 128k
bench_media bench-360p.mp4 640x360 500k 64k
media_file() { if [[ $1 == 360p ]]; then echo "$OUT/bench-360p.mp4"; else echo "$OUT/bench.mp4"; fi; }
trap bench_cleanup EXIT

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# start_server KIND [HTTP RTSP] → sets SERVER (pid) and URL (the playlist).
# KIND: salon-classic, salon-ll, salon-main (built from main), mtx-fmp4, mtx-ll.
start_server() {
  local kind=$1 http=${2:-$SALON_HTTP} rtsp=${3:-$SALON_RTSP} bin=$OUT/salon part=200ms
  case $kind in
  mtx-*)
    "$MTX" "$MTX_DIR/mediamtx-${kind#mtx-}.yml" >"$OUT/$kind.log" 2>&1 &
    SERVER=$!
    URL=http://$MTX_HTTP/live/main/index.m3u8
    PUBLISH=rtsp://$MTX_RTSP/live/main
    for _ in $(seq 100); do (echo >"/dev/tcp/${MTX_RTSP%:*}/${MTX_RTSP##*:}") 2>/dev/null && break; sleep 0.1; done
    ;;
  salon-*)
    [[ $kind == salon-classic ]] && part=0
    local partflag=(-part "$part")
    if [[ $kind == salon-main ]]; then bin=$OUT/salon-main; partflag=(); fi
    local data
    data=$(mktemp -d)
    tmps+=("$data")
    # The load tool is one address standing for many viewers (a venue's
    # NAT): named as shared so that the per-address limits do not apply.
    "$bin" -http "$http" -rtsp "$rtsp" -rtmp "" -data "$data" -publish-key "$KEY" "${partflag[@]}" \
      -chat-shared-nets 127.0.0.0/8 -log-level warn >"$OUT/$kind.log" 2>&1 &
    SERVER=$!
    URL=http://$http/live/main/index.m3u8
    PUBLISH="rtsp://$rtsp/live/main?key=$KEY"
    wait_healthy "$http"
    ;;
  esac
  pids+=("$SERVER")
}

# publish FILE → sets PUBLISHER; waits until the playlist lists a segment.
publish() {
  ffmpeg -v error -re -stream_loop -1 -i "$1" -c copy -f rtsp -rtsp_transport tcp "$PUBLISH" 2>>"$OUT/ffmpeg.log" &
  PUBLISHER=$!
  pids+=("$PUBLISHER")
  for _ in $(seq 300); do
    curl -sfL -o /dev/null --max-time 5 "$URL" && return
    sleep 0.1
  done
  echo "no playlist at $URL after 30 s" >&2
  return 1
}

stop() { kill "$@" 2>/dev/null || true; wait "$@" 2>/dev/null || true; }

part_idle() {
  echo "## idle: CPU-s per minute of stream and RSS, 0 viewers, ${IDLE}s per round, $MEDIA"
  for kind in $ROUNDS; do
    start_server "$kind"
    publish "$(media_file "$MEDIA")"
    sleep 10 # past start-up, window filling
    local hz c0 c1 s0 s1 la
    hz=$(getconf CLK_TCK)
    c0=$(cpu_ticks "$SERVER"); s0=$(date +%s.%N)
    sleep "$IDLE"
    c1=$(cpu_ticks "$SERVER"); s1=$(date +%s.%N)
    la=$(cut -d' ' -f1 /proc/loadavg)
    printf '%-14s %6.2f CPU-s/min  RSS %4d MiB  peak %4d MiB  load %s\n' "$kind" \
      "$(echo "($c1 - $c0) / $hz / ($s1 - $s0) * 60" | bc -l)" \
      "$(($(status_kb "$SERVER" VmRSS) / 1024))" "$(($(status_kb "$SERVER" VmHWM) / 1024))" "$la"
    stop "$PUBLISHER" "$SERVER"
  done
}

ramp() { # KIND MODE STEPS
  start_server "$1"
  publish "$(media_file "$MEDIA")"
  sleep 6
  echo "### $1, $2 viewers ($MEDIA), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "$OUT/salon-bench" ramp -url "$URL" -mode "$2" -steps "$3" -duration "$STEP_DURATION" -ramp "$STEP_RAMP" \
    -pause 10s -pid "$SERVER" || true
  echo "    load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  stop "$PUBLISHER" "$SERVER"
}

part_ll() {
  echo "## LL viewers: salon vs MediaMTX, steps $LL_STEPS, $STEP_DURATION each (ramp $STEP_RAMP)"
  ramp salon-ll ll "$LL_STEPS"
  ramp mtx-ll ll "$LL_STEPS"
}

part_classic() {
  echo "## classic viewers: salon main (before LL) vs this salon (LL on, read as classic), steps $CLASSIC_STEPS"
  local src=$OUT/main-src
  rm -rf "$src" && mkdir -p "$src"
  git archive main | tar -x -C "$src"
  (cd "$src" && go build -o "../salon-main" ./cmd/salon)
  echo "salon-main is main at $(git rev-parse --short main)"
  ramp salon-main classic "$CLASSIC_STEPS"
  ramp salon-ll classic "$CLASSIC_STEPS"
}

part_latency() {
  echo "## arrival-to-display latency, hls.js in headless Chromium, $LAT_MEDIA, $LAT_DURATION per target"
  local file urls=()
  file=$(media_file "$LAT_MEDIA")
  start_server salon-ll; publish "$file"; urls+=("salon-ll=$URL,ll")
  start_server salon-classic "$SALON2_HTTP" "$SALON2_RTSP"; publish "$file"; urls+=("salon-classic=$URL")
  start_server mtx-ll; publish "$file"; urls+=("mtx-ll=$URL,ll")
  sleep 6
  local args=()
  for u in "${urls[@]}"; do args+=(-target "$u"); done
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$OUT/salon-bench" browser-latency "${args[@]}" -duration "$LAT_DURATION" -rounds "${LAT_ROUNDS:-1}" -json \
    | tee "$OUT/latency.jsonl" | jq -r '[.name, .round, .samples, .p50_ms, .p95_ms, .min_ms, .max_ms, .stalls,
        (.stall_ms | round), .parts_loaded, .fragments_loaded, .hlsjs_latency_s, (.errors // [] | join(" "))] | @tsv' || true
  echo "(columns: target round samples p50 p95 min max stalls stalled_ms parts fragments hlsjs_latency_s errors; JSON with start and stall logs in $OUT/latency.jsonl)"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

for p in $PARTS; do "part_$p"; done
