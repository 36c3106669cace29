package hlscheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	llplaylist "github.com/salon/salon/hls/playlist"
)

// Blocking checks what a low-latency live playlist's server does over HTTP
// (RFC 8216bis §6.2.5 and §6.2.6), step by step, as an LL-HLS player drives
// it: each Step asks for the next part with a blocking reload (_HLS_msn,
// _HLS_part), fetches the part the preload hint names at the same time, and
// checks that
//
//   - the blocking reload answers 200 with a playlist that holds the part
//     asked for (or something later), and passes the Tracker's reload rules;
//   - the hinted part arrives (200, not empty) and is the part the next
//     playlist lists under that URI;
//   - a request more than two segments ahead is refused with 400, and
//     _HLS_part without _HLS_msn too;
//   - _HLS_skip=YES answers a valid delta update once the playlist is longer
//     than CAN-SKIP-UNTIL: same media sequence, EXT-X-SKIP, the full
//     playlist's newest segments and parts, and only segments older than the
//     skip boundary left out;
//   - each finished segment whose parts were listed is its parts' bytes
//     joined.
//
// A publisher that stops is allowed for: a blocking request may then end in
// 503 and the hinted part in 404, provided the playlist reloaded right after
// has no preload hint (nothing is coming). The zero value is not usable: set
// URL.
type Blocking struct {
	// URL is the playlist's address, without query.
	URL *url.URL
	// Client defaults to http.DefaultClient.
	Client *http.Client

	tracker Tracker
	last    *llplaylist.Media
	parts   map[string][]byte // fetched parts, by URI
	checked map[string]bool   // segments compared with their parts
	steps   int

	// Counters of what was checked, for the test's log and floors.
	Steps, Blocked, PartsFetched, Deltas, Refusals, Offline, Joined int
}

// Step makes one round of requests; see Blocking.
func (b *Blocking) Step(ctx context.Context) error {
	if b.parts == nil {
		b.parts = map[string][]byte{}
		b.checked = map[string]bool{}
	}
	b.steps++
	if b.last == nil {
		pl, err := b.reload(ctx, nil)
		if err != nil {
			return err
		}
		b.last = pl
		b.Steps++
		return nil
	}
	last := b.last
	lastBody, _ := last.Marshal()
	end := last.MediaSequence + last.Skipped + uint64(len(last.Segments)) // the segment in progress
	q := url.Values{"_HLS_msn": {strconv.FormatUint(end, 10)}}
	wantPart := -1
	var hintDone chan hintResult
	if h := last.PreloadHint; h != nil && h.Type == llplaylist.HintPart {
		wantPart = len(last.Parts)
		q.Set("_HLS_part", strconv.Itoa(wantPart))
		hintDone = make(chan hintResult, 1)
		go func() {
			data, status, err := b.get(ctx, h.URI, nil)
			hintDone <- hintResult{h.URI, data, status, err}
		}()
	}
	body, status, err := b.get(ctx, "", q)
	if err != nil {
		return err
	}
	var pl *llplaylist.Media
	switch status {
	case http.StatusOK:
		if pl, err = b.check(body); err != nil {
			return fmt.Errorf("blocking reload %s: %w", q.Encode(), err)
		}
		plEnd := pl.MediaSequence + uint64(len(pl.Segments))
		has := end < plEnd || (end == plEnd && wantPart >= 0 && len(pl.Parts) > wantPart)
		if !has {
			return fmt.Errorf("blocking reload %s answered a playlist without it (segments up to %d, %d parts in progress)",
				q.Encode(), plEnd-1, len(pl.Parts))
		}
		b.Blocked++
	case http.StatusServiceUnavailable:
		if pl, err = b.reload(ctx, nil); err != nil {
			return err
		}
		if pl.PreloadHint != nil {
			return fmt.Errorf("blocking reload %s: 503 while the playlist still hints at a part (%s): the part did not come in time", q.Encode(), pl.PreloadHint.URI)
		}
		b.Offline++
	default:
		return fmt.Errorf("blocking reload %s: status %d: %s", q.Encode(), status, clip(body))
	}
	if hintDone != nil {
		h := <-hintDone
		switch {
		case h.err != nil:
			return fmt.Errorf("preload hint %s: %w", h.uri, h.err)
		case h.status == http.StatusOK && len(h.data) > 0:
			b.parts[h.uri] = h.data
			b.PartsFetched++
		case h.status == http.StatusNotFound && pl.PreloadHint == nil:
			b.Offline++
		default:
			again, _, _ := b.get(ctx, "", nil)
			return fmt.Errorf("preload hint %s: status %d (%s) while the stream goes on; the playlist that hinted it:\n%s\nthe playlist now:\n%s",
				h.uri, h.status, clip(h.data), lastBody, again)
		}
	}
	if err := b.checkJoined(ctx, pl); err != nil {
		return err
	}
	b.last = pl

	// Refusals and delta updates, every few steps: they cost requests.
	if b.steps%4 == 0 {
		if err := b.checkRefusals(ctx, pl); err != nil {
			return err
		}
		if err := b.checkDelta(ctx); err != nil {
			return err
		}
	}
	b.Steps++
	return nil
}

type hintResult struct {
	uri    string
	data   []byte
	status int
	err    error
}

// reload fetches the playlist without directives (or with q) and checks it.
func (b *Blocking) reload(ctx context.Context, q url.Values) (*llplaylist.Media, error) {
	body, status, err := b.get(ctx, "", q)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("playlist %s: status %d: %s", q.Encode(), status, clip(body))
	}
	return b.check(body)
}

