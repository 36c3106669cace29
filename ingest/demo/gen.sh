#!/usr/bin/env bash
# Regenerates clip.mp4, the demo stream embedded in salon (10 s, 640x360,
# H.264 main + AAC stereo, 2 s GOP with B-frames, fragmented MP4, ~500 KB).
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=640x360:rate=30" \
  -f lavfi -i "sine=frequency=660:beep_factor=2:sample_rate=48000" -t 10 \
  -c:v libx264 -preset slow -profile:v main -pix_fmt yuv420p -crf 30 \
  -g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -c:a aac -b:a 64k -ac 2 \
  -f mp4 -movflags frag_keyframe+empty_moov+default_base_moof clip.mp4
