package config

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/auth/postgres"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/pgtest"
	"github.com/ferry-ftp/ferry/storage/memfs"
	"github.com/ferry-ftp/ferry/storage/quotafs"
)

// Two nodes (two stores, two quotafs over one shared file tree) commit an
// upload each at once; each fits the quota alone, not both: exactly one
// is published, the other refused with ErrQuota and left nowhere.
func TestDBLedgerTwoNodesCannotPassTheQuota(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	shared := memfs.New() // the bucket both nodes write to
	var nodes []ftpserver.FileSystem
	for range 2 {
		store, err := postgres.Open(ctx, dsn, postgres.Options{Algorithm: auth.Bcrypt})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(store.Close)
		if len(nodes) == 0 {
			if err := store.Add(ctx, "alice", "pw", "/srv", true); err != nil {
				t.Fatal(err)
			}
			if err := store.SetQuota(ctx, "alice", 1000, 0); err != nil {
				t.Fatal(err)
			}
		}
		a := &authenticator{users: store}
		u, err := store.Lookup(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		fsys, err := a.withQuota(ctx, u, shared)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := fsys.(*quotafs.FS); !ok {
			t.Fatalf("home of a user with a quota is a %T, not wrapped", fsys)
		}
		nodes = append(nodes, fsys)
	}
	names := []string{"/from-a", "/from-b"}
	var writers []ftpserver.FileWriter
	for i, fsys := range nodes {
		w, err := fsys.Create(ctx, names[i], ftpserver.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 600)); err != nil {
			t.Fatal(err)
		}
		writers = append(writers, w)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, w := range writers {
		wg.Go(func() { errs[i] = w.Commit(ctx) })
	}
	wg.Wait()
	var committed []string
	for i, err := range errs {
		switch {
		case err == nil:
			committed = append(committed, names[i])
		case errors.Is(err, ftpserver.ErrQuota):
			if _, err := shared.Stat(ctx, names[i]); err == nil {
				t.Errorf("%s refused but published", names[i])
			}
		default:
			t.Errorf("Commit %s: %v", names[i], err)
		}
	}
	if len(committed) != 1 {
		t.Fatalf("committed %v; want exactly one", committed)
	}
	store, _ := postgres.Open(ctx, dsn, postgres.Options{})
	defer store.Close()
	if u, err := store.Usage(ctx, "alice"); err != nil || u.UsedBytes != 600 || u.UsedFiles != 1 {
		t.Fatalf("usage %+v, %v; want 600 bytes in 1 file", u, err)
	}
}

// A user without a quota gets the home as it is: no wrapper, no cost.
func TestNoQuotaNoWrapper(t *testing.T) {
	t.Parallel()
	home := memfs.New()
	a := &authenticator{users: &fileStore{}}
	fsys, err := a.withQuota(context.Background(), &auth.User{Name: "bob"}, home)
	if err != nil || fsys != ftpserver.FileSystem(home) {
		t.Fatalf("withQuota without a quota = %T, %v; want the home itself", fsys, err)
	}
}
