package s3fs

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/miniotest"
)

func TestHash(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	ctx := t.Context()
	data := []byte("the quick brown fox")
	// Checksums are stored only when the client sends them, in trailers.
	srv := miniotest.Shared(t)
	raw, err := minio.New(srv.Endpoint, &minio.Options{
		Creds:           credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		BucketLookup:    minio.BucketLookupPath,
		TrailingHeaders: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, data []byte, opts minio.PutObjectOptions) {
		t.Helper()
		if _, err := raw.PutObject(ctx, tf.bucket, key, bytes.NewReader(data), int64(len(data)), opts); err != nil {
			t.Fatal(err)
		}
	}
	put("plain", data, minio.PutObjectOptions{})
	put("sha256", data, minio.PutObjectOptions{Checksum: minio.ChecksumSHA256})
	put("sha1", data, minio.PutObjectOptions{Checksum: minio.ChecksumSHA1})
	put("crc32", data, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32})
	big := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	put("multipart", big, minio.PutObjectOptions{PartSize: 5 << 20, Checksum: minio.ChecksumSHA256})
	tf.seed(t, "dir/", nil, nil)

	md := md5.Sum(data)
	sh := sha256.Sum256(data)
	s1 := sha1.Sum(data)
	crc := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	for _, tc := range []struct {
		name, algo string
		want       []byte
	}{
		{"/plain", "MD5", md[:]},
		{"/sha256", "MD5", md[:]},
		{"/sha256", "SHA-256", sh[:]},
		{"/sha1", "SHA-1", s1[:]},
		{"/crc32", "CRC32", crc},
	} {
		for _, end := range []int64{-1, int64(len(data))} {
			got, err := tf.Hash(ctx, tc.name, tc.algo, 0, end)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("Hash(%s, %s, 0, %d) = %x, %v; want %x", tc.name, tc.algo, end, got, err, tc.want)
			}
		}
	}
	for _, tc := range []struct {
		name, algo string
		start, end int64
		target     error
	}{
		{"/plain", "SHA-256", 0, -1, ftpserver.ErrNotSupported}, // no stored checksum
		{"/plain", "CRC32", 0, -1, ftpserver.ErrNotSupported},
		{"/plain", "SHA-512", 0, -1, ftpserver.ErrNotSupported},
		{"/plain", "MD5", 1, -1, ftpserver.ErrNotSupported}, // ranges are streamed
		{"/plain", "MD5", 0, 5, ftpserver.ErrNotSupported},
		{"/multipart", "MD5", 0, -1, ftpserver.ErrNotSupported},     // ETag of parts
		{"/multipart", "SHA-256", 0, -1, ftpserver.ErrNotSupported}, // composite checksum
		{"/dir", "MD5", 0, -1, ftpserver.ErrIsDir},
		{"/missing", "MD5", 0, -1, fs.ErrNotExist},
	} {
		got, err := tf.Hash(ctx, tc.name, tc.algo, tc.start, tc.end)
		if !errIs(err, tc.target) {
			t.Errorf("Hash(%s, %s, %d, %d) = %x, %v; want %v", tc.name, tc.algo, tc.start, tc.end, got, err, tc.target)
		}
	}
}
