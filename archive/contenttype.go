package archive

import (
	"path"
	"strings"
)

// ContentTypeFor returns the media type salon uses for a key, from its
// extension: the types of everything salon writes to the bucket, and
// application/octet-stream for anything else. DirStore reports this type for
// every object (it keeps no sidecar files); S3Store uses it when Put is given
// no content type.
func ContentTypeFor(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".m4s":
		return "video/iso.segment"
	case ".mp4":
		return "video/mp4"
	case ".json":
		return "application/json"
	case ".jsonl":
		return "application/x-ndjson"
	case ".pdf":
		return SlidePDF.MediaType
	case ".pptx":
		return SlidePPTX.MediaType
	case ".odp":
		return SlideODP.MediaType
	case ".key":
		return SlideKeynote.MediaType
	case ".vtt":
		return "text/vtt"
	}
	return "application/octet-stream"
}
