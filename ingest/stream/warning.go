package stream

import (
	"maps"
	"sort"
)

// Warning is something wrong with a stage that its organiser can fix (a
// keyframe interval too long, uploads failing), said as a code and its
// parameters rather than as text: the packages that notice it (hls,
// archive, transcode, this registry) know no language, and web renders it
// from the message catalog (web/i18n, key "warning." + Code) in the
// reader's language — English for /api/stages' "warnings" text.
//
// Codes are "{package}.{what}" in lower case (hls.gop_long), each written
// literally in a Warn call so that web's catalog test finds it; parameter
// names are the catalog's placeholders ({{.Seconds}}), values are already
// formatted (numbers with their precision, durations as Go writes them).
type Warning struct {
	Code   string            `json:"code"`
	Params map[string]string `json:"params,omitempty"`
	// Rendition names the publish path the warning is about, "" for the
	// stage's source; set by the registry in StageInfo.Warnings.
	Rendition string `json:"rendition,omitempty"`
}

// Warn makes a warning of code with parameters as name, value pairs:
// Warn("hls.gop_long", "Seconds", "4.0", "Target", "2s").
func Warn(code string, kv ...string) Warning {
	w := Warning{Code: code}
	if len(kv) >= 2 {
		w.Params = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			w.Params[kv[i]] = kv[i+1]
		}
	}
	return w
}

// IsZero tells whether w is no warning (SetWarning with it clears).
func (w Warning) IsZero() bool { return w.Code == "" }

// Equal tells whether w and o say the same thing.
func (w Warning) Equal(o Warning) bool {
	return w.Code == o.Code && w.Rendition == o.Rendition && maps.Equal(w.Params, o.Params)
}

// sortWarnings orders a stage's warnings: the source's first, then by
// rendition, then by code (a stable order for the console's list).
func sortWarnings(ws []Warning) {
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].Rendition != ws[j].Rendition {
			return ws[i].Rendition < ws[j].Rendition
		}
		return ws[i].Code < ws[j].Code
	})
}
