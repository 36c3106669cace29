package archive_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
)

func TestDirStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) archive.Store {
		s := &archive.DirStore{Root: filepath.Join(t.TempDir(), "archive", "root")}
		if err := s.Initialize(); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestDirStore_Initialize(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, root string
		ok         bool
	}{
		{"new nested", filepath.Join(dir, "a", "b"), true},
		{"existing", dir, true},
		{"empty", "", false},
		{"below a file", filepath.Join(file, "x"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := (&archive.DirStore{Root: c.root}).Initialize()
			if (err == nil) != c.ok {
				t.Fatalf("Initialize(%q) = %v, want ok=%v", c.root, err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "archive directory") {
				t.Fatalf("error %q does not name the archive directory", err)
			}
		})
	}
	// A directory salon cannot write: mode 0555, or, for root (as in CI),
	// who writes through modes, a directory of the read-only /proc.
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	if os.Getuid() == 0 {
		ro = "/proc/self"
	}
	err := (&archive.DirStore{Root: ro}).Initialize()
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("Initialize on a read-only directory %s = %v, want an error saying it is not writable", ro, err)
	}
}

// A temp file left by a crash is never listed and never read as an object.
func TestDirStore_List_tempFiles(t *testing.T) {
	s := &archive.DirStore{Root: t.TempDir()}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Put(ctx, "a/1.m4s", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Root, "a", ".salon-tmp-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := s.List(ctx, "")
	if err != nil || len(l) != 1 || l[0].Key != "a/1.m4s" {
		t.Fatalf("List = %v, %v; want only a/1.m4s", l, err)
	}
	if _, err := s.Stat(ctx, "a/.salon-tmp-123"); err == nil || !strings.Contains(err.Error(), "invalid key") {
		t.Fatalf("Stat of a temp file = %v, want an invalid key error", err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, "a", "1.m4s")); err != nil {
		t.Fatalf("object is not a plain file below Root: %v", err)
	}
}

// TestDirStore_PutIfTwoStores: conditional writes through two DirStores on
// one directory (two salons on one machine) are atomic too: of writers that
// read the same ETag, exactly one wins.
func TestDirStore_PutIfTwoStores(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	stores := []*archive.DirStore{{Root: root}, {Root: root}}
	for _, s := range stores {
		if err := s.Initialize(); err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	for round := range 20 {
		tag, err := stores[0].PutIf(ctx, "talks/x/talk.json", []byte("base"), "", archive.Condition{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var won atomic.Int32
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := stores[i%2].PutIf(ctx, "talks/x/talk.json", []byte{byte('a' + i)}, "", archive.Condition{IfMatch: tag})
				if err == nil {
					won.Add(1)
				} else if !errors.Is(err, archive.ErrPreconditionFailed) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("round %d: %d writers from one ETag won, want 1", round, n)
		}
	}
}
