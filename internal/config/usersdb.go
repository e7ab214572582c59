package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/auth/postgres"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/quotafs"
)

// accountStore is what the authenticator needs of a users store: the
// users file and the PostgreSQL store both serve it. Lookup's unknown
// names wrap auth.ErrNoSuchUser; Verify's wrong credentials wrap
// auth.ErrAuthFailed, and it costs as much for an unknown name as for a
// known one.
type accountStore interface {
	Verify(ctx context.Context, name, pass string) (*auth.User, error)
	Lookup(ctx context.Context, name string) (*auth.User, error)
	Close()
}

// fileStore is a users file as an accountStore: it picks up "ferry user"
// edits before each login, and a broken edit keeps the accounts loaded
// before it.
type fileStore struct {
	users  *auth.UsersFile
	logger *slog.Logger

	ledgersMu sync.Mutex
	ledgers   map[string]*quotafs.MemLedger // users with a quota, by name
}

func (f *fileStore) reload() {
	if reloaded, err := f.users.ReloadIfChanged(); err != nil {
		f.logger.Warn("users file not reloaded; keeping the accounts loaded before", "err", err)
	} else if reloaded {
		f.logger.Info("users file reloaded", "path", f.users.Path())
	}
}

func (f *fileStore) Verify(ctx context.Context, name, pass string) (*auth.User, error) {
	f.reload()
	return f.users.Verify(ctx, name, pass)
}

func (f *fileStore) Lookup(ctx context.Context, name string) (*auth.User, error) {
	f.reload()
	u, ok := f.users.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	return &u, nil
}

func (f *fileStore) Close() {}

// usersDBOpenTimeout bounds connecting and migrating at start: a database
// that does not answer must fail the start with a message, not hang it.
const usersDBOpenTimeout = 30 * time.Second

// openUsersDB connects to users_db, migrates its schema and prepares the
// check for unknown names.
func (c *Config) openUsersDB() (*postgres.Store, error) {
	return openUsersDBAt("users_db", c.UsersDB, c.UsersDBMaxConns)
}

// openUsersDBAt is openUsersDB for the database dsn, whose errors name
// key (a [[host]]'s users_db too).
func openUsersDBAt(key, dsn string, maxConns int) (*postgres.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), usersDBOpenTimeout)
	defer cancel()
	store, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: int32(maxConns)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if err := store.PrepareVerify(); err != nil {
		store.Close()
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return store, nil
}

// maxUsersDBConns bounds users_db_max_conns: PostgreSQL's own default
// max_connections is 100 for the whole cluster, shared by every node.
const maxUsersDBConns = 1000

func (c *Config) validateUsersDB(bad func(key, format string, args ...any)) {
	if c.UsersDBMaxConns < 0 || c.UsersDBMaxConns > maxUsersDBConns {
		bad("users_db_max_conns", "want 1 to %d (0 for the default, %d), got %d", maxUsersDBConns, postgres.DefaultMaxConns, c.UsersDBMaxConns)
	}
	if c.UsersDB == "" {
		return
	}
	if c.UsersFile != "" {
		bad("users_db", "set users_file or users_db, not both")
	}
	// A key=value string has an "=", a URL its scheme; anything else is
	// most likely a path meant for users_file.
	if !postgres.IsURL(c.UsersDB) && !strings.Contains(c.UsersDB, "=") {
		bad("users_db", "want a postgres:// URL or key=value connection string")
	}
}

// anonymousByDefault turns anonymous access off when the file names a
// users store (users_file or users_db) without saying [anonymous]
// enabled: a server with accounts is not meant to be open to everyone
// unless its operator says so.
func (c *Config) anonymousByDefault(data []byte) {
	if c.UsersFile == "" && c.UsersDB == "" {
		return
	}
	var keys struct {
		Anonymous struct {
			Enabled *bool `toml:"enabled"`
		} `toml:"anonymous"`
	}
	// The file already decoded strictly into c; this only asks whether a
	// key is present.
	if err := toml.NewDecoder(bytes.NewReader(data)).Decode(&keys); err != nil {
		return
	}
	if keys.Anonymous.Enabled == nil {
		c.Anonymous.Enabled = false
	}
}

// quotaWalkTimeout bounds counting a home at a user's first login.
const quotaWalkTimeout = 5 * time.Minute

