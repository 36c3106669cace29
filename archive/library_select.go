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

// SelectWindow is what a cut of the talk's stage over w would select,
// without changing the talk: the console previews a wider stretch of the
// recording than the talk's window, so that a trim can move the window out
// as well as in.
func (l *Library) SelectWindow(ctx context.Context, id string, w Window) (Selection, error) {
	t, err := l.Get(id)
	if err != nil {
		return Selection{}, err
	}
	t.Recording = &w
	return Select(ctx, l.Store, t)
}
