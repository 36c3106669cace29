package archive_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
)

// testListDirs is the ListDirs contract both backends share.
func testListDirs(t *testing.T, s interface {
	archive.Store
	archive.DirLister
}) {
	ctx := context.Background()
	for _, k := range []string{
		"stages/main/20261125T100000Z/0.m4s", "stages/main/20261125T100000Z/index.m3u8",
		"stages/main/20261125T090000Z/0.m4s", "stages/main/loose.txt", "stages/side/20261125T100000Z/0.m4s",
	} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListDirs(ctx, "stages/main/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"20261125T090000Z", "20261125T100000Z"}; !slices.Equal(got, want) {
		t.Fatalf("ListDirs(stages/main/) = %v, want %v", got, want)
	}
	if got, err := s.ListDirs(ctx, "stages/none/"); err != nil || len(got) != 0 {
		t.Fatalf("ListDirs of a missing prefix = %v, %v; want none", got, err)
	}
	for _, bad := range []string{"stages/main", "../", "/stages/", "stages//"} {
		if _, err := s.ListDirs(ctx, bad); err == nil {
			t.Errorf("ListDirs(%q) accepted", bad)
		}
	}
}

func TestDirStore_ListDirs(t *testing.T) {
	s := &archive.DirStore{Root: t.TempDir()}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	testListDirs(t, s)
}

func TestS3Store_ListDirs(t *testing.T) {
	endpoint, user, secret, _, _ := storetest.MinIO(t)
	for _, prefix := range []string{"", "p"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			s := &archive.S3Store{Endpoint: endpoint, Bucket: "dirs", Prefix: prefix, AccessKey: user, SecretKey: secret}
			if err := s.Initialize(context.Background()); err != nil {
				t.Fatal(err)
			}
			testListDirs(t, s)
		})
	}
}
