package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/auth/postgres"
	"github.com/ferry-ftp/ferry/internal/pgtest"
)

func openStore(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	// bcrypt at its lowest allowed cost keeps the tests quick; the
	// algorithm is the store's choice, not part of what is tested.
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{Algorithm: auth.Bcrypt})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	n, err := postgres.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("first Migrate applied %d steps, want at least 1", n)
	}
	v, err := postgres.SchemaVersion(ctx, pool)
	if err != nil || v != n {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, n)
	}
	if again, err := postgres.Migrate(ctx, pool); err != nil || again != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0 steps", again, err)
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM ferry_schema_migrations").Scan(&rows); err != nil || rows != n {
		t.Fatalf("ferry_schema_migrations has %d rows (%v), want %d", rows, err, n)
	}
}

// Nodes of a cluster start at once: each migrates, exactly one applies
// the steps, none fails.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	const nodes = 6
	applied := make([]int, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			applied[i], errs[i] = postgres.Migrate(ctx, pool)
		})
	}
	wg.Wait()
	total, appliers := 0, 0
	for i := range nodes {
		if errs[i] != nil {
			t.Errorf("node %d: %v", i, errs[i])
		}
		if applied[i] > 0 {
			appliers++
			total += applied[i]
		}
	}
	if appliers != 1 || total < 1 {
		t.Fatalf("steps applied per node = %v, want all by exactly one node", applied)
	}
}

func TestStoreAccounts(t *testing.T) {
	t.Parallel()
	s := openStore(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	if err := s.Add(ctx, "alice", "secret1", "/srv/ftp/alice", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "bob", "secret2", "s3://bucket/bob/", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "alice", "x", "/elsewhere", false); !errors.Is(err, auth.ErrUserExists) {
		t.Fatalf("adding alice twice: %v, want ErrUserExists", err)
	}
	if err := s.Add(ctx, "anonymous", "x", "/x", false); !errors.Is(err, auth.ErrInvalidName) {
		t.Fatalf("adding anonymous: %v, want ErrInvalidName", err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "alice" || list[0].Home != "/srv/ftp/alice" || !list[0].Write ||
		list[1].Name != "bob" || list[1].Home != "s3://bucket/bob/" || list[1].Write {
		t.Fatalf("List = %+v", list)
	}
	// The hash is the users file's format: auth's own check accepts it.
	if ok, err := auth.CheckPassword(list[0].PasswordHash, "secret1"); !ok || err != nil {
		t.Fatalf("stored hash %q does not check with auth.CheckPassword: %v", list[0].PasswordHash, err)
	}
	if list[0].Algorithm() != auth.Bcrypt {
		t.Fatalf("algorithm %v, want bcrypt", list[0].Algorithm())
	}

	u, err := s.Verify(ctx, "alice", "secret1")
	if err != nil || u.Name != "alice" || !u.Write {
		t.Fatalf("Verify(alice, right) = %+v, %v", u, err)
	}
	if _, err := s.Verify(ctx, "alice", "wrong"); !errors.Is(err, auth.ErrAuthFailed) {
		t.Fatalf("Verify(alice, wrong) = %v, want ErrAuthFailed", err)
	}
	if _, err := s.Verify(ctx, "nobody", "secret1"); !errors.Is(err, auth.ErrAuthFailed) {
		t.Fatalf("Verify(nobody) = %v, want ErrAuthFailed", err)
	}

	if err := s.SetPassword(ctx, "alice", "new-secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, "alice", "secret1"); !errors.Is(err, auth.ErrAuthFailed) {
		t.Fatalf("old password after SetPassword: %v, want ErrAuthFailed", err)
	}
	if _, err := s.Verify(ctx, "alice", "new-secret"); err != nil {
		t.Fatalf("new password after SetPassword: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody", "x"); !errors.Is(err, auth.ErrNoSuchUser) {
		t.Fatalf("SetPassword(nobody) = %v, want ErrNoSuchUser", err)
	}

	if err := s.Delete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bob"); !errors.Is(err, auth.ErrNoSuchUser) {
		t.Fatalf("deleting bob twice: %v, want ErrNoSuchUser", err)
	}
	if _, err := s.Lookup(ctx, "bob"); !errors.Is(err, auth.ErrNoSuchUser) {
		t.Fatalf("Lookup(bob) after Delete = %v, want ErrNoSuchUser", err)
	}
}

// A login holds no connection while its hash is checked: with a pool of
// one, a second login's query is answered while the first is hashing.
// The pool's acquire count shows that each Verify took and gave back the
// connection (a held one would deadlock the concurrent Lookup).
func TestVerifyReleasesConnection(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 1, Algorithm: auth.Bcrypt})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Add(ctx, "alice", "secret1", "/srv", false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = s.Verify(ctx, "alice", "secret1") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("login %d: %v", i, err)
		}
	}
	if st := s.Pool().Stat(); st.AcquiredConns() != 0 || st.MaxConns() != 1 {
		t.Fatalf("after the logins: %d connections held (want 0), pool of %d (want 1)", st.AcquiredConns(), st.MaxConns())
	}
}

func TestOpenBadDSNHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://u:hunter2@127.0.0.1:notaport/db", postgres.Options{})
	if err == nil {
		t.Fatal("Open with a bad DSN succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") {
		t.Fatalf("error shows the password: %s", msg)
	}
}

// A disabled row fails at login as a wrong password does, after its hash
// is checked; AddUser writes the mark and the quotas in its one INSERT.
func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	s := openStore(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	if err := s.AddUser(ctx, auth.User{Name: "alice", Home: "/srv/alice", QuotaBytes: 1000, Disabled: true}, "pw"); err != nil {
		t.Fatal(err)
	}
	u, err := s.Lookup(ctx, "alice")
	if err != nil || !u.Disabled || u.QuotaBytes != 1000 || u.QuotaFiles != 0 {
		t.Fatalf("Lookup = %+v, %v", u, err)
	}
	_, err = s.Verify(ctx, "alice", "pw")
	if !errors.Is(err, auth.ErrAuthFailed) || !errors.Is(err, auth.ErrDisabled) {
		t.Fatalf("disabled, right password: %v", err)
	}
	if _, err := s.Verify(ctx, "alice", "wrong"); !errors.Is(err, auth.ErrAuthFailed) || errors.Is(err, auth.ErrDisabled) {
		t.Fatalf("disabled, wrong password: %v", err)
	}
	if err := s.SetDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Verify(ctx, "alice", "pw"); err != nil || u.Disabled {
		t.Fatalf("enabled: %+v, %v", u, err)
	}
	if err := s.SetDisabled(ctx, "bob", true); !errors.Is(err, auth.ErrNoSuchUser) {
		t.Fatalf("SetDisabled of an unknown user = %v", err)
	}
	// Add (no mark) leaves the column at its default.
	if err := s.Add(ctx, "carol", "pw", "/srv/carol", false); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Lookup(ctx, "carol"); err != nil || u.Disabled || u.HasQuota() {
		t.Fatalf("carol = %+v, %v", u, err)
	}
}
