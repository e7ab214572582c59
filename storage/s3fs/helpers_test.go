package s3fs

import (
	"bytes"
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/internal/miniotest"
)

// testFS is a fresh bucket on the shared MinIO with an FS on it, rooted
// at prefix, and a raw client to seed and inspect objects.
type testFS struct {
	*FS
	raw    *minio.Client
	bucket string
}

func newTestFS(t testing.TB, prefix string, opts Options) *testFS {
	t.Helper()
	srv := miniotest.Shared(t)
	bucket := miniotest.NewBucket(t, srv)
	opts.Endpoint = srv.URL()
	opts.PathStyle = true
	opts.Credentials = credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")
	store, err := Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := store.FS(t.Context(), bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return &testFS{FS: fsys, raw: srv.Client(t), bucket: bucket}
}

// seed writes an object with the raw client.
func (tf *testFS) seed(t testing.TB, key string, data []byte, meta map[string]string) {
	t.Helper()
	_, err := tf.raw.PutObject(context.Background(), tf.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{UserMetadata: meta})
	if err != nil {
		t.Fatalf("seeding %s: %v", key, err)
	}
}

// keys lists every key in the bucket.
func (tf *testFS) keys(t testing.TB) []string {
	t.Helper()
	var out []string
	for obj := range tf.raw.ListObjectsIter(context.Background(), tf.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out = append(out, obj.Key)
	}
	return out
}
