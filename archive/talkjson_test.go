package archive

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func validTalk() Talk {
	return Talk{ID: "ok", Title: "A talk", Stage: "main", Speakers: []Speaker{{Name: "Ada"}},
		StartsAt: cutT0, EndsAt: cutT0.Add(time.Hour), Abstract: "line one\nline two"}
}

func TestTalk_Validate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Talk)
		field string // in the message; "" = valid
	}{
		{"valid", func(*Talk) {}, ""},
		{"no schedule", func(t *Talk) { t.StartsAt, t.EndsAt = time.Time{}, time.Time{} }, ""},
		{"max id", func(t *Talk) { t.ID = strings.Repeat("a", 64) }, ""},
		{"unicode title", func(t *Talk) { t.Title = strings.Repeat("é", 200) }, ""},
		{"empty id", func(t *Talk) { t.ID = "" }, "id"},
		{"long id", func(t *Talk) { t.ID = strings.Repeat("a", 65) }, "id"},
		{"slash id", func(t *Talk) { t.ID = "a/b" }, "id"},
		{"dots id", func(t *Talk) { t.ID = ".." }, "id"},
		{"upper id", func(t *Talk) { t.ID = "UPPER" }, "id"},
		{"empty title", func(t *Talk) { t.Title = "" }, "title"},
		{"blank title", func(t *Talk) { t.Title = "   " }, "title"},
		{"long title", func(t *Talk) { t.Title = strings.Repeat("é", 201) }, "title"},
		{"newline title", func(t *Talk) { t.Title = "a\nb" }, "title"},
		{"bad utf8 title", func(t *Talk) { t.Title = "a\xff" }, "title"},
		{"11 speakers", func(t *Talk) { t.Speakers = make([]Speaker, 11) }, "speakers"},
		{"empty speaker", func(t *Talk) { t.Speakers = []Speaker{{Name: "a"}, {}} }, "speakers[1].name"},
		{"long speaker", func(t *Talk) { t.Speakers = []Speaker{{Name: strings.Repeat("a", 101)}} }, "speakers[0].name"},
		{"bad stage", func(t *Talk) { t.Stage = "Main Hall" }, "stage"},
		{"no stage", func(t *Talk) { t.Stage = "" }, "stage"},
		{"ends before starts", func(t *Talk) { t.EndsAt = t.StartsAt.Add(-time.Second) }, "ends_at"},
		{"ends at starts", func(t *Talk) { t.EndsAt = t.StartsAt }, "ends_at"},
		{"long abstract", func(t *Talk) { t.Abstract = strings.Repeat("a", 10001) }, "abstract"},
		{"recording without start", func(t *Talk) { t.Recording = &Window{} }, "recording.start"},
		{"recording end before start", func(t *Talk) { t.Recording = &Window{Start: cutT0, End: libPtr(cutT0.Add(-1))} }, "recording.end"},
		{"recording live", func(t *Talk) { t.Recording = &Window{Start: cutT0} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := validTalk()
			tc.edit(&tk)
			err := tk.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), tc.field) {
				t.Fatalf("error %v, want ErrInvalid naming %s", err, tc.field)
			}
		})
	}
}

func TestSlugID(t *testing.T) {
	tests := []struct{ title, want string }{
		{"Hello, World!", "hello-world"},
		{"  Über Café — Ærø Straße ", "uber-cafe-aero-strasse"},
		{"Łódź 2019", "lodz-2019"},
		{"ﬁne ligature", "fine-ligature"},
		{"日本語のトーク", "talk"},
		{"Go 日本 talk", "go-talk"},
		{"", "talk"},
		{"!!!", "talk"},
		{"---a---b---", "a-b"},
		{strings.Repeat("abc ", 40), strings.TrimRight(strings.Repeat("abc-", 16), "-")},
		{strings.Repeat("a", 63) + " b", strings.Repeat("a", 63)},
		{"bad \xff utf8", "bad-utf8"},
	}
	for _, tc := range tests {
		t.Run(tc.title, func(t *testing.T) {
			got := SlugID(tc.title)
			if got != tc.want {
				t.Fatalf("SlugID(%q) = %q, want %q", tc.title, got, tc.want)
			}
			if !ValidTalkID(got) {
				t.Fatalf("%q is not a valid id", got)
			}
		})
	}
}

