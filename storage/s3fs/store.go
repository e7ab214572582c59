// Package s3fs serves an S3-compatible bucket (AWS S3, MinIO, Ceph RGW,
// Cloudflare R2, ...) as an ftpserver.FileSystem.
//
// A Store holds one connection pool to one endpoint; Store.FS gives the
// file system rooted at a bucket and an optional key prefix, so many
// accounts share the pool. Directories are key prefixes: Mkdir writes a
// zero-byte marker object "dir/" so that an empty directory exists, and a
// prefix holding any object is a directory whether or not it has a marker.
//
// Uploads stream as multipart uploads of unknown size with bounded memory
// (Options.PartSize x Options.Concurrency per upload); the object appears
// only when CompleteMultipartUpload succeeds. Downloads are ranged GETs
// with read-ahead. See the method documentation for how each FTP
// operation maps to S3 calls.
package s3fs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Defaults for Options' zero values.
const (
	DefaultPartSize       = 16 << 20
	DefaultConcurrency    = 4
	DefaultMaxRenameCount = 10000
	DefaultAbandonedAfter = 24 * time.Hour

	// minPartSize is S3's smallest part other than the last one.
	minPartSize = 5 << 20
	// maxCopyPartSize is S3's largest UploadPartCopy range (and largest
	// single CopyObject source).
	maxCopyPartSize = 5 << 30
	// maxParts is S3's largest part number.
	maxParts = 10000
)

// Options configure a Store.
type Options struct {
	// Endpoint is "host[:port]" or a URL ("https://host:9000",
	// "http://127.0.0.1:9000"). Empty means AWS S3 for Region. A bare
	// host uses HTTPS unless Insecure is set.
	Endpoint string
	// Insecure uses plain HTTP for a bare-host Endpoint.
	Insecure bool
	// Region is the bucket's region; empty lets the client discover it.
	Region string
	// PathStyle forces path-style requests (http://host/bucket/key),
	// which MinIO and most self-hosted stores need; false lets the
	// client choose (virtual-host style on AWS).
	PathStyle bool
	// Credentials; nil means anonymous requests.
	Credentials *credentials.Credentials

	// PartSize is the size of each uploaded part (default 16 MiB, at
	// least 5 MiB). An upload holds at most PartSize x Concurrency bytes
	// in memory.
	PartSize int64
	// Concurrency is how many parts of one upload are in flight, and how
	// many ranged GETs one download reads ahead (default 4).
	Concurrency int
	// MaxRenameCount is how many objects renaming a directory may move
	// (default 10,000); past it Rename fails before changing anything.
	MaxRenameCount int

	// Transport replaces the HTTP transport (tests, custom TLS roots).
	Transport http.RoundTripper
}

func (o Options) withDefaults() Options {
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxRenameCount <= 0 {
		o.MaxRenameCount = DefaultMaxRenameCount
	}
	return o
}

// Store is a connection to one S3 endpoint, shared by every FS made from
// it. It is safe for concurrent use.
type Store struct {
	client *minio.Client
	core   minio.Core
	opts   Options
	host   string // for messages: the endpoint without credentials
	// copyPartSize, when set, replaces S3's 5 GiB as the size above which
	// a copy is a multipart copy, and the size of its parts (tests).
	copyPartSize int64
	// now, when set, replaces time.Now as the clock the sweeper ages
	// uploads by (tests).
	now func() time.Time
}

