package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/salon/salon/archive/storetest"
)

// BenchmarkReplay measures the re-cut of a 2-hour talk (3,600 segments) on a
// real MinIO. The recording is synthetic (segments of a few bytes): only the
// playlists matter here. The MP4 download against GetObject is measured over
// real media by BenchmarkBundle.
//
//	go test -run XXX -bench Replay -benchtime 5x ./cmd/salon
func BenchmarkReplay(b *testing.B) {
	endpoint, key, secret, _, _ := storetest.MinIO(b)
	a := testApp(b, func(c *Config) {
		c.Archive = "s3:http://" + endpoint + "/bench"
		c.AWSAccessKey, c.AWSSecretKey = key, secret
	})
	ctx := context.Background()

	// One 2-hour run: 3,600 segments of 2 s.
	const segs = 3600
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	run := start.Format("20060102T150405Z")
	prefix := "stages/main/" + run + "/"
	put := func(k string, body []byte) {
		if err := a.store.Put(ctx, k, bytes.NewReader(body), int64(len(body)), ""); err != nil {
			b.Fatal(err)
		}
	}
	put(prefix+"init-0.mp4", []byte("init"))
	var pl strings.Builder
	pl.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init-0.mp4\"\n")
	for i := 0; i < segs; i++ {
		put(fmt.Sprintf("%s%d.m4s", prefix, i), []byte("segment"))
		fmt.Fprintf(&pl, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:2.000,\n%d.m4s\n", start.Add(time.Duration(i)*2*time.Second).Format("2006-01-02T15:04:05.000Z"), i)
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	put(prefix+"index.m3u8", []byte(pl.String()))

	window := func(id string, from, to time.Time) {
		if code, m := api(b, a, "POST", "/api/talks", fmt.Sprintf(`{"id":%q,"title":"Bench","stage":"main"}`, id)); code != 201 {
			b.Fatalf("create: %d %v", code, m)
		}
		body := fmt.Sprintf(`{"recording":{"start":%q,"end":%q}}`, from.Format(time.RFC3339), to.Format(time.RFC3339))
		if code, m := api(b, a, "PATCH", "/api/talks/"+id, body); code != 200 {
			b.Fatalf("patch: %d %v", code, m)
		}
	}
	window("two-hours", start, start.Add(segs*2*time.Second))

	b.Run("recut-two-hour-talk", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := a.library.Recut(ctx, "two-hours"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
