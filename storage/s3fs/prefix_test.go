package s3fs

import (
	"strings"
	"testing"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// TestFSRefusesPrefixWithoutRoom: a prefix that leaves no room for a key
// (S3 keys are at most 1,024 bytes) is a clear error at start, before any
// request, rather than an FS whose every key is refused.
func TestFSRefusesPrefixWithoutRoom(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: reaching the network would fail otherwise.
	store, err := Connect(Options{Endpoint: "http://127.0.0.1:1", PathStyle: true,
		Credentials: credentials.NewStaticV4("k", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.FS(t.Context(), "bucket", strings.Repeat("p", maxKeyLen))
	if err == nil || !strings.Contains(err.Error(), "leaves no room for object keys") {
		t.Fatalf("FS with a %d-byte prefix: %v", maxKeyLen, err)
	}
	_, err = store.FS(t.Context(), "bucket", strings.Repeat("p", maxKeyLen-2))
	if err == nil || strings.Contains(err.Error(), "leaves no room") {
		t.Fatalf("FS with a %d-byte prefix: %v, want the endpoint's error", maxKeyLen-2, err)
	}
}
