package storetest

import (
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// IncompleteUploads counts the multipart uploads left open in bucket: a
// failed streaming Put must abort its upload, or the parts stay stored (and
// billed) until a lifecycle rule removes them.
func IncompleteUploads(t testing.TB, endpoint, accessKey, secretKey, bucket string) int {
	t.Helper()
	cli, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for u := range cli.ListIncompleteUploads(context.Background(), bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list incomplete uploads of %s: %v", bucket, u.Err)
		}
		n++
	}
	return n
}
