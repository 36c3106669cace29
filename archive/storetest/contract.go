package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/salon/salon/archive"
)

func testRange(t *testing.T, s archive.Store) {
	const key = "r/ten.m4s"
	put(t, s, key, []byte("0123456789"))
	cases := []struct {
		name           string
		offset, length int64
		want           string
		err            bool
	}{
		{"whole", 0, -1, "0123456789", false},
		{"start", 0, 4, "0123", false},
		{"middle", 3, 4, "3456", false},
		{"to end", 5, -1, "56789", false},
		{"length past end", 7, 100, "789", false},
		{"last byte", 9, 1, "9", false},
		{"offset at end", 10, -1, "", false},
		{"zero length", 4, 0, "", false},
		{"offset past end", 11, -1, "", true},
		{"offset far past end", 1000, 5, "", true},
		{"negative offset", -1, -1, "", true},
		{"bad length", 0, -2, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, info, err := s.Get(ctx(t), key, c.offset, c.length)
			if c.err {
				if err == nil {
					rc.Close()
					t.Fatalf("Get(%d, %d) succeeded, want ErrInvalidRange", c.offset, c.length)
				}
				if !errors.Is(err, archive.ErrInvalidRange) {
					t.Fatalf("Get(%d, %d) = %v, want ErrInvalidRange", c.offset, c.length, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get(%d, %d): %v", c.offset, c.length, err)
			}
			got, err := readAll(rc)
			if err != nil || string(got) != c.want {
				t.Fatalf("Get(%d, %d) = %q, %v; want %q", c.offset, c.length, got, err, c.want)
			}
			if info.Size != 10 {
				t.Errorf("info.Size = %d, want the whole object's 10", info.Size)
			}
		})
	}
}

func testStat(t *testing.T, s archive.Store) {
	put(t, s, "s/a.json", []byte(`{"a":1}`))
	info, err := s.Stat(ctx(t), "s/a.json")
	if err != nil || info.Size != 7 || info.ContentType != "application/json" {
		t.Fatalf("Stat = %+v, %v; want 7 bytes of application/json", info, err)
	}
	for _, k := range []string{"s/missing.json", "s", "missing/deeper/key", "s/a.json/below"} {
		if _, err := s.Stat(ctx(t), k); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", k, err)
		}
		if rc, _, err := s.Get(ctx(t), k, 0, -1); !errors.Is(err, archive.ErrNotFound) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get(%q) = %v, want ErrNotFound", k, err)
		}
	}
}

