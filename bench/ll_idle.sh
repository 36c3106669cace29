#!/usr/bin/env bash
# CPU seconds per minute of stream and RSS of a stage with no viewers, for
# salon before this change (BASE, default main, classic HLS only), and this
# tree with -part 0 (classic) and -part 200ms (Low-Latency HLS), measured side
# by side: the three run at the same time, each with its own ffmpeg publisher
# of the same pre-encoded 1080p30 file (-c copy, no encoder on the CPU), so
# that whatever else the machine does weighs on all three alike. Several
# rounds, each with fresh processes.
#
# BASE_ARGS are the base's extra flags (e.g. "-part 200ms" for a base that
# has parts). MTX=ll (or fmp4) adds MediaMTX (bench/mediamtx.sh, built
# outside the repository) with that HLS variant as a fourth process.
#
#   bench/ll_idle.sh                     # 3 rounds of 60 s
#   ROUNDS=5 IDLE=120 BASE=abc123 bench/ll_idle.sh
#   MTX=ll BASE_ARGS="-part 200ms" BASE=abc123 bench/ll_idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench-out}
IDLE=${IDLE:-60}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-15}
BASE=${BASE:-main}
read -r -a base_args <<<"${BASE_ARGS:-}"
MTX=${MTX:-}
KEY=bench-key-$$

mkdir -p "$OUT"
go build -o "$OUT/salon" ./cmd/salon
base_src=$(mktemp -d)
git archive "$BASE" | tar -x -C "$base_src"
(cd "$base_src" && go build -o "$OLDPWD/$OUT/salon-base" ./cmd/salon)
rm -rf "$base_src"
if [[ ! -s $OUT/bench.mp4 ]]; then
  echo "encoding $OUT/bench.mp4 once (1080p30, 4 Mbit/s, 2 s GOP, 120 s)…"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 120 \
    -c:v libx264 -preset veryfast -b:v 4M -maxrate 4M -bufsize 8M \
    -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a 128k "$OUT/bench.mp4"
fi

pids=()
dirs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${dirs[@]}"; do rm -rf "$d"; done
  pids=() dirs=()
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

names=(base part0 part200)
if [[ -n $MTX ]]; then
  mtx=$(bench/mediamtx.sh)
  names+=(mtx)
fi
declare -A total
for ((r = 1; r <= ROUNDS; r++)); do
  declare -A pid
  for i in 0 1 2; do
    name=${names[$i]}
    http=127.0.0.1:$((18180 + i)) rtsp=127.0.0.1:$((18654 + i))
    data=$(mktemp -d)
    dirs+=("$data")
    bin=$OUT/salon args=()
    case $name in
      base) bin=$OUT/salon-base args=("${base_args[@]}") ;;
      part0) args=(-part 0) ;;
      part200) args=(-part 200ms) ;;
    esac
    "$bin" -http "$http" -rtsp "$rtsp" -rtmp "" -data "$data" -publish-key "$KEY" -log-level warn "${args[@]}" \
      >"$OUT/salon-$name.log" 2>&1 &
    pid[$name]=$!
    pids+=("$!")
    for _ in $(seq 100); do curl -sf "http://$http/healthz" >/dev/null && break; sleep 0.1; done
    ffmpeg -v error -re -stream_loop -1 -i "$OUT/bench.mp4" -c copy \
      -f rtsp -rtsp_transport tcp "rtsp://$rtsp/live/main?key=$KEY" 2>"$OUT/ffmpeg-$name.log" &
    pids+=("$!")
  done
  if [[ -n $MTX ]]; then
    "$mtx" "$(dirname "$mtx")/mediamtx-$MTX.yml" >"$OUT/mediamtx.log" 2>&1 &
    pid[mtx]=$!
    pids+=("$!")
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/28554) 2>/dev/null && break; sleep 0.1; done
    ffmpeg -v error -re -stream_loop -1 -i "$OUT/bench.mp4" -c copy \
      -f rtsp -rtsp_transport tcp "rtsp://127.0.0.1:28554/live/main" 2>"$OUT/ffmpeg-mtx.log" &
    pids+=("$!")
    until curl -sf -o /dev/null --max-time 20 "http://127.0.0.1:28888/live/main/index.m3u8"; do sleep 0.1; done
  fi
  for i in 0 1 2; do
    until curl -sf -o /dev/null --max-time 20 "http://127.0.0.1:$((18180 + i))/live/main/index.m3u8"; do sleep 0.1; done
  done
  sleep "$WARMUP"
  declare -A c0
  for name in "${names[@]}"; do c0[$name]=$(cpu_ticks "${pid[$name]}"); done
  s0=$(date +%s.%N)
  sleep "$IDLE"
  s1=$(date +%s.%N)
  line="round $r:"
  for name in "${names[@]}"; do
    c1=$(cpu_ticks "${pid[$name]}")
    v=$(echo "($c1 - ${c0[$name]}) / $hz / ($s1 - $s0) * 60" | bc -l)
    total[$name]=$(echo "${total[$name]:-0} + $v" | bc -l)
    line+=" $name $(printf '%.2f' "$v") CPU-s/min RSS $(($(status_kb "${pid[$name]}" VmRSS) / 1024)) MiB;"
  done
  echo "$line"
  # A segment served by each, to show they were live.
  for i in 0 1 2; do
    curl -sf "http://127.0.0.1:$((18180 + i))/live/main/index.m3u8" | grep -c '#EXTINF' | xargs printf '%s: %s segments listed\n' "${names[$i]}"
  done
  cleanup
done
line="mean of $ROUNDS rounds:"
for name in "${names[@]}"; do line+=" $name $(printf '%.2f' "$(echo "${total[$name]} / $ROUNDS" | bc -l)");"; done
echo "$line"
