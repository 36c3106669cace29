#!/usr/bin/env bash
# Copies the pinned browser libraries (package-lock.json) into static/vendor,
# where the Go package embeds them. Run through `go generate ./web`.
# Idempotent: does nothing when the vendored files already match the lock.
set -euo pipefail
cd "$(dirname "$0")"

hls_version=$(node -p 'require("./package-lock.json").packages["node_modules/hls.js"].version')
dest="static/vendor/hls.js-${hls_version}"

if [[ -f "$dest/hls.min.js" && -f "$dest/LICENSE" ]]; then
	exit 0
fi

if [[ ! -f node_modules/hls.js/package.json ]] ||
	[[ "$(node -p 'require("./node_modules/hls.js/package.json").version')" != "$hls_version" ]]; then
	npm ci --no-audit --no-fund
fi

# Drop other versions so the embedded files stay those of the lock.
rm -rf static/vendor/hls.js-*
mkdir -p "$dest"
cp node_modules/hls.js/dist/hls.min.js "$dest/hls.min.js.tmp"
cp node_modules/hls.js/LICENSE "$dest/LICENSE"
mv "$dest/hls.min.js.tmp" "$dest/hls.min.js"
echo "vendored hls.js ${hls_version} into web/${dest}"
