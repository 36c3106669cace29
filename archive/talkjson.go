package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/salon/salon/ingest/stream"
)

// Limits of talk.json (every value read back from the bucket is untrusted).
const (
	MaxTalkIDLen    = 64
	MaxTitleLen     = 200 // characters
	MaxSpeakers     = 10
	MaxSpeakerLen   = 100 // characters
	MaxAbstractLen  = 10000
	maxTalkJSONSize = 1 << 20 // bytes read of one talk.json
)

// talkJSONFields are the keys Talk knows; every other key goes to Extra.
var talkJSONFields = [...]string{"version", "id", "title", "speakers", "stage", "starts_at", "ends_at", "abstract", "recording", "slides", "slide_changes", "captions", "guid", "slug", "track", "language", "do_not_record", "hidden"}

// talkJSON has Talk's fields without its methods, so that encoding/json
// does not recurse into MarshalJSON.
type talkJSON Talk

// MarshalJSON writes the known fields, Version as TalkVersion (this code
// writes the version it knows), then the fields of Extra that this version
// does not know, sorted by key, so that a talk.json written by a newer salon
// keeps its additions when this one rewrites it.
func (t Talk) MarshalJSON() ([]byte, error) {
	tj := talkJSON(t)
	tj.Version = TalkVersion
	if tj.Speakers == nil {
		tj.Speakers = []Speaker{} // "speakers": [] rather than null
	}
	b, err := json.Marshal(tj)
	if err != nil {
		return nil, err
	}
	if len(t.Extra) == 0 {
		return b, nil
	}
	keys := make([]string, 0, len(t.Extra))
	for k := range t.Extra {
		if !slices.Contains(talkJSONFields[:], k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := bytes.NewBuffer(b[:len(b)-1]) // without the closing brace
	for _, k := range keys {
		v := t.Extra[k]
		if !json.Valid(v) {
			return nil, fmt.Errorf("talk %q: extra field %q is not valid JSON", t.ID, k)
		}
		kb, _ := json.Marshal(k) // a string cannot fail
		out.WriteByte(',')
		out.Write(kb)
		out.WriteByte(':')
		if err := json.Compact(out, v); err != nil {
			return nil, fmt.Errorf("talk %q: extra field %q: %w", t.ID, k, err)
		}
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// UnmarshalJSON reads talk.json of any version: fields it does not know are
// kept in Extra. It does not validate; call Validate.
func (t *Talk) UnmarshalJSON(data []byte) error {
	var tj talkJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	for _, k := range talkJSONFields {
		delete(all, k)
	}
	tj.Extra = nil
	if len(all) > 0 {
		tj.Extra = all
	}
	*t = Talk(tj)
	return nil
}

// ValidTalkID reports whether id is a talk id (contract): 1–64 of a-z 0-9 -.
// Such an id is one safe key segment and URL path segment.
func ValidTalkID(id string) bool {
	if id == "" || len(id) > MaxTalkIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// invalidf wraps ErrInvalid with a message naming the field.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// checkText checks a free-text field: valid UTF-8, no control characters
// (newlines and tabs only where multiline is allowed), min–max characters.
func checkText(field, s string, min, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalidf("%s is not valid UTF-8", field)
	}
	n := utf8.RuneCountInString(s)
	if n < min || n > max {
		if min > 0 {
			return invalidf("%s must be %d–%d characters, not %d", field, min, max, n)
		}
		return invalidf("%s must be at most %d characters, not %d", field, max, n)
	}
	if min > 0 && strings.TrimSpace(s) == "" {
		return invalidf("%s must not be blank", field)
	}
	bad := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r'))
	})
	if bad >= 0 {
		return invalidf("%s contains a control character", field)
	}
	return nil
}

// Validate checks the talk against the limits of the contract. The error
// wraps ErrInvalid and names the field.
func (t *Talk) Validate() error {
	if !ValidTalkID(t.ID) {
		return invalidf("id %q must be 1–%d of a-z, 0-9 and -", truncateRunes(t.ID, 80), MaxTalkIDLen)
	}
	if err := checkText("title", t.Title, 1, MaxTitleLen, false); err != nil {
		return err
	}
	if len(t.Speakers) > MaxSpeakers {
		return invalidf("speakers: at most %d, not %d", MaxSpeakers, len(t.Speakers))
	}
	for i, s := range t.Speakers {
		if err := checkText(fmt.Sprintf("speakers[%d].name", i), s.Name, 1, MaxSpeakerLen, false); err != nil {
			return err
		}
	}
	if !stream.ValidStage(t.Stage) {
		return invalidf("stage %q must be 1–64 of a-z, 0-9 and -", truncateRunes(t.Stage, 80))
	}
	if !t.StartsAt.IsZero() && !t.EndsAt.IsZero() && !t.EndsAt.After(t.StartsAt) {
		return invalidf("ends_at (%s) must be after starts_at (%s)", fmtTime(t.EndsAt), fmtTime(t.StartsAt))
	}
	if err := checkText("abstract", t.Abstract, 0, MaxAbstractLen, true); err != nil {
		return err
	}
	if t.GUID != "" && !validGUID(t.GUID) {
		return invalidf("guid %q must be 1–%d of A-Z, a-z, 0-9, '-', '_', '.' and ':' (a schedule's UUID)", truncateRunes(t.GUID, 80), maxGUIDLen)
	}
	if err := checkText("slug", t.Slug, 0, MaxTitleLen, false); err != nil {
		return err
	}
	if err := checkText("track", t.Track, 0, MaxSpeakerLen, false); err != nil {
		return err
	}
	if err := checkText("language", t.Language, 0, 35, false); err != nil {
		return err
	}
	if err := validSlides(t.Slides); err != nil {
		return err
	}
	if err := validCaptions(t.Captions); err != nil {
		return err
	}
	if len(t.SlideChanges) > MaxSlideChanges {
		return invalidf("slide_changes: at most %d, not %d", MaxSlideChanges, len(t.SlideChanges))
	}
	for i, c := range t.SlideChanges {
		if c.At.IsZero() || c.Page < 1 || c.Page > MaxSlidePage {
			return invalidf("slide_changes[%d]: want a time and a page from 1 to %d", i, MaxSlidePage)
		}
	}
	if w := t.Recording; w != nil {
		if w.Start.IsZero() {
			return invalidf("recording.start is missing")
		}
		if w.End != nil && !w.End.After(w.Start) {
			return invalidf("recording.end (%s) must be after recording.start (%s)", fmtTime(*w.End), fmtTime(w.Start))
		}
	}
	return nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// foldings are letters that Unicode decomposition does not reduce to ASCII.
var foldings = map[rune]string{
	'ß': "ss", 'æ': "ae", 'Æ': "ae", 'ø': "o", 'Ø': "o", 'œ': "oe", 'Œ': "oe",
	'đ': "d", 'Đ': "d", 'ł': "l", 'Ł': "l", 'þ': "th", 'Þ': "th", 'ð': "d", 'ı': "i",
}

// maxGUIDLen bounds a schedule guid (a UUID is 36 characters).
const maxGUIDLen = 64

// validGUID reports whether g can be a schedule's event guid: one safe
// token, so that it can be matched and shown without escaping.
func validGUID(g string) bool {
	if g == "" || len(g) > maxGUIDLen {
		return false
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:", c) >= 0) {
			return false
		}
	}
	return true
}

// TalkIDFor proposes a readable id for a new talk: the title's slug when it
// says something in ASCII (at least three characters and a letter), else the
// schedule's slug, else the stage and the start time in loc ("main-1030"),
// else the stage. A talk titled only in Chinese gets "main-1030", never a
// bare "talk-2". Callers add -2, -3… when the id is taken.
func TalkIDFor(t Talk, loc *time.Location) string {
	for _, s := range []string{t.Title, t.Slug} {
		if id := SlugID(s); usefulSlug(id) {
			return id
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	if t.Stage != "" && stream.ValidStage(t.Stage) {
		if !t.StartsAt.IsZero() {
			return truncateID(t.Stage, MaxTalkIDLen-5) + "-" + t.StartsAt.In(loc).Format("1504")
		}
		return t.Stage
	}
	return SlugID(t.Title)
}

// usefulSlug tells whether a slug made from a title says something.
func usefulSlug(id string) bool {
	return len(id) >= 3 && strings.IndexFunc(id, func(r rune) bool { return r >= 'a' && r <= 'z' }) >= 0 && id != "talk"
}

// SlugID makes a talk id from a title: ASCII letters and digits lowercased,
// accented Latin letters folded to their base letter ("Café" → "cafe"),
// other letters dropped, every run of anything else one dash, at most 64
// characters, no leading or trailing dash. A title with nothing usable gives
// "talk". The result always passes ValidTalkID.
func SlugID(title string) string {
	var b strings.Builder
	dash := false
	emit := func(s string) {
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteString(s)
	}
	for _, r := range norm.NFKD.String(strings.ToValidUTF8(title, " ")) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			emit(string(r))
		case r >= 'A' && r <= 'Z':
			emit(string(r + 'a' - 'A'))
		case foldings[r] != "":
			emit(foldings[r])
		case unicode.Is(unicode.Mn, r):
			// a combining accent left by decomposition: drop it
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			// a letter with no ASCII form: dropped, as if absent
		default:
			dash = true
		}
		if b.Len() >= MaxTalkIDLen {
			break
		}
	}
	id := strings.Trim(truncateID(b.String(), MaxTalkIDLen), "-")
	if id == "" {
		return "talk"
	}
	return id
}

// truncateID cuts an ASCII id to n bytes and drops a dash left at the end.
func truncateID(id string, n int) string {
	if len(id) > n {
		id = id[:n]
	}
	return strings.TrimRight(id, "-")
}
