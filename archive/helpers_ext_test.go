package archive_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive"
	"github.com/salon/salon/archive/storetest"
)

// onDirAndMinIO runs test in parallel on a directory store and on a bucket
// of a real MinIO: what two nodes sharing one archive may race on must hold
// on both (DirStore's conditional writes use flock, S3's ETags).
func onDirAndMinIO(t *testing.T, bucket string, test func(*testing.T, archive.Store)) {
	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		s := &archive.DirStore{Root: t.TempDir()}
		if err := s.Initialize(); err != nil {
			t.Fatal(err)
		}
		test(t, s)
	})
	t.Run("minio", func(t *testing.T) {
		t.Parallel()
		endpoint, user, secret, _, _ := storetest.MinIO(t)
		s := &archive.S3Store{Endpoint: endpoint, Bucket: bucket, AccessKey: user, SecretKey: secret}
		if err := s.Initialize(t.Context()); err != nil {
			t.Fatal(err)
		}
		test(t, s)
	})
}

// openLibrary opens a talk library over s, as a node starting on that
// bucket would, whose clock reads now.
func openLibrary(t *testing.T, s archive.Store, now time.Time) *archive.Library {
	t.Helper()
	l := &archive.Library{Store: s, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	if err := l.Initialize(t.Context()); err != nil {
		t.Fatal(err)
	}
	return l
}

// putStageRun puts the finished playlist of a run of stage main that began
// at start: 30 segments of 2 s (0.m4s … 29.m4s).
func putStageRun(t *testing.T, s archive.Store, start time.Time) {
	t.Helper()
	var pl strings.Builder
	pl.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init-0.mp4\"\n")
	for i := range 30 {
		fmt.Fprintf(&pl, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:2.000,\n%d.m4s\n",
			start.Add(time.Duration(i)*2*time.Second).Format("2006-01-02T15:04:05.000Z07:00"), i)
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	key := "stages/main/" + start.UTC().Format("20060102T150405Z") + "/index.m3u8"
	if err := s.Put(t.Context(), key, strings.NewReader(pl.String()), int64(pl.Len()), ""); err != nil {
		t.Fatal(err)
	}
}
