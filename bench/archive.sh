#!/usr/bin/env bash
# Measures the replay library on this machine (docs/benchmarks.md): upload
# lag from segment closed to object stored in a real MinIO for one live stage
# (1080p30 ~4 Mbit/s, -c copy), and the time from /stop to the VOD playlist in
# the bucket. Needs the MinIO binary .ci/run installs. Loopback only; stops by
# itself.
#
#   bench/archive.sh            # five talks of TALK=20 seconds (plus a fraction) by default
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench-out}
TALK=${TALK:-20}
MINIO=${SALON_MINIO:-${XDG_CACHE_HOME:-$HOME/.cache}/salon/bin/minio}
HTTP=127.0.0.1:${HTTP_PORT:-18080}
RTSP=127.0.0.1:${RTSP_PORT:-18554}
S3=127.0.0.1:${S3_PORT:-19000}
KEY=bench-key-$$
ADMIN=bench-admin-$$
[[ -x $MINIO ]] || { echo "MinIO not found at $MINIO: run .ci/run once, or set SALON_MINIO" >&2; exit 1; }
[[ -s $OUT/bench.mp4 ]] || { echo "run bench/live.sh first: it encodes $OUT/bench.mp4" >&2; exit 1; }
go build -o "$OUT/salon" ./cmd/salon
go build -o "$OUT/salon-bench" ./cmd/salon-bench

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

export MINIO_ROOT_USER=bench-user MINIO_ROOT_PASSWORD=bench-password-$$ MINIO_BROWSER=off
"$MINIO" server --quiet --address "$S3" --console-address 127.0.0.1:0 "$tmp/minio" >"$OUT/minio.log" 2>&1 &
pids+=("$!")
until curl -sf "http://$S3/minio/health/ready" >/dev/null; do sleep 0.2; done

AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD \
  "$OUT/salon" -http "$HTTP" -rtsp "$RTSP" -rtmp "" -data "$tmp/data" -archive "s3:http://$S3/salon" -chat-shared-nets 127.0.0.0/8 \
  -publish-key "$KEY" -admin-token "$ADMIN" -log-level warn >"$OUT/salon-archive.log" 2>&1 &
pids+=("$!")
until curl -sf "http://$HTTP/healthz" >/dev/null; do sleep 0.1; done

ffmpeg -v error -re -stream_loop -1 -i "$OUT/bench.mp4" -c copy \
  -f rtsp -rtsp_transport tcp "rtsp://$RTSP/live/main?key=$KEY" 2>"$OUT/ffmpeg-archive.log" &
pids+=("$!")
until curl -sf -o /dev/null --max-time 20 "http://$HTTP/live/main/index.m3u8"; do sleep 0.1; done

auth=(-H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json")
# Talks of TALK seconds plus 0, 0.4 … 1.6 s, so that the stops fall at
# different points of the 2 s GOP: the wait for the segment that holds the
# stop time depends on where in its GOP the stop lands.
for extra in 0.0 0.4 0.8 1.2 1.6; do
  id="bench-${extra/./-}"
  curl -sf "${auth[@]}" -d "{\"id\":\"$id\",\"title\":\"Benchmark talk\",\"stage\":\"main\"}" "http://$HTTP/api/talks" >/dev/null
  curl -sf "${auth[@]}" -X POST "http://$HTTP/api/talks/$id/start" >/dev/null
  sleep "$(echo "$TALK + $extra" | bc -l)"
  t0=$(date +%s.%N)
  curl -sf "${auth[@]}" -X POST "http://$HTTP/api/talks/$id/stop" >/dev/null
  until curl -sf "http://$HTTP/archive/talks/$id/index.m3u8" | grep -q EXT-X-ENDLIST; do sleep 0.02; done
  t1=$(date +%s.%N)
  echo "talk $id: stop → VOD playlist with ENDLIST in the bucket: $(echo "($t1 - $t0) * 1000" | bc -l | xargs printf '%.0f') ms"
done
"$OUT/salon-bench" latency -url "http://$HTTP/metrics" -metric salon_archive_upload_lag_seconds
