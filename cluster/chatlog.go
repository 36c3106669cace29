package cluster

import "context"

// ChatLog is one stage's chat log on the chat stream (streamlog.go): every
// node of the deployment runs one per open room, so every hub applies the
// same records in the same order.
type ChatLog struct{ *streamLog }

// OpenChat opens stage's log: it delivers every record the stream holds
// for the stage, oldest first, before it returns, then each new one until
// Close. deliver is called from one goroutine at a time.
func (n *Node) OpenChat(stage string, deliver func([]byte)) (*ChatLog, error) {
	l, err := n.openLog(n.chat, ChatSubject(stage), "chat", stage, func(_ string, rec []byte) { deliver(rec) })
	if err != nil {
		return nil, err
	}
	return &ChatLog{l}, nil
}

// Append publishes rec with id as its Nats-Msg-Id, again until the stream
// acknowledges it or ctx ends (a retry of a record that was stored is not
// stored twice), then waits until this node has delivered it.
//
// The acknowledgement is the commit: once the stream has the record, every
// node applies it. If this node's consumer is being recreated (the server
// it read from was lost: ~10 s while the cluster elects new leaders) and
// does not deliver the record before ctx ends, Append still succeeds: the
// record is applied here when the consumer is back.
func (l *ChatLog) Append(ctx context.Context, id string, rec []byte) error {
	return l.publish(ctx, l.subject, id, rec)
}

// Sync waits until this node has delivered every record the stage's log
// holds now: a record another node's Append got acknowledged is then
// applied here (this node's consumer may lag, or be recreated after a
// server was lost).
func (l *ChatLog) Sync(ctx context.Context) error { return l.catchUp(ctx) }
