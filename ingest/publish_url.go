// Package ingest receives live media for salon's stages: RTSP and RTMP
// publishers (OBS, ffmpeg, GStreamer) and RTSP cameras pulled by salon. Each
// publish becomes a stream.Stream on the stream.Registry; the servers here only
// convert protocol packets to stream.Units and never know who reads them.
package ingest

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/salon/salon/ingest/stream"
)

// publishPrefix is the path every publish URL starts with: /live/{stage} for
// a stage's source, /live/{stage}/{rendition} for one of its renditions.
const publishPrefix = "/live/"

// errPublishPath says how a publish URL must look. Clients show it to people.
var errPublishPath = errors.New("publish to /live/{stage}?key=KEY (or /live/{stage}/{rendition}?key=KEY for a rendition)")

// publishTarget is what a publisher's URL asks for.
type publishTarget struct {
	Stage string
	// Rendition is "" for the source, else the rendition's name.
	Rendition string
	// Key is the raw value of the first "key" query parameter; HasKey tells
	// whether there was one (an empty key is still a wrong key).
	Key    string
	HasKey bool
}

// parsePublishURL reads the stage and the key from the path and raw query of
// an RTSP or RTMP publish URL (untrusted input). The path must be
// /live/{stage} or /live/{stage}/{rendition} (one trailing slash allowed);
// the stage and the rendition must be valid, and the rendition "source" is
// the source itself. The
// key is filled even when the path is wrong, so that the key can be checked
// before the path is answered.
//
// RTMP clients that put the query on the server URL ("rtmp://h/live?key=K"
// with stream name "main") arrive as path "/live" and query "key=K/main":
// that form is accepted too, for the source only (a key may hold a slash, so
// "key=K/main/360p" stays stage "360p" with key "K/main"): renditions use the
// stream key form {stage}/{rendition}?key=KEY.
func parsePublishURL(path, rawQuery string) (publishTarget, error) {
	var t publishTarget
	if path == strings.TrimSuffix(publishPrefix, "/") {
		i := strings.LastIndexByte(rawQuery, '/')
		if i < 0 {
			t.Key, t.HasKey = queryKey(rawQuery)
			return t, fmt.Errorf("no stage in the URL: %w", errPublishPath)
		}
		path, rawQuery = publishPrefix+rawQuery[i+1:], rawQuery[:i]
	}
	t.Key, t.HasKey = queryKey(rawQuery)
	rest, ok := strings.CutPrefix(path, publishPrefix)
	if !ok {
		return t, fmt.Errorf("path %q: %w", truncate(path, 80), errPublishPath)
	}
	rest = strings.TrimSuffix(rest, "/")
	stage, rendition, nested := strings.Cut(rest, "/")
	if !stream.ValidStage(stage) {
		return t, fmt.Errorf("invalid stage name %q: use 1-64 of a-z, 0-9 and -", truncate(stage, 80))
	}
	if nested && rendition != stream.SourceRendition {
		if !stream.ValidRendition(rendition) {
			return t, fmt.Errorf("invalid rendition name %q: use 1-32 of a-z, 0-9 and - after the stage, as in /live/%s/360p", truncate(rendition, 80), stage)
		}
		t.Rendition = rendition
	}
	t.Stage = stage
	return t, nil
}

// queryKey returns the raw value of the first key=… pair of a query string.
// It does not unescape: RTMP clients send stream keys unescaped, so the value
// is compared both raw and unescaped (see keyMatches).
func queryKey(rawQuery string) (string, bool) {
	for pair := range strings.SplitSeq(rawQuery, "&") {
		if v, ok := strings.CutPrefix(pair, "key="); ok {
			return v, true
		}
	}
	return "", false
}

// keyMatches tells in constant time (for a given length) whether got is the
// publish key, either as sent or after query unescaping.
func keyMatches(got, want string) bool {
	if want == "" {
		return false
	}
	ok := subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
	if un, err := url.QueryUnescape(got); err == nil && un != got {
		ok = subtle.ConstantTimeCompare([]byte(un), []byte(want)) == 1 || ok
	}
	return ok
}

// truncate shortens untrusted text before it goes into a log or a reply.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// busyReason tells a second publisher why it is refused.
func (t publishTarget) busyReason() string {
	if t.Rendition != "" {
		return fmt.Sprintf("rendition %s of stage %s already has a publisher", t.Rendition, t.Stage)
	}
	return fmt.Sprintf("stage %s already has a publisher", t.Stage)
}
