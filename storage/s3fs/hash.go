package s3fs

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Hash implements ftpserver.Hasher from what the store already knows,
// for a whole object only: MD5 is the ETag of an object uploaded in one
// part without KMS or customer-key encryption (a multipart ETag, "…-N",
// is a hash of part hashes); SHA-256, SHA-1 and CRC32 are the object's
// x-amz-checksum-* values when it was uploaded with one that covers the
// whole object (not a composite of parts). Anything else is
// ErrNotSupported, and the server reads the object and hashes it itself.
func (f *FS) Hash(ctx context.Context, name, algo string, start, end int64) ([]byte, error) {
	k, err := f.begin(ctx, "hash", name)
	if err != nil {
		return nil, err
	}
	unsupported := &fs.PathError{Op: "hash", Path: name, Err: ftpserver.ErrNotSupported}
	if start != 0 {
		return nil, unsupported
	}
	info, err := f.store.client.StatObject(ctx, f.bucket, k, minio.StatObjectOptions{Checksum: true})
	if err = mapErr("hash", name, ctxErr(ctx, err)); err != nil {
		if isNotExist(err) && name != "/" {
			if _, derr := f.statDir(ctx, "hash", name, k+"/"); derr == nil {
				return nil, &fs.PathError{Op: "hash", Path: name, Err: ftpserver.ErrIsDir}
			}
		}
		return nil, err
	}
	if end >= 0 && end != info.Size {
		return nil, unsupported
	}
	var sum []byte
	switch algo {
	case "MD5":
		sum = etagMD5(info)
	case "SHA-256":
		sum = checksum(info, info.ChecksumSHA256, 32)
	case "SHA-1":
		sum = checksum(info, info.ChecksumSHA1, 20)
	case "CRC32":
		sum = checksum(info, info.ChecksumCRC32, 4)
	}
	if sum == nil {
		return nil, unsupported
	}
	return sum, nil
}

// etagMD5 is the MD5 an ETag is, or nil when it is something else.
func etagMD5(info minio.ObjectInfo) []byte {
	if info.Metadata.Get("X-Amz-Server-Side-Encryption") == "aws:kms" ||
		info.Metadata.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" {
		return nil
	}
	etag := strings.Trim(info.ETag, `"`)
	if len(etag) != 32 {
		return nil
	}
	sum, err := hex.DecodeString(etag)
	if err != nil {
		return nil
	}
	return sum
}

// checksum decodes a stored x-amz-checksum-* value of size bytes, or nil
// when the object has none for the whole object.
func checksum(info minio.ObjectInfo, value string, size int) []byte {
	if value == "" || strings.Contains(value, "-") || strings.EqualFold(info.ChecksumMode, "COMPOSITE") {
		return nil
	}
	sum, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(sum) != size {
		return nil
	}
	return sum
}

var _ ftpserver.Hasher = (*FS)(nil)
