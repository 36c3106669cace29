package archive_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/salon/salon/archive"
)

func TestDirStore_PutFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := &archive.DirStore{Root: filepath.Join(dir, "archive")}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "spool", "3.m4s")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte("segment bytes")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		key      string
		size     int64
		wantLink bool
	}{
		{"same file system: a hard link", "stages/main/run/3.m4s", int64(len(data)), true},
		{"size differs from the file: copied through Put, refused", "stages/main/run/4.m4s", int64(len(data)) + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutFile(ctx, tt.key, src, tt.size)
			if !tt.wantLink {
				if err == nil {
					t.Fatal("PutFile with a wrong size succeeded")
				}
				if _, err := s.Stat(ctx, tt.key); err == nil {
					t.Error("a failed PutFile left an object")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rc, info, err := s.Get(ctx, tt.key, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != string(data) || info.Size != int64(len(data)) {
				t.Errorf("stored %q (size %d), want %q", got, info.Size, data)
			}
			a, _ := os.Stat(src)
			b, _ := os.Stat(filepath.Join(s.Root, filepath.FromSlash(tt.key)))
			if !os.SameFile(a, b) {
				t.Error("stored as a copy, want a hard link to the spool file")
			}
			// The spool removes its file once stored: the object stays.
			if err := os.Remove(src); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Stat(ctx, tt.key); err != nil {
				t.Errorf("object gone with the spool file: %v", err)
			}
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			list, err := s.List(ctx, "stages/")
			if err != nil || len(list) != 1 {
				t.Errorf("List: %v, %v; want the one object and no temp file", list, err)
			}
		})
	}
}