func testList(t *testing.T, s archive.Store) {
	keys := []string{
		"top.json",
		"talks/b/index.m3u8",
		"talks/a/talk.json",
		"talks/ab/talk.json",
		"talks/a/slides/x.pdf",
		"talks/a.b",
		"stages/main/20190421T013000Z/1.m4s",
	}
	for i, k := range keys {
		put(t, s, k, []byte(strings.Repeat("x", i)))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"stages/main/20190421T013000Z/1.m4s", "talks/a.b", "talks/a/slides/x.pdf", "talks/a/talk.json", "talks/ab/talk.json", "talks/b/index.m3u8", "top.json"}},
		{"talks/", []string{"talks/a.b", "talks/a/slides/x.pdf", "talks/a/talk.json", "talks/ab/talk.json", "talks/b/index.m3u8"}},
		{"talks/a/", []string{"talks/a/slides/x.pdf", "talks/a/talk.json"}},
		{"talks/a", []string{"talks/a.b", "talks/a/slides/x.pdf", "talks/a/talk.json", "talks/ab/talk.json"}},
		{"talks/a/talk.json", []string{"talks/a/talk.json"}},
		{"t", []string{"talks/a.b", "talks/a/slides/x.pdf", "talks/a/talk.json", "talks/ab/talk.json", "talks/b/index.m3u8", "top.json"}},
		{"stages/other/", nil},
		{"nothing", nil},
		{"top.json/", nil},
	}
	for _, c := range cases {
		t.Run(c.prefix, func(t *testing.T) {
			l, err := s.List(ctx(t), c.prefix)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var got []string
			for _, o := range l {
				got = append(got, o.Key)
				i := indexOf(keys, o.Key)
				if i < 0 || o.Size != int64(i) {
					t.Errorf("%s: size %d, want %d", o.Key, o.Size, i)
				}
				st, err := s.Stat(ctx(t), o.Key)
				if err != nil || st.ETag != o.ETag {
					t.Errorf("%s: listed ETag %q, Stat %q (%v)", o.Key, o.ETag, st.ETag, err)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("List(%q) = %q, want %q", c.prefix, got, c.want)
			}
		})
	}
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func testDelete(t *testing.T, s archive.Store) {
	c := ctx(t)
	put(t, s, "d/x/1.m4s", []byte("one"))
	put(t, s, "d/y.m4s", []byte("two"))
	if err := s.Delete(c, "d/x/1.m4s"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(c, "d/x/1.m4s"); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if l, err := s.List(c, "d/"); err != nil || len(l) != 1 || l[0].Key != "d/y.m4s" {
		t.Fatalf("List after Delete = %v, %v; want only d/y.m4s", l, err)
	}
	for _, k := range []string{"d/x/1.m4s", "d/never", "never/at/all"} {
		if err := s.Delete(c, k); err != nil {
			t.Errorf("Delete(%q) of a missing key = %v, want nil", k, err)
		}
	}
	put(t, s, "d/x/1.m4s", []byte("again")) // the emptied "directory" is usable again
	if got, _ := get(t, s, "d/x/1.m4s", 0, -1); string(got) != "again" {
		t.Fatalf("Get after re-Put = %q", got)
	}
}

func testInvalidKey(t *testing.T, s archive.Store) {
	c := ctx(t)
	for _, k := range []string{"", "../x", "/x", "x/", "a//b", `a\b`, "\x00", "a/./b", "a/../b", "\xff"} {
		t.Run(fmt.Sprintf("%q", k), func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if err == nil || errors.Is(err, archive.ErrNotFound) || !strings.Contains(err.Error(), "invalid key") {
					t.Errorf("%s(%q) = %v, want an invalid key error", op, k, err)
				}
			}
			check("Put", s.Put(c, k, strings.NewReader("x"), 1, ""))
			rc, _, err := s.Get(c, k, 0, -1)
			if err == nil {
				rc.Close()
			}
			check("Get", err)
			_, err = s.Stat(c, k)
			check("Stat", err)
			check("Delete", s.Delete(c, k))
		})
	}
	for _, p := range []string{"/", "../", "a//", `a\`, "/x"} {
		if _, err := s.List(c, p); err == nil {
			t.Errorf("List(%q) succeeded, want an error", p)
		}
	}
	if l, err := s.List(c, ""); err != nil || len(l) != 0 {
		t.Errorf("List after refused puts = %v, %v; want nothing", l, err)
	}
}

func testConcurrent(t *testing.T, s archive.Store) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("c/%d/%d.m4s", i%3, i)
			data := strings.Repeat(fmt.Sprint(i), 1000+i)
			errs[i] = s.Put(ctx(t), key, onlyReader{strings.NewReader(data)}, -1, "video/iso.segment")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	l, err := s.List(ctx(t), "c/")
	if err != nil || len(l) != n {
		t.Fatalf("List = %d objects, %v; want %d", len(l), err, n)
	}
	for i := range n {
		key := fmt.Sprintf("c/%d/%d.m4s", i%3, i)
		if got, _ := get(t, s, key, 0, -1); string(got) != strings.Repeat(fmt.Sprint(i), 1000+i) {
			t.Errorf("%s: wrong content (%d bytes)", key, len(got))
		}
	}
}

// testConditional: PutIf writes only when its condition holds, and two
// writers racing from the same ETag cannot both win.
func testConditional(t *testing.T, s archive.Store) {
	const key = "c/talk.json"
	c := ctx(t)
	tag1, err := s.PutIf(c, key, []byte(`{"v":1}`), "", archive.Condition{IfNoneMatch: true})
	if err != nil || tag1 == "" {
		t.Fatalf("create with If-None-Match: %q, %v", tag1, err)
	}
	if _, err := s.PutIf(c, key, []byte(`{"v":0}`), "", archive.Condition{IfNoneMatch: true}); !errors.Is(err, archive.ErrPreconditionFailed) {
		t.Fatalf("second create = %v, want ErrPreconditionFailed", err)
	}
	if st, err := s.Stat(c, key); err != nil || st.ETag != tag1 {
		t.Fatalf("Stat ETag %q, %v; PutIf returned %q", st.ETag, err, tag1)
	}
	tag2, err := s.PutIf(c, key, []byte(`{"v":2}`), "", archive.Condition{IfMatch: tag1})
	if err != nil || tag2 == "" || tag2 == tag1 {
		t.Fatalf("update with If-Match: %q, %v (first ETag %q)", tag2, err, tag1)
	}
	if _, err := s.PutIf(c, key, []byte(`{"v":3}`), "", archive.Condition{IfMatch: tag1}); !errors.Is(err, archive.ErrPreconditionFailed) {
		t.Fatalf("update with a stale ETag = %v, want ErrPreconditionFailed", err)
	}
	if _, err := s.PutIf(c, "c/missing.json", []byte(`{}`), "", archive.Condition{IfMatch: tag2}); !errors.Is(err, archive.ErrPreconditionFailed) {
		t.Fatalf("If-Match on a missing object = %v, want ErrPreconditionFailed", err)
	}
	if _, err := s.Stat(c, "c/missing.json"); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("a refused conditional write stored the object: %v", err)
	}
	if b, info := get(t, s, key, 0, -1); string(b) != `{"v":2}` || info.ETag != tag2 {
		t.Fatalf("after a refused write: %q (ETag %q), want {\"v\":2} (ETag %q)", b, info.ETag, tag2)
	}
	tag4, err := s.PutIf(c, key, []byte(`{"v":4}`), "", archive.Condition{})
	if err != nil || tag4 == tag2 {
		t.Fatalf("unconditional PutIf: %q, %v", tag4, err)
	}
	// A listing's ETag is the object's (a node compares them to find the
	// talks another node changed).
	if l, err := s.List(c, "c/"); err != nil || len(l) != 1 || l[0].ETag != tag4 {
		t.Fatalf("List after PutIf: %+v, %v; want one object with ETag %q", l, err, tag4)
	}

	// Writers that all read the same ETag: exactly one wins.
	info, err := s.Stat(c, key)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.PutIf(c, key, fmt.Appendf(nil, `{"w":%d}`, i), "", archive.Condition{IfMatch: info.ETag})
			switch {
			case err == nil:
				mu.Lock()
				won++
				mu.Unlock()
			case !errors.Is(err, archive.ErrPreconditionFailed):
				t.Errorf("racing writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of %d writers from one ETag succeeded, want exactly 1", won, writers)
	}
}
