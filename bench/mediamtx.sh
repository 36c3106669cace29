#!/usr/bin/env bash
# Builds MediaMTX outside the repository for side-by-side benchmarks
# (docs/benchmarks.md, issue #10) and writes its two configurations:
#   $MTX_DIR/mediamtx          the binary
#   $MTX_DIR/mediamtx-ll.yml   LL-HLS: variant lowLatency, 200 ms parts, 2 s segments
#   $MTX_DIR/mediamtx-fmp4.yml classic fMP4 HLS, 2 s segments
# It does nothing when the binary exists. The source must already be on this
# machine: MTX_SRC (default $MTX_DIR/mediamtx-src) holds a checkout, e.g.
#   git --git-dir=<mirror of github.com/bluenviron/mediamtx> archive HEAD | tar -x -C "$MTX_SRC"
# Nothing of MediaMTX is ever committed to salon; CI never runs this.
#
#   bench/mediamtx.sh            # prints the binary's path
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MTX_DIR=${MTX_DIR:-/work/ext}
MTX_SRC=${MTX_SRC:-$MTX_DIR/mediamtx-src}
BIN=$MTX_DIR/mediamtx

write_config() { # file variant
  # Only what the benchmark needs: RTSP in on 127.0.0.1, HLS out. Ports are
  # MediaMTX's defaults moved up so they never meet salon's; the publish path
  # is live/main like salon's. Everything else off (API, metrics, RTMP,
  # WebRTC, SRT, MoQ, recording), so its CPU is the HLS path's.
  cat >"$1" <<YML
logLevel: warn
authMethod: internal
authInternalUsers:
  - user: any
    permissions:
      - action: publish
      - action: read
rtsp: yes
rtspTransports: [tcp]
rtspAddress: 127.0.0.1:${MTX_RTSP_PORT:-28554}
rtmp: no
webrtc: no
srt: no
moq: no
api: no
metrics: no
pprof: no
playback: no
hls: yes
hlsAddress: 127.0.0.1:${MTX_HLS_PORT:-28888}
hlsAlwaysRemux: yes
hlsVariant: $2
hlsSegmentCount: 15
hlsSegmentDuration: 2s
hlsPartDuration: 200ms
hlsSegmentMaxSize: 50M
hlsAllowOrigins: ['*']
paths:
  all_others:
YML
}

if [[ ! -x $BIN ]]; then
  [[ -f $MTX_SRC/go.mod ]] || { echo "no MediaMTX source in $MTX_SRC: fetch github.com/bluenviron/mediamtx and extract it there (see the top of $0)" >&2; exit 1; }
  # go generate would download these; use what is here instead: a version
  # string and salon's vendored hls.js (MediaMTX's own page only).
  [[ -s $MTX_SRC/internal/core/VERSION ]] || echo "v0.0.0-bench" >"$MTX_SRC/internal/core/VERSION"
  [[ -s $MTX_SRC/internal/servers/hls/hls.min.js ]] || cp "$REPO"/web/static/vendor/hls.js-*/hls.min.js "$MTX_SRC/internal/servers/hls/hls.min.js"
  (cd "$MTX_SRC" && CGO_ENABLED=0 go build -o "$BIN" .)
fi
write_config "$MTX_DIR/mediamtx-ll.yml" lowLatency
write_config "$MTX_DIR/mediamtx-fmp4.yml" fmp4
echo "$BIN"