// Connect prepares a Store. It does not talk to the endpoint yet; FS does.
func Connect(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if opts.PartSize < minPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of 5 MiB", opts.PartSize)
	}
	if opts.PartSize > maxCopyPartSize {
		return nil, fmt.Errorf("s3: part size %d is above S3's maximum of 5 GiB", opts.PartSize)
	}
	host, secure := "s3.amazonaws.com", true
	if opts.Region != "" && opts.Endpoint == "" {
		host = "s3." + opts.Region + ".amazonaws.com"
	}
	if opts.Endpoint != "" {
		var err error
		host, secure, err = parseEndpoint(opts.Endpoint, opts.Insecure)
		if err != nil {
			return nil, err
		}
	}
	creds := opts.Credentials
	if creds == nil {
		creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	}
	mo := &minio.Options{
		Creds:     creds,
		Secure:    secure,
		Region:    opts.Region,
		Transport: opts.Transport,
	}
	if opts.PathStyle {
		mo.BucketLookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, mo)
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint %s: %w", host, err)
	}
	return &Store{client: client, core: minio.Core{Client: client}, opts: opts, host: host}, nil
}

// parseEndpoint accepts "host[:port]" or "http(s)://host[:port]" with no
// path, user info or query.
func parseEndpoint(endpoint string, insecure bool) (host string, secure bool, err error) {
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?#@") || endpoint == "" {
			return "", false, fmt.Errorf("s3: endpoint %q: want host[:port] or http(s)://host[:port]", endpoint)
		}
		return endpoint, !insecure, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("s3: endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, fmt.Errorf("s3: endpoint %q: want http(s)://host[:port] with no path", u.Redacted())
	}
	return u.Host, u.Scheme == "https", nil
}

// Endpoint is the host (and port) requests go to, for messages.
func (s *Store) Endpoint() string { return s.host }

// ParseURL splits "s3://BUCKET/PREFIX" into the bucket and a clean
// prefix ("" or "a/b", no leading or trailing slash).
func ParseURL(raw string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URL", raw)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", raw)
	}
	if prefix != "" {
		prefix = strings.Trim(path.Clean("/"+prefix), "/")
	}
	return bucket, prefix, nil
}

// IsURL reports whether root names an S3 location rather than a host
// directory.
func IsURL(root string) bool { return strings.HasPrefix(root, "s3://") }

// FS is one bucket, or the part of it under a prefix, as an
// ftpserver.FileSystem. It is safe for concurrent use.
type FS struct {
	store  *Store
	bucket string
	// prefix is "" for the whole bucket, else "some/prefix/" (with the
	// trailing slash); every key this FS touches starts with it.
	prefix string
}

// FS returns the file system at bucket/prefix. It checks that the bucket
// exists and that the credentials can list it, and its error says which
// of endpoint, bucket or credentials is wrong without printing a secret.
func (s *Store) FS(ctx context.Context, bucket, prefix string) (*FS, error) {
	f := &FS{store: s, bucket: bucket}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		f.prefix = prefix + "/"
	}
	if len(f.prefix) >= maxKeyLen {
		return nil, fmt.Errorf("s3: the prefix of s3://%s/%s is %d bytes long and leaves no room for object keys (S3 allows %d)", bucket, prefix, len(f.prefix), maxKeyLen)
	}
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// check makes one small authenticated request (a one-key listing of the
// prefix) and explains a failure.
func (f *FS) check(ctx context.Context) error {
	_, err := f.store.core.ListObjectsV2(f.bucket, f.prefix, "", "", "/", 1)
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "NoSuchBucket":
			return fmt.Errorf("s3: bucket %q does not exist at %s", f.bucket, f.store.host)
		case "InvalidAccessKeyId":
			return fmt.Errorf("s3: %s does not know the access key (check AWS_ACCESS_KEY_ID or [s3] access_key)", f.store.host)
		case "SignatureDoesNotMatch":
			return fmt.Errorf("s3: %s refused the secret key for this access key (check AWS_SECRET_ACCESS_KEY or [s3] secret_key_file)", f.store.host)
		case "AccessDenied":
			return fmt.Errorf("s3: the credentials may not list bucket %q at %s", f.bucket, f.store.host)
		case "AuthorizationHeaderMalformed", "InvalidRegion":
			return fmt.Errorf("s3: %s rejected the region %q for bucket %q", f.store.host, f.store.opts.Region, f.bucket)
		}
		if resp.Code != "" {
			return fmt.Errorf("s3: bucket %q at %s: %s", f.bucket, f.store.host, resp.Code)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("s3: cannot reach endpoint %s: %w", f.store.host, err)
}

