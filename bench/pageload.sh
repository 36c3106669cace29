#!/usr/bin/env bash
# Page weight and time to the first video frame of the live page on an
# emulated Regular 3G connection (docs/benchmarks.md, issue 12): salon runs
# on loopback, ffmpeg publishes a phone-friendly stream (640x360, 400 kbit/s,
# 2 s GOP) with -c copy, and salon-bench page-load opens /live/main in fresh
# headless Chromium browsers with the cache off.
#
#   bench/pageload.sh                        # this tree
#   SALON=/path/to/old/salon bench/pageload.sh   # another build, e.g. before a change
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
RUNS=${RUNS:-5}
HTTP=127.0.0.1:${HTTP_PORT:-18090}
RTSP=127.0.0.1:${RTSP_PORT:-18564}
KEY=bench-key-$$

bench_build
SALON=${SALON:-$OUT/salon}
bench_media pageload.mp4 640x360 400k 64k

data=$(mktemp -d)
tmps+=("$data")
trap bench_cleanup EXIT

"$SALON" -http "$HTTP" -rtsp "$RTSP" -rtmp "" -data "$data" -publish-key "$KEY" \
  -log-level warn >"$OUT/salon-pageload.log" 2>&1 &
pids+=($!)
wait_healthy "$HTTP"

ffmpeg -v error -re -stream_loop -1 -i "$OUT/pageload.mp4" -c copy -f rtsp -rtsp_transport tcp \
  "rtsp://$RTSP/live/main?key=$KEY" &
pids+=($!)
# Three segments in the playlist, so every run joins a stage that has been live a while.
for _ in $(seq 200); do
  [[ $(curl -sf "http://$HTTP/live/main/index.m3u8" | grep -c '#EXTINF' || true) -ge 3 ]] && break
  sleep 0.1
done

"$OUT/salon-bench" page-load -url "http://$HTTP/live/main" -runs "$RUNS"