// withQuota wraps fsys in u's quota, or returns it as it is for a user
// without one (no cost). The usage is counted by walking the home the
// first time: per process for a users file, once for the whole cluster
// in the database.
func (a *authenticator) withQuota(ctx context.Context, u *auth.User, fsys ftpserver.FileSystem) (ftpserver.FileSystem, error) {
	if !u.HasQuota() {
		return fsys, nil
	}
	var ledger quotafs.Ledger
	switch store := a.users.(type) {
	case *postgres.Store:
		usage, err := store.Usage(ctx, u.Name)
		if err != nil {
			return nil, err
		}
		if !usage.Counted {
			counted, err := walkHome(ctx, fsys)
			if err != nil {
				return nil, err
			}
			if err := store.InitUsage(ctx, u.Name, counted.Bytes, counted.Files); err != nil {
				return nil, err
			}
		}
		ledger = dbLedger{store: store, name: u.Name}
	case *fileStore:
		l, err := store.ledger(ctx, u, fsys)
		if err != nil {
			return nil, err
		}
		ledger = fileLedger{store: store, name: u.Name, mem: l}
	default:
		return fsys, nil
	}
	return quotafs.New(fsys, ledger), nil
}

func walkHome(ctx context.Context, fsys ftpserver.FileSystem) (quotafs.Usage, error) {
	ctx, cancel := context.WithTimeout(ctx, quotaWalkTimeout)
	defer cancel()
	return quotafs.Walk(ctx, fsys, "/")
}

// ledger returns the user's in-memory ledger with the limits as the file
// now says, counting the home at the first login.
func (f *fileStore) ledger(ctx context.Context, u *auth.User, fsys ftpserver.FileSystem) (*quotafs.MemLedger, error) {
	limits := quotafs.Limits{Bytes: u.QuotaBytes, Files: u.QuotaFiles}
	f.ledgersMu.Lock()
	l, ok := f.ledgers[u.Name]
	f.ledgersMu.Unlock()
	if ok {
		l.SetLimits(limits)
		return l, nil
	}
	usage, err := walkHome(ctx, fsys)
	if err != nil {
		return nil, err
	}
	f.ledgersMu.Lock()
	defer f.ledgersMu.Unlock()
	if kept, ok := f.ledgers[u.Name]; ok { // another first login counted too
		kept.SetLimits(limits)
		return kept, nil
	}
	if f.ledgers == nil {
		f.ledgers = map[string]*quotafs.MemLedger{}
	}
	l = quotafs.NewMemLedger(limits, usage)
	f.ledgers[u.Name] = l
	return l, nil
}

// fileLedger is a users-file user's in-memory ledger whose limits are
// read from the file (reloaded if "ferry user quota" changed it) at each
// change, so a new quota counts for the sessions already logged in, as
// it does with the database.
type fileLedger struct {
	store *fileStore
	name  string
	mem   *quotafs.MemLedger
}

func (l fileLedger) refresh() {
	l.store.reload()
	if u, ok := l.store.users.Lookup(l.name); ok {
		l.mem.SetLimits(quotafs.Limits{Bytes: u.QuotaBytes, Files: u.QuotaFiles})
	}
}

func (l fileLedger) Read(ctx context.Context) (quotafs.Limits, quotafs.Usage, error) {
	l.refresh()
	return l.mem.Read(ctx)
}

func (l fileLedger) Apply(ctx context.Context, deltaBytes, deltaFiles int64, enforce bool) error {
	l.refresh()
	return l.mem.Apply(ctx, deltaBytes, deltaFiles, enforce)
}

// dbLedger is one user's row of the users database as a quotafs.Ledger:
// the limits are read at each change, so "ferry user mod" counts at once.
type dbLedger struct {
	store *postgres.Store
	name  string
}

func (d dbLedger) Read(ctx context.Context) (quotafs.Limits, quotafs.Usage, error) {
	u, err := d.store.Usage(ctx, d.name)
	if err != nil {
		return quotafs.Limits{}, quotafs.Usage{}, err
	}
	return quotafs.Limits{Bytes: u.QuotaBytes, Files: u.QuotaFiles}, quotafs.Usage{Bytes: u.UsedBytes, Files: u.UsedFiles}, nil
}

func (d dbLedger) Apply(ctx context.Context, deltaBytes, deltaFiles int64, enforce bool) error {
	err := d.store.AddUsage(ctx, d.name, deltaBytes, deltaFiles, enforce)
	if errors.Is(err, postgres.ErrOverQuota) {
		return quotafs.ErrOverQuota
	}
	return err
}
