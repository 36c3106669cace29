package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

const formatJSON = "schedule.json"

// The JSON types take what the C3VOC schema allows and what real files
// carry besides: ids as numbers or strings, null for absent strings,
// do_not_record as a boolean (pretalx) or a string, persons as objects with
// name (pretalx) or public_name (frab), or plain strings. Fields salon does
// not use are not declared, so they are skipped.
type jsonFile struct {
	Schedule *jsonSchedule `json:"schedule"`
}

type jsonSchedule struct {
	Version    flexString      `json:"version"`
	Conference *jsonConference `json:"conference"`
}

type jsonConference struct {
	Acronym      flexString `json:"acronym"`
	Title        flexString `json:"title"`
	TimeZoneName flexString `json:"time_zone_name"`
	URL          flexString `json:"url"`
	Rooms        []jsonRoom `json:"rooms"`
	Days         []jsonDay  `json:"days"`
}

type jsonRoom struct {
	Name flexString `json:"name"`
}

type jsonDay struct {
	Index    flexString             `json:"index"`
	Date     flexString             `json:"date"`
	DayStart flexString             `json:"day_start"`
	DayEnd   flexString             `json:"day_end"`
	Rooms    map[string][]jsonEvent `json:"rooms"`
}

type jsonEvent struct {
	GUID        flexString   `json:"guid"`
	ID          flexString   `json:"id"`
	Code        flexString   `json:"code"`
	Date        flexString   `json:"date"`
	Start       flexString   `json:"start"`
	Duration    flexString   `json:"duration"`
	Room        flexString   `json:"room"`
	Slug        flexString   `json:"slug"`
	URL         flexString   `json:"url"`
	Title       flexString   `json:"title"`
	Subtitle    flexString   `json:"subtitle"`
	Track       flexString   `json:"track"`
	Type        flexString   `json:"type"`
	Language    flexString   `json:"language"`
	Abstract    flexString   `json:"abstract"`
	Description flexString   `json:"description"`
	DoNotRecord flexBool     `json:"do_not_record"`
	Persons     []jsonPerson `json:"persons"`
}

// flexString is a JSON string, number, boolean or null (empty).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0:
		// No escapes: the bytes between the quotes are the string (the
		// decoder has checked the JSON; cleanLine repairs invalid UTF-8).
		*f = flexString(b[1 : len(b)-1])
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return errors.New("want a string, not an object or a list")
	default: // a number or a boolean, as written
		*f = flexString(b)
	}
	return nil
}

// flexBool is a JSON boolean, or a string or number meaning one
// ("true", "yes", "1"); null and "" are false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "true", "yes", "1", "on":
		*f = true
	case "", "false", "no", "0", "off":
		*f = false
	default:
		return fmt.Errorf("want true or false, not %q", shorten(string(s), 20))
	}
	return nil
}

// jsonPerson is {"name"} (pretalx), {"public_name"} (frab) or a string.
type jsonPerson string

func (p *jsonPerson) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Name       flexString `json:"name"`
			PublicName flexString `json:"public_name"`
			FullName   flexString `json:"full_name"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*p = jsonPerson(cmpOr(string(o.Name), string(o.PublicName), string(o.FullName)))
		return nil
	}
	var s flexString
	err := s.UnmarshalJSON(b)
	*p = jsonPerson(s)
	return err
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// parseJSON reads a C3VOC schedule.json.
func parseJSON(data []byte) (*Schedule, error) {
	if err := checkJSONDepth(data); err != nil {
		return nil, err
	}
	var f jsonFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(data, err)
	}
	if f.Schedule == nil || f.Schedule.Conference == nil {
		return nil, errorf(formatJSON, "", "not a C3VOC schedule: expected {\"schedule\":{\"version\":…,\"conference\":{…,\"days\":[…]}}} as pretalx and frab export it%s", topKeys(data))
	}
	c := f.Schedule.Conference
	raw := rawConference{
		format:       formatJSON,
		version:      string(f.Schedule.Version),
		acronym:      string(c.Acronym),
		title:        string(c.Title),
		timeZoneName: string(c.TimeZoneName),
		url:          string(c.URL),
	}
	for _, r := range c.Rooms {
		raw.rooms = append(raw.rooms, string(r.Name))
	}
	for i, d := range c.Days {
		rd := rawDay{
			where: fmt.Sprintf("schedule.conference.days[%d]", i),
			index: string(d.Index), date: string(d.Date),
			start: string(d.DayStart), end: string(d.DayEnd),
		}
		// A JSON object has no order: rooms are read sorted by name, so the
		// result does not depend on Go's map order.
		for _, room := range slices.Sorted(maps.Keys(d.Rooms)) {
			for j, e := range d.Rooms[room] {
				re := rawEvent{
					where:       fmt.Sprintf("schedule.conference.days[%d].rooms[%q][%d]", i, shorten(room, 40), j),
					listedRoom:  room,
					guid:        string(e.GUID),
					id:          string(e.ID),
					code:        string(e.Code),
					date:        string(e.Date),
					start:       string(e.Start),
					duration:    string(e.Duration),
					room:        string(e.Room),
					slug:        string(e.Slug),
					url:         string(e.URL),
					title:       string(e.Title),
					subtitle:    string(e.Subtitle),
					track:       string(e.Track),
					typ:         string(e.Type),
					language:    string(e.Language),
					abstract:    string(e.Abstract),
					description: string(e.Description),
					doNotRecord: bool(e.DoNotRecord),
				}
				for _, p := range e.Persons {
					re.persons = append(re.persons, string(p))
				}
				rd.events = append(rd.events, re)
			}
		}
		raw.days = append(raw.days, rd)
	}
	return build(raw)
}

// jsonError turns a decoding error into one that names the line and, for a
// wrong type, the field.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &Error{Format: formatJSON, Where: lineOf(data, syn.Offset), Msg: "not valid JSON: " + syn.Error(), Err: err}
	case errors.As(err, &typ):
		where := lineOf(data, typ.Offset)
		if typ.Field != "" {
			where += ", " + typ.Field
		}
		return &Error{Format: formatJSON, Where: where, Msg: fmt.Sprintf("want %s, found a JSON %s", typ.Type, typ.Value), Err: err}
	default:
		return &Error{Format: formatJSON, Msg: err.Error(), Err: err}
	}
}

// lineOf names the line and column of a byte offset.
func lineOf(data []byte, off int64) string {
	if off < 0 || off > int64(len(data)) {
		return ""
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}

// topKeys lists the top-level keys of a JSON object, for the error that
// says this is not a schedule.
func topKeys(data []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || len(m) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(m))
	if len(keys) > 8 {
		keys = append(keys[:8], "…")
	}
	for i, k := range keys {
		keys[i] = shorten(k, 30)
	}
	if _, ok := m["schedule"]; ok {
		return "; its \"schedule\" has no \"conference\" object"
	}
	return "; this JSON has the top-level keys " + strings.Join(keys, ", ")
}

// checkJSONDepth refuses JSON nested deeper than MaxDepth before anything
// is decoded: one pass over the bytes that tracks strings and brackets and
// allocates nothing, so a file of ten million '[' costs a scan, not a
// stack or a tree. (encoding/json's own limit is 10,000 levels.)
func checkJSONDepth(data []byte) error {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > MaxDepth {
				return errorf(formatJSON, lineOf(data, int64(i)), "nested deeper than %d levels; a schedule is about 10 deep", MaxDepth)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
