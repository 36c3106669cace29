package archive

import "context"

// Selection returns what the talk's replay is cut from: its parts (one init
// segment each) and segments, for streaming the recording as one file.
// It is empty for a talk that never started or is do_not_record.
func (l *Library) Selection(ctx context.Context, id string) (Selection, error) {
	t, err := l.Get(id)
	if err != nil {
		return Selection{}, err
	}
	if t.Recording == nil || t.DoNotRecord {
		return Selection{}, nil // do_not_record: never published, not even as a download
	}
	return Select(ctx, l.Store, t)
}
