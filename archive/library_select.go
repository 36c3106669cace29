package archive

import "context"

// Selection returns what the talk's replay is cut from: its parts (one init
// segment each) and segments, for streaming the recording as one file.
func (l *Library) Selection(ctx context.Context, id string) (Selection, error) {
	t, err := l.Get(id)
	if err != nil {
		return Selection{}, err
	}
	if t.Recording == nil {
		return Selection{}, nil
	}
	return Select(ctx, l.Store, t)
}
