package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/auth/postgres"
	"github.com/ferry-ftp/ferry/internal/pgtest"
)

func TestUsageLedger(t *testing.T) {
	t.Parallel()
	s := openStore(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	if err := s.Add(ctx, "alice", "pw", "/srv/alice", true); err != nil {
		t.Fatal(err)
	}
	u, err := s.Usage(ctx, "alice")
	if err != nil || u != (postgres.Usage{}) {
		t.Fatalf("new user's usage = %+v, %v; want none, not counted", u, err)
	}
	if err := s.SetQuota(ctx, "alice", 1000, 3); err != nil {
		t.Fatal(err)
	}
	if user, err := s.Lookup(ctx, "alice"); err != nil || user.QuotaBytes != 1000 || user.QuotaFiles != 3 {
		t.Fatalf("Lookup = %+v, %v; want the quota", user, err)
	}
	if err := s.InitUsage(ctx, "alice", 100, 1); err != nil {
		t.Fatal(err)
	}
	// A second count (another node's first login) does not overwrite.
	if err := s.InitUsage(ctx, "alice", 999, 9); err != nil {
		t.Fatal(err)
	}
	want := postgres.Usage{QuotaBytes: 1000, QuotaFiles: 3, UsedBytes: 100, UsedFiles: 1, Counted: true}
	if u, err := s.Usage(ctx, "alice"); err != nil || u != want {
		t.Fatalf("Usage = %+v, %v; want %+v", u, err, want)
	}
	if err := s.AddUsage(ctx, "alice", 901, 1, true); !errors.Is(err, postgres.ErrOverQuota) {
		t.Fatalf("AddUsage past the byte quota = %v", err)
	}
	if err := s.AddUsage(ctx, "alice", 1, 2, true); err != nil {
		t.Fatalf("AddUsage up to the file quota: %v", err)
	}
	if err := s.AddUsage(ctx, "alice", 0, 1, true); !errors.Is(err, postgres.ErrOverQuota) {
		t.Fatalf("AddUsage past the file quota = %v", err)
	}
	// Lowered below the usage: shrinking is still allowed, and never
	// below zero; unenforced changes (a published partial) always count.
	if err := s.SetQuota(ctx, "alice", 50, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUsage(ctx, "alice", -500, -5, true); err != nil {
		t.Fatalf("shrinking over a lowered quota: %v", err)
	}
	if err := s.AddUsage(ctx, "alice", 70, 1, false); err != nil {
		t.Fatal(err)
	}
	want = postgres.Usage{QuotaBytes: 50, UsedBytes: 70, UsedFiles: 1, Counted: true}
	if u, err := s.Usage(ctx, "alice"); err != nil || u != want {
		t.Fatalf("Usage = %+v, %v; want %+v", u, err, want)
	}
	if err := s.AddUsage(ctx, "bob", 1, 1, true); !errors.Is(err, auth.ErrNoSuchUser) {
		t.Fatalf("AddUsage of an unknown user = %v", err)
	}
}

// Many changes at once on one row, as from several nodes: together they
// never pass the quota.
func TestAddUsageConcurrent(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	nodes := []*postgres.Store{openStore(t, dsn), openStore(t, dsn)}
	ctx := context.Background()
	if err := nodes[0].Add(ctx, "alice", "pw", "/srv/alice", true); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].SetQuota(ctx, "alice", 1000, 0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := range 20 {
		wg.Go(func() {
			err := nodes[i%2].AddUsage(ctx, "alice", 100, 1, true)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, postgres.ErrOverQuota):
				refused++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	u, err := nodes[1].Usage(ctx, "alice")
	if ok != 10 || refused != 10 || err != nil || u.UsedBytes != 1000 || u.UsedFiles != 10 {
		t.Fatalf("%d accepted, %d refused, usage %+v (%v); want 10, 10, 1000 bytes in 10 files", ok, refused, u, err)
	}
}
