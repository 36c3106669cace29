package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/web/chat"
)

// talkChatHandlers serve a talk's chat: the organiser's export and the
// replay's chat.json.
type talkChatHandlers struct {
	talks       talkSelector
	chatReplays replayCache
	log         *slog.Logger
	*chatHistory
	*responder
	*auth
	*hiddenTalks
}

func (s *talkChatHandlers) register(rt *router) {
	rt.handle("GET /api/talks/{id}/chat", rt.need(s.talks != nil, noTalks, s.handleTalkChatExport))
	rt.handle("GET /talks/{id}/chat.json", rt.need(s.talks != nil, noTalks, s.handleTalkChatReplay))
}

// chatHistory reads a talk's chat as stored, for the chat routes and the
// statistics.
type chatHistory struct {
	archive objectGetter // optional: without it only the live chat is read
	rooms   talkLogger   // optional
}

// talkLogger reads what a stage's chat holds of a talk.
type talkLogger interface {
	// TalkLog is what the stage's chat holds of a talk.
	TalkLog(stage, talk string, since time.Time) ([]chat.Message, []chat.Slide, error)
}

// maxChatLog bounds what is read of a talk's chat.jsonl: a busy hour of chat
// is a few MB.
const maxChatLog = 64 << 20

// chatReplayTTL is how long a talk's chat replay is kept before it is built
// again: the whole room opens the replay at once when a talk ends.
const chatReplayTTL = 30 * time.Second

// talkChatMessage is one message of a talk's chat as the export and the
// replay page get it: the archived message plus At, its position in the
// replay's video (seconds), mapped through the playlist's program date-times.
type talkChatMessage struct {
	ID       string  `json:"id"`
	TS       string  `json:"ts"`
	At       float64 `json:"at"`
	Name     string  `json:"name"`
	Text     string  `json:"text"`
	Question bool    `json:"question,omitempty"`
	Votes    int     `json:"votes,omitempty"`
	Answered bool    `json:"answered,omitempty"`
	Deleted  bool    `json:"deleted,omitempty"`
}

// talkChat loads a talk's chat, oldest first, deleted messages included and
// marked: from talks/{id}/chat.jsonl once the talk has ended and its chat
// was archived, else from the stage's chat as it is now. At is set from the
// talk's replay playlist; it is 0 for a talk that never started.
func (s *talkChatHandlers) talkChat(ctx context.Context, t archive.Talk) ([]talkChatMessage, error) {
	msgs, err := s.talkMessages(ctx, t)
	if err != nil {
		return nil, err
	}
	var sel archive.Selection
	if t.Recording != nil {
		if sel, err = s.talks.Selection(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	return mediaTimed(msgs, &sel), nil
}

// mediaTimed is msgs placed on the replay's timeline (At, through sel's
// program date-times).
func mediaTimed(msgs []chat.Message, sel *archive.Selection) []talkChatMessage {
	out := make([]talkChatMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, talkChatMessage{
			ID:       m.ID,
			TS:       m.Time.UTC().Format(chat.TimeLayout),
			At:       sel.MediaTime(m.Time).Seconds(),
			Name:     m.Name,
			Text:     m.Text,
			Question: m.Question,
			Votes:    m.Votes,
			Answered: m.Answered,
			Deleted:  m.Deleted,
		})
	}
	return out
}

// talkMessages is a talk's chat as stored: archived once it ended, else
// the stage's chat as it is now.
func (s *chatHistory) talkMessages(ctx context.Context, t archive.Talk) ([]chat.Message, error) {
	var msgs []chat.Message
	var err error
	if !t.Live() {
		msgs, err = s.archivedChat(ctx, t.ID)
	}
	if t.Live() || errors.Is(err, archive.ErrNotFound) {
		msgs, err = s.liveChat(t)
	}
	return msgs, err
}

// archivedChat reads talks/{id}/chat.jsonl. Lines that do not decode are
// skipped: the bucket is not trusted to be well-formed.
func (s *chatHistory) archivedChat(ctx context.Context, id string) ([]chat.Message, error) {
	if s.archive == nil {
		return nil, archive.ErrNotFound
	}
	rc, _, err := s.archive.Get(ctx, archive.ChatKey(id), 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var msgs []chat.Message
	sc := bufio.NewScanner(io.LimitReader(rc, maxChatLog))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for sc.Scan() {
		var m chat.Message
		if json.Unmarshal(sc.Bytes(), &m) != nil || m.ID == "" {
			continue
		}
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return nil, err
	}
	return msgs, nil
}

// liveChat is the talk's messages as its stage's chat holds them now.
func (s *chatHistory) liveChat(t archive.Talk) ([]chat.Message, error) {
	if t.Recording == nil {
		return nil, nil
	}
	if s.rooms == nil {
		return nil, errors.New("chat is not configured")
	}
	msgs, _, err := s.rooms.TalkLog(t.Stage, t.ID, t.Recording.Start)
	return msgs, err
}

// handleTalkChatExport exports a talk's chat for the organiser
// (GET /api/talks/{id}/chat[?format=csv], admin): every message, deleted
// ones included and marked.
func (s *talkChatHandlers) handleTalkChatExport(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		s.jsonError(w, http.StatusBadRequest, "format must be json (the default) or csv")
		return
	}
	t, err := s.talks.Get(r.PathValue("id"))
	if err != nil {
		s.talkError(w, err)
		return
	}
	msgs, err := s.talkChat(r.Context(), t)
	if err != nil {
		s.log.Error("export talk chat", "talk", t.ID, "error", err)
		s.jsonError(w, http.StatusServiceUnavailable, "the talk's chat could not be read from the archive; try again when the bucket is reachable")
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+t.ID+`-chat.csv"`)
		writeChatCSV(w, msgs)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+t.ID+`-chat.json"`)
	s.writeJSON(w, http.StatusOK, map[string]any{"talk": t.ID, "messages": msgs})
}

