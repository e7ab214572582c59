package s3fs

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SweepAbandoned aborts the incomplete multipart uploads under prefix in
// bucket that were initiated more than olderThan ago, and returns how
// many it aborted. A node killed mid-upload leaves its upload behind,
// holding storage until someone aborts it; an upload younger than
// olderThan may belong to a live STOR on any node and is left alone, so
// olderThan must exceed the longest upload (Options' abandoned_after,
// default DefaultAbandonedAfter). onAbort, if not nil, is called for each
// upload aborted (for the log).
//
// The store's clock decides an upload's age (Initiated), compared with
// this machine's: a skew between them shifts the cut-off by as much.
func (s *Store) SweepAbandoned(ctx context.Context, bucket, prefix string, olderThan time.Duration,
	onAbort func(key, uploadID string, initiated time.Time)) (int, error) {
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	cutoff := now().Add(-olderThan)
	aborted := 0
	sweep := func(listPrefix string) (seen bool, err error) {
		keyMarker, uploadMarker := "", ""
		for {
			page, err := s.core.ListMultipartUploads(ctx, bucket, listPrefix, keyMarker, uploadMarker, "", 1000)
			if err != nil {
				return seen, fmt.Errorf("s3: listing uploads in %s/%s: %w", bucket, prefix, ctxErr(ctx, err))
			}
			for _, u := range page.Uploads {
				seen = true
				if !strings.HasPrefix(u.Key, prefix) || !u.Initiated.Before(cutoff) {
					continue
				}
				if err := s.core.AbortMultipartUpload(ctx, bucket, u.Key, u.UploadID); err != nil {
					if isNotExist(mapErr("sweep", u.Key, err)) {
						continue // completed or aborted meanwhile
					}
					return seen, fmt.Errorf("s3: aborting an upload of %s: %w", u.Key, ctxErr(ctx, err))
				}
				aborted++
				if onAbort != nil {
					onAbort(u.Key, u.UploadID, u.Initiated)
				}
			}
			if !page.IsTruncated || page.NextKeyMarker == "" && page.NextUploadIDMarker == "" {
				return seen, nil
			}
			keyMarker, uploadMarker = page.NextKeyMarker, page.NextUploadIDMarker
		}
	}
	seen, err := sweep(prefix)
	if err != nil || seen || prefix == "" {
		return aborted, err
	}
	// MinIO lists uploads only for a prefix that is a whole key, and finds
	// none under a directory prefix: list them all and filter here.
	_, err = sweep("")
	return aborted, err
}
