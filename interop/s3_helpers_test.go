package interop

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// s3Prefix is the key prefix the test servers' accounts are rooted at, so
// that the mapping of paths to keys under a prefix is what every test
// exercises, as a deployment with s3://bucket/prefix roots does.
const s3Prefix = "site/home"

// s3Server is a testServer whose accounts serve a fresh bucket (under
// s3Prefix) of a real MinIO instead of a local directory.
type s3Server struct {
	*testServer
	minio  *miniotest.Server
	bucket string
	client *minio.Client // raw client with the root credentials, to check
}

// startS3Server starts an ftpserver.Server on 127.0.0.1:0 whose alice and
// anonymous accounts (see startServer) serve an s3fs.FS on a new bucket
// of srv, with /incoming as the anonymous upload directory. opts sets the
// backend's tuning; its endpoint and credentials are srv's.
func startS3Server(t *testing.T, srv *miniotest.Server, opts s3fs.Options, configure ...func(*ftpserver.Server)) *s3Server {
	t.Helper()
	bucket := miniotest.NewBucket(t, srv)
	opts.Endpoint = srv.URL()
	opts.PathStyle = true
	opts.Credentials = credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")
	store, err := s3fs.Connect(opts)
	if err != nil {
		t.Fatalf("s3fs.Connect: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fsys, err := store.FS(ctx, bucket, s3Prefix)
	if err != nil {
		t.Fatalf("s3fs FS: %v", err)
	}
	ss := &s3Server{minio: srv, bucket: bucket, client: srv.Client(t)}
	ss.mkdirObject(t, uploadDir)
	ss.testServer = serveFS(t, fsys, configure...)
	return ss
}

// key is the object key behind virtual path p ("/a/b"); for "/" it is
// the prefix the accounts are rooted at, without a trailing slash.
func (ss *s3Server) key(p string) string {
	if p = path.Clean(p); p == "/" {
		return s3Prefix
	}
	return s3Prefix + "/" + strings.TrimPrefix(p, "/")
}

// putObject stores data at virtual path p directly in the bucket.
func (ss *s3Server) putObject(t *testing.T, p string, data []byte) {
	t.Helper()
	// Generous: the erasure test puts 200 MiB on a shared CI machine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := ss.client.PutObject(ctx, ss.bucket, ss.key(p), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("putting %s: %v", p, err)
	}
}

// mkdirObject writes the marker object that makes directory p exist.
func (ss *s3Server) mkdirObject(t *testing.T, p string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := ss.client.PutObject(ctx, ss.bucket, ss.key(p)+"/", bytes.NewReader(nil), 0, minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("making directory %s: %v", p, err)
	}
}

// object returns the content of the object at virtual path p, or an
// error matching fs.ErrNotExist when there is none.
func (ss *s3Server) object(t *testing.T, p string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obj, err := ss.client.GetObject(ctx, ss.bucket, ss.key(p), minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return nil, fs.ErrNotExist
	}
	return b, err
}

// wantObject fails the test unless the object at virtual path p holds
// exactly want.
func (ss *s3Server) wantObject(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := ss.object(t, p)
	if err != nil {
		t.Errorf("object %s: %v", p, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("object %s: got %d bytes (sha256 %s), want %d bytes (sha256 %s)",
			p, len(got), sum(got), len(want), sum(want))
	}
}

// wantNoObject fails the test if there is an object at virtual path p, or
// one under it (p is then a directory).
func (ss *s3Server) wantNoObject(t *testing.T, p string) {
	t.Helper()
	keys := ss.keys(t, p)
	if len(keys) != 0 {
		t.Errorf("%s: want nothing there, got objects %q", p, keys)
	}
}

// keys lists the object at virtual path p and every object under it.
func (ss *s3Server) keys(t *testing.T, p string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := ss.key(p)
	var out []string
	for o := range ss.client.ListObjects(ctx, ss.bucket, minio.ListObjectsOptions{Prefix: k, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("listing %s: %v", p, o.Err)
		}
		if o.Key == k || strings.HasPrefix(o.Key, k+"/") {
			out = append(out, o.Key)
		}
	}
	return out
}

// pendingUploadBytes is how many bytes the parts of the unfinished
// multipart uploads to virtual path p hold in the store so far.
func (ss *s3Server) pendingUploadBytes(t *testing.T, p string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	core := minio.Core{Client: ss.client}
	key := ss.key(p)
	var total int64
	for u := range ss.client.ListIncompleteUploads(ctx, ss.bucket, key, true) {
		if u.Err != nil {
			t.Fatalf("listing uploads to %s: %v", p, u.Err)
		}
		if u.Key != key {
			continue
		}
		for marker := 0; ; {
			parts, err := core.ListObjectParts(ctx, ss.bucket, key, u.UploadID, marker, 1000)
			if minio.ToErrorResponse(err).Code == "NoSuchUpload" {
				break // completed or aborted meanwhile
			}
			if err != nil {
				t.Fatalf("listing the parts of an upload to %s: %v", p, err)
			}
			for _, part := range parts.ObjectParts {
				total += part.Size
			}
			if !parts.IsTruncated {
				break
			}
			marker = parts.NextPartNumberMarker
		}
	}
	return total
}

// objectTree is treeDigest for the virtual directory p in the bucket:
// every object below it by its SHA-256, and every directory (a marker, or
// a prefix some object has) as "dir".
func (ss *s3Server) objectTree(t *testing.T, p string) map[string]string {
	t.Helper()
	base := ss.key(p) + "/"
	out := make(map[string]string)
	for _, k := range ss.keys(t, p) {
		rel, ok := strings.CutPrefix(k, base)
		if !ok || rel == "" {
			continue // the directory's own marker
		}
		if dir, isMarker := strings.CutSuffix(rel, "/"); isMarker {
			out[dir] = "dir"
		} else {
			b, err := ss.object(t, path.Join(p, rel))
			if err != nil {
				t.Fatalf("reading %s: %v", k, err)
			}
			out[rel] = sum(b)
		}
		for d := path.Dir(strings.TrimSuffix(rel, "/")); d != "."; d = path.Dir(d) {
			out[d] = "dir"
		}
	}
	return out
}

// fileSize is the size of a local file, 0 while it does not exist.
func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// goftpListing lists dir with jlaffaye/ftp and returns each entry as
// "dir" or "file SIZE".
func goftpListing(t *testing.T, c *goftp.ServerConn, dir string) map[string]string {
	t.Helper()
	entries, err := c.List(dir)
	if err != nil {
		t.Fatalf("List %q: %v", dir, err)
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		switch e.Type {
		case goftp.EntryTypeFolder:
			out[e.Name] = "dir"
		case goftp.EntryTypeFile:
			out[e.Name] = "file " + strconv.FormatUint(e.Size, 10)
		default:
			out[e.Name] = e.Type.String()
		}
	}
	return out
}

// clientProcess is a client program running beside the test, to be
// killed in the middle of what it does.
type clientProcess struct {
	cmd    *exec.Cmd
	killed bool
}

// startClient starts name in dir; it is killed when the test ends if
// the test has not killed it.
func startClient(t *testing.T, dir, name string, args ...string) *clientProcess {
	t.Helper()
	p := &clientProcess{cmd: exec.Command(name, args...)}
	p.cmd.Dir = dir
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.killed {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// kill kills the program and waits for it to exit.
func (p *clientProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	p.killed = true
}