func TestTalk_JSON(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(t *testing.T, tk Talk, out string)
	}{
		{
			name: "unknown fields kept",
			in:   `{"version":1,"id":"a","title":"T","speakers":[{"name":"S","pronouns":"she"}],"stage":"main","starts_at":"2019-04-21T01:30:00Z","ends_at":"2019-04-21T02:00:00Z","translations":[{"lang":"de"}],"zzz":null}`,
			check: func(t *testing.T, tk Talk, out string) {
				if string(tk.Extra["translations"]) != `[{"lang":"de"}]` || string(tk.Extra["zzz"]) != "null" {
					t.Fatalf("Extra %v", tk.Extra)
				}
				if !strings.HasSuffix(out, `,"translations":[{"lang":"de"}],"zzz":null}`) {
					t.Fatalf("out %s", out)
				}
			},
		},
		{
			name: "newer version read, written as this version",
			in:   `{"version":7,"id":"a","title":"T","stage":"main","starts_at":"0001-01-01T00:00:00Z","ends_at":"0001-01-01T00:00:00Z","new":{"deep":[1,{"x":"y"}]}}`,
			check: func(t *testing.T, tk Talk, out string) {
				if tk.Version != 7 || !strings.Contains(out, `"version":1,`) || !strings.Contains(out, `"new":{"deep":[1,{"x":"y"}]}`) {
					t.Fatalf("version %d, out %s", tk.Version, out)
				}
				if !strings.Contains(out, `"speakers":[]`) {
					t.Fatalf("speakers not [] in %s", out)
				}
			},
		},
		{
			name: "recording",
			in:   `{"id":"a","title":"T","stage":"main","starts_at":"0001-01-01T00:00:00Z","ends_at":"0001-01-01T00:00:00Z","recording":{"start":"2019-04-21T01:30:00.5Z","end":"2019-04-21T02:00:00Z"}}`,
			check: func(t *testing.T, tk Talk, out string) {
				if tk.Live() || !tk.Recording.Start.Equal(cutT0.Add(500*time.Millisecond)) || tk.Extra != nil {
					t.Fatalf("%+v", tk)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tk Talk
			if err := json.Unmarshal([]byte(tc.in), &tk); err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(tk)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, tk, string(out))
			// A second round trip changes nothing.
			var again Talk
			if err := json.Unmarshal(out, &again); err != nil {
				t.Fatal(err)
			}
			out2, _ := json.Marshal(again)
			if string(out2) != string(out) {
				t.Fatalf("second round trip:\n%s\n%s", out, out2)
			}
		})
	}
	var tk Talk
	if err := json.Unmarshal([]byte(`{"id":1}`), &tk); err == nil {
		t.Fatal("wrong type accepted")
	}
}

func FuzzTalkJSON(f *testing.F) {
	f.Add([]byte(`{"version":7,"id":"a","title":"T","stage":"main","future":{"x":1}}`))
	f.Add([]byte(`{"id":"a","title":"T","stage":"main","recording":{"start":"2019-04-21T01:30:00Z"}}`))
	b, _ := json.Marshal(validTalk())
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var tk Talk
		if err := json.Unmarshal(data, &tk); err != nil {
			return
		}
		valid := tk.Validate() == nil
		out, err := json.Marshal(tk)
		if err != nil {
			t.Fatalf("marshal what was read: %v", err)
		}
		var again Talk
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("read back %s: %v", out, err)
		}
		if (again.Validate() == nil) != valid {
			t.Fatalf("validity changed in a round trip: %s", out)
		}
		out2, err := json.Marshal(again)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

func FuzzSlugID(f *testing.F) {
	for _, s := range []string{"Hello, World!", "Über Café", "日本語", "", "\xff", strings.Repeat("ab ", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		id := SlugID(title)
		if !ValidTalkID(id) {
			t.Fatalf("SlugID(%q) = %q, not a valid id", title, id)
		}
		if strings.HasPrefix(id, "-") || strings.HasSuffix(id, "-") || strings.Contains(id, "--") {
			t.Fatalf("SlugID(%q) = %q", title, id)
		}
		if ValidTalkID(title) != (title != "" && len(title) <= 64 && strings.Trim(title, "abcdefghijklmnopqrstuvwxyz0123456789-") == "") {
			t.Fatalf("ValidTalkID(%q) disagrees", title)
		}
	})
}

func TestTalkIDFor(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 12, 5, 2, 30, 0, 0, time.UTC) // 10:30 in Changsha
	tests := []struct {
		name string
		talk Talk
		want string
	}{
		{"ascii title", Talk{Title: "Go in Production", Stage: "main", StartsAt: at}, "go-in-production"},
		{"mixed title keeps its ascii", Talk{Title: "深入理解 Kubernetes 调度", Stage: "main"}, "kubernetes"},
		{"chinese title, schedule slug", Talk{Title: "深入理解调度器", Slug: "dotnet-2026-scheduler-deep-dive", Stage: "main"}, "dotnet-2026-scheduler-deep-dive"},
		{"chinese title, stage and local time", Talk{Title: "深入理解调度器", Stage: "main", StartsAt: at}, "main-1030"},
		{"one ascii letter is not enough", Talk{Title: "C# 的未来", Stage: "hall-b", StartsAt: at}, "hall-b-1030"},
		{"no time: the stage", Talk{Title: "开场", Stage: "main"}, "main"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := TalkIDFor(tc.talk, shanghai)
			if got != tc.want {
				t.Fatalf("TalkIDFor = %q, want %q", got, tc.want)
			}
			if !ValidTalkID(got) {
				t.Fatalf("TalkIDFor = %q, not a valid id", got)
			}
		})
	}
}

func TestTalk_JSONLeavesUnknownTimesOut(t *testing.T) {
	b, err := json.Marshal(Talk{ID: "x", Title: "x", Stage: "main", GUID: "2f1c-aa", DoNotRecord: true, Hidden: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"starts_at", "ends_at", "0001-01-01"} {
		if strings.Contains(string(b), absent) {
			t.Errorf("talk.json %s contains %q", b, absent)
		}
	}
	for _, present := range []string{`"guid":"2f1c-aa"`, `"do_not_record":true`, `"hidden":true`} {
		if !strings.Contains(string(b), present) {
			t.Errorf("talk.json %s lacks %s", b, present)
		}
	}
	var back Talk
	if err := json.Unmarshal(b, &back); err != nil || back.GUID != "2f1c-aa" || !back.DoNotRecord || !back.Hidden || back.Extra != nil {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}
