package config

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/storage/localfs"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// tempSweeper removes, once per home directory when it is first opened,
// the upload temporary files that a crashed ferry left there (see
// localfs.SweepTemp), in the background: a big tree must not hold up the
// start or a login. Each removal and the total are logged.
type tempSweeper struct {
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTempSweeper(logger *slog.Logger) *tempSweeper {
	ctx, cancel := context.WithCancel(context.Background())
	return &tempSweeper{logger: logger, ctx: ctx, cancel: cancel}
}

// start sweeps the home dir served by fsys.
func (s *tempSweeper) start(dir string, fsys *localfs.FS) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		files, bytes, err := fsys.SweepTemp(s.ctx, localfs.TempGrace, func(f localfs.SweptFile) {
			s.logger.Info("removed a stale upload temp file", "home", dir, "file", f.Name, "size", f.Size, "age", f.Age.Round(time.Second))
		})
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.logger.Warn("sweeping stale upload temp files stopped", "home", dir, "files", files, "bytes", bytes, "err", err)
		case files > 0:
			s.logger.Info("swept stale upload temp files", "home", dir, "files", files, "bytes", bytes)
		}
	}()
}

// stop tells the sweeps still running to end.
func (s *tempSweeper) stop() { s.cancel() }

// wait waits for the sweeps to end; no start may come after it.
func (s *tempSweeper) wait() { s.wg.Wait() }

// startS3 aborts, in the background, the incomplete multipart uploads
// under an S3 root that are older than olderThan: a node killed mid-upload
// leaves them behind, and the store bills for their parts.
func (s *tempSweeper) startS3(root string, store *s3fs.Store, bucket, prefix string, olderThan time.Duration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		n, err := store.SweepAbandoned(s.ctx, bucket, prefix, olderThan, func(key, uploadID string, initiated time.Time) {
			s.logger.Info("aborted an abandoned S3 upload", "root", root, "key", key, "upload_id", uploadID, "age", time.Since(initiated).Round(time.Second))
		})
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.logger.Warn("sweeping abandoned S3 uploads stopped", "root", root, "aborted", n, "err", err)
		case n > 0:
			s.logger.Info("swept abandoned S3 uploads", "root", root, "aborted", n)
		}
	}()
}
