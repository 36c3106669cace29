package chat

import (
	"log/slog"
	"testing"
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
