#!/usr/bin/env bash
# Copies the pinned browser libraries (package-lock.json) into static/vendor,
# where the Go package embeds them. Run through `go generate ./web`.
# Idempotent: does nothing when the vendored files already match the lock.
#
#   hls.js     → static/vendor/hls.js-VERSION/{hls.min.js,LICENSE}
#   pdfjs-dist → static/vendor/pdfjs-dist-VERSION/{pdf.min.mjs,pdf.worker.min.mjs,LICENSE}
#   axe-core   → webtest/vendor/axe-core-VERSION/{axe.min.js,LICENSE}: for the
#                accessibility tests only (web/webtest injects it into pages
#                under test); never embedded in salon nor served to users.
set -euo pipefail
cd "$(dirname "$0")"

locked() { node -p "require('./package-lock.json').packages['node_modules/$1'].version"; }
installed() { node -p "try { require('./node_modules/$1/package.json').version } catch (e) { '' }"; }

hls_version=$(locked hls.js)
pdfjs_version=$(locked pdfjs-dist)
hls_dest="static/vendor/hls.js-${hls_version}"
pdfjs_dest="static/vendor/pdfjs-dist-${pdfjs_version}"
axe_version=$(locked axe-core)
axe_dest="webtest/vendor/axe-core-${axe_version}"

if [[ -f "$hls_dest/hls.min.js" && -f "$hls_dest/LICENSE" &&
	-f "$pdfjs_dest/pdf.min.mjs" && -f "$pdfjs_dest/pdf.worker.min.mjs" && -f "$pdfjs_dest/LICENSE" &&
	-f "$axe_dest/axe.min.js" && -f "$axe_dest/LICENSE" ]]; then
	exit 0
fi

if [[ "$(installed hls.js)" != "$hls_version" || "$(installed pdfjs-dist)" != "$pdfjs_version" ||
	"$(installed axe-core)" != "$axe_version" ]]; then
	# --omit=optional: pdfjs-dist's optional native canvas is for Node only.
	npm ci --no-audit --no-fund --omit=optional
fi

# vendor NAME DEST FILE...: copies node_modules/NAME/FILE to DEST/basename,
# through a temp name so that an interrupted run is redone, never half-used.
vendor() {
	local name=$1 dest=$2
	shift 2
	# Drop other versions so the embedded files stay those of the lock.
	rm -rf "$(dirname "$dest")/${name}-"*
	mkdir -p "$dest"
	local f
	for f in "$@"; do
		cp "node_modules/${name}/${f}" "${dest}/$(basename "$f").tmp"
	done
	for f in "$@"; do
		mv "${dest}/$(basename "$f").tmp" "${dest}/$(basename "$f")"
	done
	echo "vendored ${name} $(installed "$name") into web/${dest}"
}

vendor hls.js "$hls_dest" dist/hls.min.js LICENSE
vendor pdfjs-dist "$pdfjs_dest" build/pdf.min.mjs build/pdf.worker.min.mjs LICENSE
vendor axe-core "$axe_dest" axe.min.js LICENSE
