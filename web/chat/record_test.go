package chat

import (
	"log/slog"
	"testing"
	"time"
)

func TestDecodeRecord(t *testing.T) {
	cases := []struct {
		rec string
		ok  bool
	}{
		{`{"msg":{"id":"a1","name":"n","text":"你好","ts":"2025-04-21T10:00:00Z"},"ip":"10.0.0.1","viewer":"k"}`, true},
		{`{"vote":"a1","voters":["x","y"]}`, true},
		{`{"vote":"a1"}`, false}, // a vote without voters could be counted again and again
		{`{"delete":"a1"}`, true},
		{`{"answered":"a1"}`, true},
		{`{"ban":{"client":"c","ts":"2025-04-21T10:00:00Z"}}`, true},
		{`{"slow_mode":{"seconds":5}}`, true},
		{`{"slow_mode":{"seconds":-1}}`, false},
		{`{"slide":{"talk":"t","page":2,"ts":"2025-04-21T10:00:00Z"}}`, true},
		{`{"slide":{"talk":"t","page":0,"ts":"2025-04-21T10:00:00Z"}}`, false},
		{`{"onscreen":{"id":""}}`, true},
		{`{"delete":"a1","answered":"a1"}`, false}, // two kinds
		{`{}`, false},
		{`{"msg":{"id":""}}`, false},
		{`not json`, false},
	}
	for _, tc := range cases {
		if _, ok := decodeRecord([]byte(tc.rec)); ok != tc.ok {
			t.Errorf("decodeRecord(%s) ok = %v, want %v", tc.rec, ok, tc.ok)
		}
	}
}

// Records come from other nodes over NATS: whatever arrives is decoded
// strictly and applied without panicking.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{
		`{"msg":{"id":"a1","name":"n","text":"t","ts":"2025-04-21T10:00:00Z","question":true}}`,
		`{"vote":"a1","voters":["x"]}`, `{"delete":"a1"}`, `{"answered":"a1"}`, `{"onscreen":{"id":"a1"}}`,
		`{"ban":{"client":"c","viewer":"v","ip":"10.0.0.1","ts":"2025-04-21T10:00:00Z"}}`,
	} {
		f.Add([]byte(s))
	}
	h := &Hub{Stage: "main", Log: slog.New(slog.DiscardHandler)}
	if err := h.Initialize(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	h.deliver([]byte(`{"msg":{"id":"a1","name":"n","text":"t","ts":"2025-04-21T10:00:00Z","question":true}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, ok := decodeRecord(data)
		if ok && !rec.valid() {
			t.Fatalf("accepted an invalid record %+v", rec)
		}
		h.deliver(data)
	})
}

// The cost the log adds to a message on one node: encoding its record and
// decoding it again where the log delivers it (the journal's disk writes
// are batched elsewhere).
func BenchmarkHub_commit(b *testing.B) {
	h := &Hub{Stage: "main", Log: slog.New(slog.DiscardHandler), MaxLog: 1 << 22}
	if err := h.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := &Message{ID: newID(), ClientID: "c1", Name: "观众", Text: "这个问题很好：为什么用 fMP4？", Time: time.Now().UTC()}
		if err := h.commit(m.ID, logRecord{Msg: m, IP: "10.0.0.1", Viewer: "viewer-key-0123456789"}); err != nil {
			b.Fatal(err)
		}
	}
}

// What the log adds on one node over applying a message directly: decoding
// its record where the log delivers it.
func BenchmarkDecodeRecord(b *testing.B) {
	rec := []byte(`{"msg":{"id":"0123456789ab","client":"ba9876543210","name":"观众","text":"这个问题很好：为什么用 fMP4？","ts":"2026-12-02T11:00:00.123Z"},"ip":"10.0.0.1","viewer":"viewer-key-0123456789"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := decodeRecord(rec); !ok {
			b.Fatal("did not decode")
		}
	}
}
