package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ChatKey is the key of a talk's chat log: one JSON message per line.
func ChatKey(id string) string { return "talks/" + id + "/chat.jsonl" }

// maxChatFile bounds a stored chat log read back to merge with.
const maxChatFile = 64 << 20

// SaveChat stores a talk's chat log (talks/{id}/chat.jsonl): the caller
// passes the whole log of the talk, one JSON message per line, each with
// its "id" and "ts".
//
// Two nodes may save one talk's log at once (an end-of-talk job taken over
// from a node thought dead that was not). So the log is written If-Match
// the version read, and merged with it: a message of the stored log that
// jsonl lacks is kept (in time order), one jsonl has replaces the stored
// line (it is the newer state: votes, answered, deleted). Neither writer's
// messages are lost; a lost race reads again and merges again.
//
// A do_not_record talk's chat is never published: nothing is written.
func (l *Library) SaveChat(ctx context.Context, id string, jsonl []byte) error {
	t, err := l.Get(id)
	if err != nil {
		return err
	}
	if t.DoNotRecord {
		return nil
	}
	key := ChatKey(id)
	for attempt := 1; ; attempt++ {
		old, info, err := readSmallInfo(ctx, l.Store, key, maxChatFile)
		cond := Condition{IfMatch: info.ETag}
		switch {
		case errors.Is(err, ErrNotFound):
			old, cond = nil, Condition{IfNoneMatch: true}
		case err != nil:
			return fmt.Errorf("save the chat of talk %s: read the stored log: %w", id, err)
		}
		body := mergeChat(old, jsonl)
		if old != nil && bytes.Equal(body, old) {
			return nil
		}
		_, err = l.Store.PutIf(ctx, key, body, "application/x-ndjson", cond)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrPreconditionFailed) || attempt == maxWriteRetries {
			return fmt.Errorf("save the chat of talk %s: %w", id, err)
		}
		l.Log.Info("the talk's chat log was written by another node meanwhile; merging with it", "talk", id, "attempt", attempt)
		if err := raceBackoff(ctx, attempt); err != nil {
			return fmt.Errorf("save the chat of talk %s: %w", id, err)
		}
	}
}

// chatLine is what mergeChat reads of a message.
type chatLine struct {
	ID   string    `json:"id"`
	Time time.Time `json:"ts"`
}

// mergeChat is jsonl with the lines of old whose message id jsonl lacks,
// ordered by time (stable: jsonl's order kept). Lines of old that do not
// read are dropped; jsonl's are all kept.
func mergeChat(old, jsonl []byte) []byte {
	if len(old) == 0 {
		return jsonl
	}
	type line struct {
		b  []byte
		at time.Time
	}
	var lines []line
	have := map[string]bool{}
	for b := range bytes.Lines(jsonl) {
		var m chatLine
		_ = json.Unmarshal(b, &m)
		if m.ID != "" {
			have[m.ID] = true
		}
		lines = append(lines, line{withNewline(b), m.Time})
	}
	added := false
	for b := range bytes.Lines(old) {
		var m chatLine
		if json.Unmarshal(b, &m) != nil || m.ID == "" || have[m.ID] {
			continue
		}
		have[m.ID] = true
		lines = append(lines, line{withNewline(b), m.Time})
		added = true
	}
	if !added {
		return jsonl
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	var out bytes.Buffer
	for _, ln := range lines {
		out.Write(ln.b)
	}
	return out.Bytes()
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(slices.Clip(b), '\n')
	}
	return b
}