// String names the location, as s3://bucket/prefix.
func (f *FS) String() string {
	return "s3://" + f.bucket + "/" + strings.TrimSuffix(f.prefix, "/")
}

// key maps a virtual path ("/a/b") to its object key (prefix + "a/b").
// The root maps to the prefix itself. It refuses names that are not clean
// and absolute with ftpserver.ErrInvalidName, as storagetest requires.
func (f *FS) key(name string) (string, error) {
	if !validName(name) {
		return "", &fs.PathError{Op: "s3", Path: name, Err: ftpserver.ErrInvalidName}
	}
	k := f.prefix + name[1:]
	// Refused here, before any request: a HEAD of such a key fails with
	// a bare 400 that mapErr cannot tell from other bad requests. The
	// root is the prefix itself, which FS keeps short enough; an FS made
	// otherwise still gets no key S3 would refuse.
	if len(k) > maxKeyLen || backslashDots(name) {
		return "", &fs.PathError{Op: "s3", Path: name, Err: ftpserver.ErrInvalidName}
	}
	return k, nil
}

// backslashDots reports a name with "." or ".." between backslashes
// ("a\..\b"): MinIO refuses such keys (it splits on both separators
// when it looks for dot components), so they are refused on every store
// and a bucket's content can move between stores.
func backslashDots(name string) bool {
	if !strings.Contains(name, `\`) {
		return false
	}
	for part := range strings.FieldsFuncSeq(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == "." || part == ".." {
			return true
		}
	}
	return false
}

// dirKey maps a virtual directory path to the prefix its entries share
// ("" for the root of an unprefixed FS, else ending in "/"); it is also
// the key of the directory's marker object.
func (f *FS) dirKey(name string) (string, error) {
	k, err := f.key(name)
	if err != nil || name == "/" {
		return k, err
	}
	return k + "/", nil
}

// validName reports whether name is clean, absolute and free of NUL.
// S3 keys are at most 1,024 bytes; longer names are refused later by the
// store and mapped to ErrInvalidName.
func validName(name string) bool {
	return strings.HasPrefix(name, "/") && path.Clean(name) == name && !strings.ContainsRune(name, 0)
}

// mapErr turns an S3 error into what ftpserver understands, keeping the
// original wrapped for the server's log. Nothing of the S3 message reaches
// a client: ftpserver replies by kind only.
func mapErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	var kind error
	switch resp.Code {
	case "NoSuchKey", "NoSuchUpload", "NotFound":
		kind = fs.ErrNotExist
	case "AccessDenied", "AllAccessDisabled", "AccountProblem":
		kind = fs.ErrPermission
	case "KeyTooLongError", "InvalidObjectName", "XMinioInvalidObjectName", "XMinioInvalidResourceName":
		kind = ftpserver.ErrInvalidName
	case "PreconditionFailed":
		kind = fs.ErrExist
	case "QuotaExceeded", "XMinioAdminBucketQuotaExceeded":
		kind = ftpserver.ErrQuota
	case "XMinioStorageFull", "StorageFull":
		kind = ftpserver.ErrNoSpace
	case "SlowDown", "ServiceUnavailable", "RequestTimeTooSkewed", "XMinioServerNotInitialized", "OperationAborted":
		kind = ftpserver.ErrUnavailable
	default:
		switch {
		case resp.StatusCode == http.StatusNotFound && resp.Code == "":
			kind = fs.ErrNotExist
		case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
			kind = ftpserver.ErrUnavailable
		}
	}
	if kind == nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return &fs.PathError{Op: op, Path: name, Err: &kindError{kind: kind, err: err}}
}

// kindError carries both the sentinel the server matches and the S3
// error for the log.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
