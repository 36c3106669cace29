package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CaptionStream is the JetStream stream of the cues posted live on every
// stage; stage S's cues are on subject CaptionSubject(S). It is the ordered
// log every node applies (streamlog.go), as the chat stream is for chat.
const CaptionStream = "SALON_CAPTIONS"

const captionSubjectPrefix = "salon.captions."

// CaptionSubject is the subject of a stage's live cues.
func CaptionSubject(stage string) string { return captionSubjectPrefix + stage }

// Limits of the captions stream.
const (
	// DefaultCaptionMaxAge is how long the stream keeps a cue when the
	// caller gives no age: the day captions.Live keeps them.
	DefaultCaptionMaxAge = 24 * time.Hour
	// captionMaxBytes bounds the stream on each server: a day of cues on
	// a dozen stages is a few MB.
	captionMaxBytes = 256 << 20
	// maxCaptionRecord is the largest cue record: 500 bytes of text and
	// its metadata.
	maxCaptionRecord = 4 << 10
)

// CaptionLog is the deployment's log of live cues: Append adds one cue
// record of a stage; every node delivers every stage's records in the
// stream's order, so every node holds the same cues in the same order.
type CaptionLog struct{ log *streamLog }

// OpenCaptions opens (creating) the captions stream, with a cue kept for
// maxAge (default DefaultCaptionMaxAge), and its log: it delivers every
// record the stream holds, oldest first, with its stage, before it returns
// (a node that starts catches up), then each one appended by any node
// until Close. deliver is called from one goroutine at a time.
func (n *Node) OpenCaptions(ctx context.Context, maxAge time.Duration, deliver func(stage string, rec []byte)) (*CaptionLog, error) {
	if maxAge <= 0 {
		maxAge = DefaultCaptionMaxAge
	}
	s, err := n.createOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        CaptionStream,
		Description: "salon live captions: one subject per stage; every node applies it in order",
		Subjects:    []string{CaptionSubject("*")},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      maxAge,
		MaxBytes:    captionMaxBytes,
		MaxMsgSize:  maxCaptionRecord,
		Duplicates:  dedupWindow,
		Replicas:    n.replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("open the NATS captions stream %s: %w", CaptionStream, err)
	}
	l, err := n.openLog(s, CaptionSubject("*"), "captions", "", func(subject string, rec []byte) {
		if stage, ok := strings.CutPrefix(subject, captionSubjectPrefix); ok {
			deliver(stage, rec)
		}
	})
	if err != nil {
		return nil, err
	}
	return &CaptionLog{log: l}, nil
}

// Append publishes rec, a cue of stage, with id as its Nats-Msg-Id (a
// retry with the same id is stored once), until the stream acknowledges it
// or ctx ends, then waits until this node has delivered it (if its
// consumer is being recreated, the record is delivered when it is back,
// and Append returns once ctx ends: the cue is stored).
func (l *CaptionLog) Append(ctx context.Context, stage, id string, rec []byte) error {
	return l.log.publish(ctx, CaptionSubject(stage), id, rec)
}

// CatchUp waits until this node has delivered every cue the stream holds
// now, those posted on other nodes included.
func (l *CaptionLog) CatchUp(ctx context.Context) error { return l.log.catchUp(ctx) }

// Close stops delivering.
func (l *CaptionLog) Close() error { return l.log.Close() }
