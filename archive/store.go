// Package archive is salon's replay library: the bucket (or directory) that
// holds every stage's recorded segments and every talk's replay, and the
// recorder that moves finished live segments into it without ever making the
// live path wait.
package archive

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) by Get and Stat for a key that does not exist.
var ErrNotFound = errors.New("object not found")

// ErrInvalidRange is returned (wrapped) by Get for an offset past the end of
// the object, a negative offset, or a length below -1.
var ErrInvalidRange = errors.New("invalid range")

// ErrPreconditionFailed is returned (wrapped) by PutIf when the object is
// not as the condition says: its ETag is not IfMatch (or it is missing), or
// it exists when IfNoneMatch asked that it does not. Nothing is written; the
// caller reads the object again and decides.
var ErrPreconditionFailed = errors.New("precondition failed: the object changed since it was read")

// Condition is the precondition of a conditional write (PutIf), as HTTP's
// If-Match and If-None-Match: * on an object's ETag.
type Condition struct {
	// IfMatch writes only over an object whose ETag is this one.
	IfMatch string
	// IfNoneMatch writes only when no object has the key (a create).
	IfNoneMatch bool
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key         string
	Size        int64
	ModTime     time.Time
	ContentType string
	ETag        string // opaque; changes when the content changes
}

// Store is the small interface the archive needs from its storage. Keys are
// slash-separated relative paths ("stages/main/20190421T013000Z/17.m4s"),
// validated by ValidKey before any backend sees them. Implementations are safe
// for concurrent use. DirStore and S3Store satisfy it, and one contract test
// suite (archive/storetest) runs against both.
type Store interface {
	// Put stores the object atomically: readers see the old object or the
	// whole new one, never a part. size is -1 when unknown (streamed);
	// otherwise exactly size bytes are read, and a reader that ends sooner
	// is an error that stores nothing. contentType "" means
	// ContentTypeFor(key).
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get reads length bytes from offset (length -1: to the end). The
	// returned info describes the whole object. Ranges follow HTTP: a length
	// reaching past the end is cut at the end; offset == size (or length 0)
	// gives an empty reader; offset > size is ErrInvalidRange.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, ObjectInfo, error)
	// Stat describes an object without reading it.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// PutIf stores data (a small object: talk.json, a playlist) only when
	// cond holds, atomically with the check, and returns the new object's
	// ETag; ErrPreconditionFailed when cond does not hold. It is how nodes
	// sharing a bucket update one object without losing each other's
	// writes: read (ETag), change, PutIf(IfMatch), and on
	// ErrPreconditionFailed read again and retry. A Condition with neither
	// field set writes unconditionally. contentType "" means
	// ContentTypeFor(key).
	PutIf(ctx context.Context, key string, data []byte, contentType string, cond Condition) (etag string, err error)
}