// writeChatCSV writes one row per message after a UTF-8 byte order mark,
// without which Excel reads the file in the machine's legacy code page and
// garbles Chinese names and text. Cells that a spreadsheet would run as a
// formula (=, +, -, @, tab, CR first) get a leading apostrophe: chat text is
// written by anyone.
func writeChatCSV(w io.Writer, msgs []talkChatMessage) {
	_, _ = io.WriteString(w, utf8BOM)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "ts", "at", "name", "text", "question", "votes", "answered", "deleted"})
	for _, m := range msgs {
		_ = cw.Write([]string{
			m.ID, m.TS, strconv.FormatFloat(m.At, 'f', 3, 64), csvSafe(m.Name), csvSafe(m.Text),
			strconv.FormatBool(m.Question), strconv.Itoa(m.Votes), strconv.FormatBool(m.Answered), strconv.FormatBool(m.Deleted),
		})
	}
	cw.Flush()
}

// utf8BOM starts a CSV export so that spreadsheets detect UTF-8.
const utf8BOM = "\uFEFF"

func csvSafe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// handleTalkChatReplay serves the chat the replay page scrolls beside the
// video (GET /talks/{id}/chat.json, public): deleted messages left out, each
// with its position in the video.
func (s *talkChatHandlers) handleTalkChatReplay(w http.ResponseWriter, r *http.Request) {
	if s.hideTalk(w, r, r.PathValue("id")) {
		return
	}
	t, err := s.talks.Get(r.PathValue("id"))
	if err != nil {
		s.talkError(w, err)
		return
	}
	body, err := s.chatReplays.get(t, func() ([]byte, error) {
		msgs, err := s.talkChat(r.Context(), t)
		if err != nil {
			return nil, err
		}
		shown := msgs[:0]
		for _, m := range msgs {
			if !m.Deleted {
				shown = append(shown, m)
			}
		}
		return json.Marshal(map[string]any{"talk": t.ID, "final": t.Recording != nil && !t.Live(), "messages": shown})
	})
	if err != nil {
		s.log.Error("talk chat replay", "talk", t.ID, "error", err)
		s.jsonError(w, http.StatusServiceUnavailable, "the talk's chat could not be read from the archive; try again in a moment")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(body)
}

// replayCache keeps each talk's chat replay for chatReplayTTL, keyed by the
// talk's recording window, so a re-cut or a stop builds it again at once.
type replayCache struct {
	mu      sync.Mutex
	entries map[string]replayEntry
}

type replayEntry struct {
	window  string
	body    []byte
	expires time.Time
}

// maxReplayEntries bounds the cache; past it, it starts again empty.
const maxReplayEntries = 256

func (c *replayCache) get(t archive.Talk, build func() ([]byte, error)) ([]byte, error) {
	window := ""
	if t.Recording != nil {
		window = t.Recording.Start.String()
		if t.Recording.End != nil {
			window += "/" + t.Recording.End.String()
		}
	}
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.entries[t.ID]; ok && e.window == window && now.Before(e.expires) {
		c.mu.Unlock()
		return e.body, nil
	}
	c.mu.Unlock()
	body, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxReplayEntries {
		c.entries = make(map[string]replayEntry)
	}
	c.entries[t.ID] = replayEntry{window: window, body: body, expires: now.Add(chatReplayTTL)}
	c.mu.Unlock()
	return body, nil
}
