# Shared by the bench/*.sh scripts (source it after cd to the repository):
# the test media, the builds, the processes to stop at exit.
# shellcheck shell=bash

OUT=${OUT:-bench-out}
mkdir -p "$OUT"

# bench_build builds salon and salon-bench into $OUT.
bench_build() {
  go build -o "$OUT/salon" ./cmd/salon
  go build -o "$OUT/salon-bench" ./cmd/salon-bench
}

# bench_media FILE WxH VIDEO_RATE AUDIO_RATE encodes 120 s of H.264+AAC test
# media at 30 fps with a 2 s GOP into $OUT/FILE, once: published with -c copy,
# no encoder shares the CPU during a measurement.
bench_media() {
  local file=$OUT/$1 size=$2 vb=$3 ab=$4
  [[ -s $file ]] && return
  echo "encoding $file once (${size}, 30 fps, ${vb}bit/s, 2 s GOP, 120 s)…"
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=$size:rate=30" \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 120 \
    -c:v libx264 -preset veryfast -b:v "$vb" -maxrate "$vb" -bufsize "$((${vb%[kM]} * 2))${vb: -1}" \
    -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a "$ab" "$file"
}

# pids are the processes the script started; bench_cleanup stops them and
# removes the directories in tmps. Scripts `trap bench_cleanup EXIT`.
pids=()
tmps=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${tmps[@]}"; do rm -rf "$d"; done
}

# wait_healthy ADDR waits up to 10 s for salon's /healthz on ADDR.
wait_healthy() {
  for _ in $(seq 100); do curl -sf "http://$1/healthz" >/dev/null && return; sleep 0.1; done
  echo "salon did not answer on $1 within 10 s" >&2
  return 1
}
