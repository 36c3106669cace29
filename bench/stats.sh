#!/usr/bin/env bash
# The cost of counting viewers and plays (issue 9, docs/benchmarks.md):
# salon's CPU and memory at N live viewers (default 2,000) plus replay
# viewers, with the statistics on (-stats=true) and off (-stats=false),
# side by side in one run. Rounds alternate off/on/on/off (ABBA) so that a
# machine that gets busier or quieter during the run weighs on both alike;
# each round is a fresh salon with a fresh data directory.
#
# The stream is small (640×360, ~0.5 Mbit/s): what counting costs is per
# request, not per byte, and a small stream lets 2,000 viewers run on a
# shared 2-core machine.
#
#   bench/stats.sh                              # defaults below
#   N=500 DURATION=40s ROUNDS=off,on bench/stats.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
N=${N:-2000}                 # live viewers
REPLAY_N=${REPLAY_N:-200}    # replay viewers, alongside
DURATION=${DURATION:-60s}
RAMP=${RAMP:-20s}
ROUNDS=${ROUNDS:-off,on,on,off}
HTTP=127.0.0.1:${HTTP_PORT:-18090}
RTSP=127.0.0.1:${RTSP_PORT:-18564}
KEY=bench-key-$$
TOKEN=bench-admin-$$

bench_build
bench_media bench-360p.mp4 640x360 500k 64k

data=""
trap bench_cleanup EXIT

api() { curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" "$@"; }

round() { # $1: on|off → one line of JSON
  local mode=$1 stats=true
  [[ $mode == on ]] || stats=false
  data=$(mktemp -d)
  tmps=("$data")
  # The load tool is one address standing for many viewers (a venue's NAT):
  # named as shared so that the per-address limits do not apply.
  "$OUT/salon" -http "$HTTP" -rtsp "$RTSP" -rtmp "" -data "$data" -publish-key "$KEY" -admin-token "$TOKEN" \
    -chat-shared-nets 127.0.0.0/8 -stats="$stats" -log-level warn >"$OUT/salon-stats-$mode.log" 2>&1 &
  local salon=$!
  pids=("$salon")
  wait_healthy "$HTTP"
  ffmpeg -v error -re -stream_loop -1 -i "$OUT/bench-360p.mp4" -c copy \
    -f rtsp -rtsp_transport tcp "rtsp://$RTSP/live/main?key=$KEY" 2>>"$OUT/ffmpeg.log" &
  pids+=("$!")
  until curl -sf -o /dev/null --max-time 20 "http://$HTTP/live/main/index.m3u8"; do sleep 0.05; done
  # A recorded talk to replay, then the live talk the viewers watch.
  api -X POST -d '{"id":"recorded","title":"录好的","stage":"main"}' "http://$HTTP/api/talks" >/dev/null
  api -X POST "http://$HTTP/api/talks/recorded/start" >/dev/null
  sleep 12
  api -X POST -d '{"id":"live","title":"直播中","stage":"main"}' "http://$HTTP/api/talks" >/dev/null
  api -X POST "http://$HTTP/api/talks/recorded/stop" >/dev/null
  api -X POST "http://$HTTP/api/talks/live/start" >/dev/null
  until curl -sf "http://$HTTP/archive/talks/recorded/index.m3u8" | grep -q ENDLIST; do sleep 0.2; done

  "$OUT/salon-bench" viewers -url "http://$HTTP/archive/talks/recorded/index.m3u8" -n "$REPLAY_N" \
    -ramp "$RAMP" -duration "$DURATION" -id-prefix replay -json >"$OUT/stats-replay-$mode.json" 2>"$OUT/stats-replay-$mode.err" &
  local replay=$!
  "$OUT/salon-bench" viewers -url "http://$HTTP/live/main/index.m3u8" -n "$N" -ramp "$RAMP" -duration "$DURATION" \
    -pid "$salon" -json >"$OUT/stats-live-$mode.json" || true
  wait "$replay" || true
  local counted='{}'
  if [[ $mode == on ]]; then
    counted=$(api "http://$HTTP/api/stats" | jq -c '{live_viewers_unique, live_viewers_peak, replay_viewers_unique}')
  fi
  jq -c --arg mode "$mode" --argjson counted "$counted" --slurpfile replay "$OUT/stats-replay-$mode.json" \
    '{mode: $mode, viewers_playing, stalls, errors: .error_count, segment_p99_ms: .segment_ms.p99, playlist_p99_ms: .playlist_ms.p99,
      salon_cpu_s_per_min: .salon.cpu_seconds_per_minute, salon_rss_mib: (.salon.rss_bytes / 1048576 | floor),
      salon_peak_rss_mib: (.salon.peak_rss_bytes / 1048576 | floor), counted: $counted,
      replay: ($replay[0] | {viewers_playing, errors: .error_count})}' "$OUT/stats-live-$mode.json"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  rm -rf "$data"
  data=""
}

echo "salon with the statistics on and off, $N live viewers + $REPLAY_N replay viewers, $DURATION per round ($ROUNDS)"
IFS=, read -ra modes <<<"$ROUNDS"
for m in "${modes[@]}"; do
  round "$m" | tee -a "$OUT/stats-rounds.jsonl"
done
echo "mean by mode:"
tail -n "${#modes[@]}" "$OUT/stats-rounds.jsonl" | jq -s -c 'group_by(.mode)[] | {mode: .[0].mode, rounds: length,
  salon_cpu_s_per_min: ((map(.salon_cpu_s_per_min) | add / length) * 100 | round / 100),
  salon_rss_mib: (map(.salon_rss_mib) | add / length | round), salon_peak_rss_mib: (map(.salon_peak_rss_mib) | add / length | round),
  segment_p99_ms: (map(.segment_p99_ms) | add / length | round)}'