// check runs a full playlist through the reload rules and parses it.
func (b *Blocking) check(body []byte) (*llplaylist.Media, error) {
	if err := b.tracker.Next(body); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, body)
	}
	pl, err := llplaylist.ParseMedia(body)
	if err != nil {
		return nil, err
	}
	if pl.ServerControl == nil || !pl.ServerControl.CanBlockReload {
		return nil, errors.New("the playlist does not say CAN-BLOCK-RELOAD=YES")
	}
	if pl.Skipped != 0 {
		return nil, errors.New("a playlist asked for without _HLS_skip is a delta update")
	}
	return pl, nil
}

// checkRefusals sends requests the spec says to refuse.
func (b *Blocking) checkRefusals(ctx context.Context, pl *llplaylist.Media) error {
	far := pl.MediaSequence + uint64(len(pl.Segments)) + 3
	for _, q := range []url.Values{
		{"_HLS_msn": {strconv.FormatUint(far, 10)}},
		{"_HLS_part": {"0"}},
	} {
		body, status, err := b.get(ctx, "", q)
		if err != nil {
			return err
		}
		if status != http.StatusBadRequest {
			return fmt.Errorf("playlist?%s: status %d, want 400 (RFC 8216bis 6.2.5.2): %s", q.Encode(), status, clip(body))
		}
		b.Refusals++
	}
	return nil
}

// checkDelta asks for a delta update and compares it with a full playlist
// fetched right after (both without blocking).
func (b *Blocking) checkDelta(ctx context.Context) error {
	body, status, err := b.get(ctx, "", url.Values{"_HLS_skip": {"YES"}})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("delta update: status %d: %s", status, clip(body))
	}
	d, err := llplaylist.ParseMedia(body)
	if err != nil {
		return fmt.Errorf("delta update: %w\n%s", err, body)
	}
	full, err := b.reload(ctx, nil)
	if err != nil {
		return err
	}
	if d.Skipped == 0 {
		return nil // a playlist too short to skip: a full one is the answer
	}
	if d.Version < 9 {
		return fmt.Errorf("delta update with EXT-X-SKIP says version %d, needs 9 (RFC 8216bis 7)", d.Version)
	}
	if d.MediaSequence > full.MediaSequence {
		return fmt.Errorf("delta update starts at %d, after the full playlist fetched after it (%d)", d.MediaSequence, full.MediaSequence)
	}
	if full.ServerControl == nil || full.ServerControl.CanSkipUntil == 0 {
		return errors.New("delta update from a playlist without CAN-SKIP-UNTIL")
	}
	// The listed segments must be the full playlist's, by sequence number.
	bySeq := map[uint64]llplaylist.Segment{}
	for i, s := range full.Segments {
		bySeq[full.MediaSequence+uint64(i)] = s
	}
	var listed int64
	for i, s := range d.Segments {
		seq := d.MediaSequence + d.Skipped + uint64(i)
		f, ok := bySeq[seq]
		if ok && (f.URI != s.URI || f.Duration != s.Duration || !f.DateTime.Equal(s.DateTime)) {
			return fmt.Errorf("delta update: segment %d is %s, the full playlist says %s", seq, s.URI, f.URI)
		}
		listed += int64(s.Duration)
	}
	for _, p := range d.Parts {
		listed += int64(p.Duration)
	}
	// Skipped segments all start before the skip boundary: what is listed
	// after them covers at least CAN-SKIP-UNTIL.
	if listed < int64(full.ServerControl.CanSkipUntil) {
		return fmt.Errorf("delta update skipped %d segments but lists only %.3fs, less than CAN-SKIP-UNTIL %.3fs",
			d.Skipped, float64(listed)/1e9, full.ServerControl.CanSkipUntil.Seconds())
	}
	b.Deltas++
	return nil
}

// checkJoined compares each finished segment with listed parts, once, with
// its parts' bytes joined.
func (b *Blocking) checkJoined(ctx context.Context, pl *llplaylist.Media) error {
	for _, s := range pl.Segments {
		if len(s.Parts) == 0 || b.checked[s.URI] {
			continue
		}
		b.checked[s.URI] = true
		var joined []byte
		for _, p := range s.Parts {
			data, ok := b.parts[p.URI]
			if !ok {
				var status int
				var err error
				data, status, err = b.get(ctx, p.URI, nil)
				if err != nil {
					return err
				}
				if status != http.StatusOK {
					return fmt.Errorf("part %s listed in the playlist: status %d", p.URI, status)
				}
			}
			joined = append(joined, data...)
		}
		seg, status, err := b.get(ctx, s.URI, nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("segment %s listed in the playlist: status %d", s.URI, status)
		}
		if !bytes.Equal(seg, joined) {
			return fmt.Errorf("segment %s (%d bytes) is not its %d parts joined (%d bytes)", s.URI, len(seg), len(s.Parts), len(joined))
		}
		for _, p := range s.Parts {
			delete(b.parts, p.URI)
		}
		b.Joined++
	}
	return nil
}

// get fetches ref (relative to URL; "" for the playlist) with query q.
func (b *Blocking) get(ctx context.Context, ref string, q url.Values) ([]byte, int, error) {
	u := *b.URL
	if ref != "" {
		r, err := url.Parse(ref)
		if err != nil {
			return nil, 0, fmt.Errorf("URI %q: %w", ref, err)
		}
		u = *b.URL.ResolveReference(r)
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	c := b.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u.String(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u.String(), err)
	}
	return data, resp.StatusCode, nil
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
