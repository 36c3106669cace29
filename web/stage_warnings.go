package web

import (
	"github.com/salon/salon/ingest/stream"
	"github.com/salon/salon/web/i18n"
)

// Stage warnings arrive as codes with parameters (stream.Warning: hls,
// archive, transcode and the registry know no language); web renders them
// from the catalog, key "warning." + code: the pages and the console in the
// reader's language (the template function warning, lib/i18n.js
// warningText), /api/stages in English as its "warnings" text beside the
// codes ("warning_codes") for scripts.

// warningText is w in l's language; a rendition's warning names it.
func warningText(l *i18n.Localizer, w stream.Warning) string {
	kv := make([]any, 0, 2*len(w.Params))
	for k, v := range w.Params {
		kv = append(kv, k, v)
	}
	key := "warning." + w.Code
	s := l.T(key, kv...)
	if w.Rendition != "" {
		s = l.T("warning.rendition", "Name", w.Rendition, "Warning", s)
	}
	return s
}

// warningTexts is ws in l's language, nil for none (the JSON leaves it out).
func warningTexts(l *i18n.Localizer, ws []stream.Warning) []string {
	if len(ws) == 0 {
		return nil
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = warningText(l, w)
	}
	return out
}
