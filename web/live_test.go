package web

import (
	"net/url"
	"strconv"
	"testing"
)

func TestParseLLQuery(t *testing.T) {
	tests := []struct {
		query     string
		msn, part int64
		skip      bool
		bad       bool
	}{
		{query: "", msn: -1, part: -1},
		{query: "_HLS_msn=12", msn: 12, part: -1},
		{query: "_HLS_msn=12&_HLS_part=3", msn: 12, part: 3},
		{query: "_HLS_msn=0&_HLS_part=0&_HLS_skip=YES", msn: 0, part: 0, skip: true},
		{query: "_HLS_skip=v2", msn: -1, part: -1, skip: true},
		{query: "viewer=abc&_HLS_msn=5", msn: 5, part: -1},
		{query: "_HLS_part=3", bad: true},
		{query: "_HLS_msn=-1", bad: true},
		{query: "_HLS_msn=+1", bad: true},
		{query: "_HLS_msn=1.5", bad: true},
		{query: "_HLS_msn=99999999999999999999", bad: true},
		{query: "_HLS_msn=1&_HLS_part=x", bad: true},
		{query: "_HLS_skip=yes", bad: true},
		{query: "_HLS_skip=NO", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, err := parseLLQuery(q)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.msn != tt.msn || got.part != tt.part || got.skip != tt.skip {
				t.Errorf("got %+v, want msn %d part %d skip %v", got, tt.msn, tt.part, tt.skip)
			}
			// What a relay sends on: the same directives, nothing else.
			back, _ := url.ParseQuery(got.encode())
			if again, err := parseLLQuery(back); err != nil || again != got || len(back) > 3 {
				t.Errorf("encode() = %q reads back as %+v, %v", got.encode(), again, err)
			}
		})
	}
}

// FuzzParseLLQuery: any query either fails or gives directives that say
// what the query said: decimal numbers that print back as given, a part only
// with an msn.
func FuzzParseLLQuery(f *testing.F) {
	for _, s := range []string{"", "_HLS_msn=12&_HLS_part=3", "_HLS_skip=YES", "_HLS_part=1", "_HLS_msn=00012", "_HLS_msn=%31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := parseLLQuery(q)
		if err != nil {
			return
		}
		if got.part >= 0 && got.msn < 0 {
			t.Fatalf("%q: a part without an msn was accepted", raw)
		}
		for _, c := range []struct {
			key string
			v   int64
		}{{"_HLS_msn", got.msn}, {"_HLS_part", got.part}} {
			s := q.Get(c.key)
			if s == "" {
				if c.v != -1 {
					t.Fatalf("%q: %s absent but parsed as %d", raw, c.key, c.v)
				}
				continue
			}
			if n, err := strconv.ParseInt(s, 10, 64); err != nil || n != c.v || c.v < 0 {
				t.Fatalf("%q: %s=%q parsed as %d", raw, c.key, s, c.v)
			}
		}
	})
}
