package s3fs

import (
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/internal/testwait"
)

// uploads lists the incomplete uploads of the bucket by key.
func uploads(t *testing.T, tf *testFS) map[string]minio.ObjectMultipartInfo {
	t.Helper()
	res, err := tf.store.core.ListMultipartUploads(t.Context(), tf.bucket, "", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]minio.ObjectMultipartInfo{}
	for _, u := range res.Uploads {
		out[u.Key] = u
	}
	return out
}

// The sweeper aborts uploads older than the cut-off under its prefix and
// never a younger one, nor one outside the prefix.
func TestSweepAbandoned(t *testing.T) {
	t.Parallel()
	tf := newTestFS(t, "", Options{})
	ctx := t.Context()
	start := func(key string) {
		t.Helper()
		if _, err := tf.store.core.NewMultipartUpload(ctx, tf.bucket, key, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	start("home/a/old")
	start("home/old2")
	start("elsewhere/old")
	var newestOld time.Time
	for _, u := range uploads(t, tf) {
		if u.Initiated.After(newestOld) {
			newestOld = u.Initiated
		}
	}
	// The live upload must start later by the store's clock (which is
	// this machine's; listings show milliseconds).
	testwait.For(t, "the clock to pass the old uploads' start", func() bool {
		return time.Since(newestOld) > 2*time.Millisecond
	})
	start("home/live")
	live := uploads(t, tf)["home/live"].Initiated
	if !live.After(newestOld) {
		t.Fatalf("the live upload started at %v, not after the old ones (%v)", live, newestOld)
	}
	// The sweeper's clock stands where the cut-off falls between them.
	const olderThan = time.Hour
	cutoff := newestOld.Add(live.Sub(newestOld) / 2)
	tf.store.now = func() time.Time { return cutoff.Add(olderThan) }

	var aborted []string
	n, err := tf.store.SweepAbandoned(ctx, tf.bucket, "home/", olderThan, func(key, uploadID string, initiated time.Time) {
		if uploadID == "" || !initiated.Before(cutoff) {
			t.Errorf("onAbort(%s, %q, %v): want an upload from before %v", key, uploadID, initiated, cutoff)
		}
		aborted = append(aborted, key)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(aborted)
	if n != 2 || !slices.Equal(aborted, []string{"home/a/old", "home/old2"}) {
		t.Errorf("swept %d: %q; want home/a/old and home/old2", n, aborted)
	}
	left := uploads(t, tf)
	if _, ok := left["home/live"]; !ok || len(left) != 2 {
		t.Errorf("uploads left: %v; want home/live and elsewhere/old", left)
	}
	if n, err := tf.store.SweepAbandoned(ctx, tf.bucket, "nothing/", 0, nil); err != nil || n != 0 {
		t.Errorf("sweep of an empty prefix = %d, %v", n, err)
	}
}
