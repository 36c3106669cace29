#!/usr/bin/env bash
# salon's CPU with 20 organiser consoles open during a live stage (issue 9,
# docs/benchmarks.md): one salon, one ffmpeg publisher (the live stage), a
# live talk, and rounds with 0 and N consoles open in headless Chromium
# (salon-bench consoles), alternating 0/N/N/0 (ABBA) so that a machine that
# gets busier or quieter during the run weighs on both alike. Only salon's
# process is measured (/proc), not the browser's.
#
#   bench/consoles.sh                         # defaults below
#   N=5 DURATION=30s ROUNDS=0,5 bench/consoles.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
N=${N:-20}
DURATION=${DURATION:-60s}
SETTLE=${SETTLE:-10s}
ROUNDS=${ROUNDS:-0,$N,$N,0}
HTTP=127.0.0.1:${HTTP_PORT:-18091}
RTSP=127.0.0.1:${RTSP_PORT:-18565}
KEY=bench-key-$$
export SALON_ADMIN_TOKEN=bench-admin-$$

bench_build
bench_media bench-360p.mp4 640x360 500k 64k
data=$(mktemp -d)
tmps+=("$data")
trap bench_cleanup EXIT

"$OUT/salon" -http "$HTTP" -rtsp "$RTSP" -rtmp "" -data "$data" -publish-key "$KEY" \
  -log-level warn >"$OUT/salon-consoles.log" 2>&1 &
salon=$!
pids+=("$salon")
wait_healthy "$HTTP"
ffmpeg -v error -re -stream_loop -1 -i "$OUT/bench-360p.mp4" -c copy \
  -f rtsp -rtsp_transport tcp "rtsp://$RTSP/live/main?key=$KEY" 2>>"$OUT/ffmpeg.log" &
pids+=("$!")
until curl -sf -o /dev/null --max-time 20 "http://$HTTP/live/main/index.m3u8"; do sleep 0.05; done
api() { curl -sS --fail-with-body -H "Authorization: Bearer $SALON_ADMIN_TOKEN" -H "Content-Type: application/json" "$@"; }
api -X POST -d '{"id":"live","title":"直播中的分享","stage":"main","speakers":[{"name":"张三"}]}' "http://$HTTP/api/talks" >/dev/null
api -X POST "http://$HTTP/api/talks/live/start" >/dev/null

echo "salon with 0 and $N consoles open during a live stage, $DURATION per round ($ROUNDS)"
IFS=, read -ra rounds <<<"$ROUNDS"
for n in "${rounds[@]}"; do
  "$OUT/salon-bench" consoles -url "http://$HTTP" -n "$n" -settle "$SETTLE" -duration "$DURATION" -pid "$salon" -json |
    jq -c '{consoles, live, salon_cpu_s_per_min: (.salon.cpu_seconds_per_minute * 1000 | round / 1000),
      salon_rss_mib: (.salon.rss_bytes / 1048576 | floor)}' | tee -a "$OUT/consoles-rounds.jsonl"
done
echo "mean by consoles open:"
tail -n "${#rounds[@]}" "$OUT/consoles-rounds.jsonl" | jq -s -c 'group_by(.consoles)[] | {consoles: .[0].consoles, rounds: length,
  salon_cpu_s_per_min: ((map(.salon_cpu_s_per_min) | add / length) * 1000 | round / 1000),
  salon_rss_mib: (map(.salon_rss_mib) | add / length | round)}'
