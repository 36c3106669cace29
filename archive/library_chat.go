package archive

import (
	"bytes"
	"context"
	"fmt"
)

// ChatKey is the key of a talk's chat log: one JSON message per line.
func ChatKey(id string) string { return "talks/" + id + "/chat.jsonl" }

// SaveChat stores a talk's chat log (talks/{id}/chat.jsonl), replacing what
// was there: the caller passes the whole log of the talk.
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
	if err := l.Store.Put(ctx, ChatKey(id), bytes.NewReader(jsonl), int64(len(jsonl)), "application/x-ndjson"); err != nil {
		return fmt.Errorf("save the chat of talk %s: %w", id, err)
	}
	return nil
}
