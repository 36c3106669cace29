#!/usr/bin/env bash
# What -transcode costs (docs/benchmarks.md): CPU seconds per minute of stream
# of salon plus its ffmpeg child, from /proc, with and without
# -transcode 720p,480p, in alternating rounds of one run. The publisher is
# ffmpeg sending a pre-encoded 1080p30 file with -c copy (bench/live.sh's), so
# no encoder of the test shares the CPU. No viewers.
#
#   bench/transcode.sh                      # defaults below
#   MEASURE=30 ROUNDS=1 TRANSCODE=480p bench/transcode.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench-out}
MEASURE=${MEASURE:-60}            # seconds measured per round
ROUNDS=${ROUNDS:-2}               # each round: without, then with -transcode
TRANSCODE=${TRANSCODE:-720p,480p}
HTTP=127.0.0.1:${HTTP_PORT:-18091}
RTSP=127.0.0.1:${RTSP_PORT:-18565}
KEY=bench-key-$$

mkdir -p "$OUT"
go build -o "$OUT/salon" ./cmd/salon
if [[ ! -s $OUT/bench.mp4 ]]; then
  echo "encoding $OUT/bench.mp4 once (1080p30, 4 Mbit/s, 2 s GOP, 120 s)…"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 120 \
    -c:v libx264 -preset veryfast -b:v 4M -maxrate 4M -bufsize 8M \
    -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a 128k "$OUT/bench.mp4"
fi

hz=$(getconf CLK_TCK)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# ticks: CPU ticks of a process, its children that were waited for (a child
# that restarted) and its live children (the ffmpeg child).
own_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
reaped_ticks() { awk '{print $16 + $17}' "/proc/$1/stat"; }
child_pids() { awk -v p="$1" '{ if ($4 == p) print $1 }' /proc/[0-9]*/stat 2>/dev/null || true; }
child_ticks() {
  local n=0 c
  for c in $(child_pids "$1"); do n=$((n + $(own_ticks "$c" 2>/dev/null || echo 0))); done
  echo "$n"
}

round() { # $1: "" or the -transcode value
  local data; data=$(mktemp -d)
  local args=(-http "$HTTP" -rtsp "$RTSP" -rtmp "" -data "$data" -publish-key "$KEY" -stats=false -log-level warn)
  [[ -n $1 ]] && args+=(-transcode "$1")
  "$OUT/salon" "${args[@]}" >"$OUT/salon-transcode.log" 2>&1 &
  local salon=$!
  pids+=("$salon")
  for _ in $(seq 100); do curl -sf "http://$HTTP/healthz" >/dev/null && break; sleep 0.1; done
  ffmpeg -v error -re -stream_loop -1 -i "$OUT/bench.mp4" -c copy \
    -f rtsp -rtsp_transport tcp "rtsp://$RTSP/live/main?key=$KEY" 2>"$OUT/ffmpeg-transcode.log" &
  local pub=$!
  pids+=("$pub")
  if [[ -n $1 ]]; then
    local want; want=$(tr ',' '\n' <<<"$1" | wc -l)
    for _ in $(seq 300); do
      n=$(curl -sf "http://$HTTP/live/main/index.m3u8" | grep -c '^#EXT-X-STREAM-INF' || true)
      (( n >= want + 1 )) && break
      sleep 0.2
    done
  else
    until curl -sf -o /dev/null --max-time 20 "http://$HTTP/live/main/index.m3u8"; do sleep 0.1; done
  fi
  sleep 10 # past the child's start
  local s0 c0 k0 r0 s1 c1 k1 r1
  s0=$(date +%s.%N); c0=$(own_ticks "$salon"); r0=$(reaped_ticks "$salon"); k0=$(child_ticks "$salon")
  sleep "$MEASURE"
  s1=$(date +%s.%N); c1=$(own_ticks "$salon"); r1=$(reaped_ticks "$salon"); k1=$(child_ticks "$salon")
  local per="/ $hz / ($s1 - $s0) * 60"
  local salon_cpu child_cpu
  salon_cpu=$(echo "($c1 - $c0) $per" | bc -l)
  # A child that exited during the round moves from "live" to "reaped".
  child_cpu=$(echo "(($k1 + $r1) - ($k0 + $r0)) $per" | bc -l)
  local stages; stages=$(curl -sf "http://$HTTP/api/stages")
  printf '%-12s salon %6.2f + ffmpeg child %6.2f = %6.2f CPU-s/min; salon RSS %d MiB; dropped units %s; renditions %s; load %s\n' \
    "${1:-remux only}" "$salon_cpu" "$child_cpu" "$(echo "$salon_cpu + $child_cpu" | bc -l)" \
    $(( $(awk '$1 == "VmRSS:" {print $2}' "/proc/$salon/status") / 1024 )) \
    "$(jq -r '.[] | select(.name=="main") | .dropped_units' <<<"$stages")" \
    "$(jq -r '[.[] | select(.name=="main") | .renditions[]? | "\(.name) \(.height)p@\(.tracks[0].frame_rate // 0 | floor)fps \(.bitrate/1000|floor)kbit/s"] | join(", ")' <<<"$stages")" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  kill "$pub" "$salon"
  wait "$pub" "$salon" 2>/dev/null || true
  rm -rf "$data"
}

echo "salon + ffmpeg child, CPU-s per minute of a 1080p30 stream, no viewers ($MEASURE s per round)"
for _ in $(seq "$ROUNDS"); do
  round ""
  round "$TRANSCODE"
done
