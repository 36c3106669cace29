package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/salon/salon/archive/storetest"
)

// BenchmarkReplay measures the replay library on a real MinIO: the MP4
// download through salon against plain GetObject calls for the same bytes,
// and the re-cut of a 2-hour talk (3,600 segments). The recording is
// synthetic (segments of random bytes): only bytes and playlists matter here.
//
//	go test -run XXX -bench Replay -benchtime 5x ./cmd/salon
func BenchmarkReplay(b *testing.B) {
	endpoint, key, secret, _, _ := storetest.MinIO(b)
	bucket := "bench"
	a := testApp(b, func(c *Config) {
		c.Archive = "s3:http://" + endpoint + "/" + bucket
		c.AWSAccessKey, c.AWSSecretKey = key, secret
	})
	ctx := context.Background()
	cli, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(key, secret, "")})
	if err != nil {
		b.Fatal(err)
	}

	// One 2-hour run: 3,600 segments of 2 s; the first 150 are 1 MB (about
	// 4 Mbit/s), the rest 2 kB so that the setup stays quick.
	const segs, big, bigSize = 3600, 150, 1 << 20
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	run := start.Format("20060102T150405Z")
	prefix := "stages/main/" + run + "/"
	payload := bytes.Repeat([]byte("salon-bench-"), bigSize/12+1)[:bigSize]
	put := func(k string, body []byte) {
		if err := a.store.Put(ctx, k, bytes.NewReader(body), int64(len(body)), ""); err != nil {
			b.Fatal(err)
		}
	}
	put(prefix+"init-0.mp4", []byte("init"))
	var pl strings.Builder
	pl.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init-0.mp4\"\n")
	for i := 0; i < segs; i++ {
		body := payload
		if i >= big {
			body = payload[:2048]
		}
		put(fmt.Sprintf("%s%d.m4s", prefix, i), body)
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
	window("download", start, start.Add(big*2*time.Second))
	window("two-hours", start, start.Add(segs*2*time.Second))

	b.Run("download-mp4-via-salon", func(b *testing.B) {
		b.SetBytes(big*bigSize + 4)
		for i := 0; i < b.N; i++ {
			resp, err := http.Get(a.httpURL("/talks/download/download.mp4"))
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != big*bigSize+4 {
				b.Fatalf("downloaded %d bytes", n)
			}
		}
	})
	b.Run("getobject-same-bytes", func(b *testing.B) {
		b.SetBytes(big*bigSize + 4)
		keys := []string{prefix + "init-0.mp4"}
		for i := 0; i < big; i++ {
			keys = append(keys, fmt.Sprintf("%s%d.m4s", prefix, i))
		}
		for i := 0; i < b.N; i++ {
			for _, k := range keys {
				obj, err := cli.GetObject(ctx, bucket, k, minio.GetObjectOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, obj); err != nil {
					b.Fatal(err)
				}
				obj.Close()
			}
		}
	})
	b.Run("recut-two-hour-talk", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := a.library.Recut(ctx, "two-hours"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
