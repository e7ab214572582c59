package quotafs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// MemLedger is a Ledger in memory, for a users file on one node: the
// node is the only writer, so its count is the truth.
type MemLedger struct {
	mu     sync.Mutex
	limits Limits
	usage  Usage
}

// NewMemLedger starts a ledger at usage.
func NewMemLedger(limits Limits, usage Usage) *MemLedger {
	return &MemLedger{limits: limits, usage: usage}
}

// SetLimits changes the limits (a users file reloaded); the usage stays.
func (m *MemLedger) SetLimits(l Limits) {
	m.mu.Lock()
	m.limits = l
	m.mu.Unlock()
}

func (m *MemLedger) Read(context.Context) (Limits, Usage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.limits, m.usage, nil
}

func (m *MemLedger) Apply(_ context.Context, deltaBytes, deltaFiles int64, enforce bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if enforce && Exceeds(m.limits, m.usage, deltaBytes, deltaFiles) {
		return ErrOverQuota
	}
	// Never below zero: a file made outside ferry and deleted through it
	// was never counted.
	m.usage.Bytes = max(m.usage.Bytes+deltaBytes, 0)
	m.usage.Files = max(m.usage.Files+deltaFiles, 0)
	return nil
}

// ErrOverQuota is what ledgers return when enforcing refuses a change.
var ErrOverQuota = fmt.Errorf("quota: %w", ftpserver.ErrQuota)

// listBatch is how many entries Walk asks a directory for at a time.
const listBatch = 256

// Walk counts the bytes and files under root of fsys, to start a ledger
// for a user whose usage is not known yet (the first login).
func Walk(ctx context.Context, fsys ftpserver.FileSystem, root string) (Usage, error) {
	var usage Usage
	dirs := []string{root}
	for len(dirs) > 0 {
		dir := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		lister, err := fsys.List(ctx, dir)
		if err != nil {
			return Usage{}, fmt.Errorf("counting usage in %s: %w", dir, err)
		}
		for {
			entries, err := lister.Next(listBatch)
			for _, e := range entries {
				switch {
				case e.IsDir():
					dirs = append(dirs, path.Join(dir, e.Name()))
				case e.Mode().IsRegular():
					usage.Bytes += e.Size()
					usage.Files++
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				lister.Close()
				return Usage{}, fmt.Errorf("counting usage in %s: %w", dir, err)
			}
		}
		lister.Close()
	}
	return usage, nil
}
