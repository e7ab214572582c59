// Package postgres is a ferry account store in PostgreSQL: the accounts a
// users file holds (name, password hash, home, write access), in a table
// that every node of a cluster reads and "ferry user --db" edits.
//
// Open connects a pool and migrates the schema (embedded, versioned
// steps; see Migrate). The store keeps no cache: each login reads its row,
// so a password changed or an account deleted by "ferry user" counts at
// the next login on every node. A login holds a connection only for that
// one query, never while the password hash is checked.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferry-ftp/ferry/auth"
)

// DefaultMaxConns is the pool size when Options.MaxConns is 0.
const DefaultMaxConns = 8

// Options configure Open.
type Options struct {
	// MaxConns bounds the pool (DefaultMaxConns when 0). Logins hold a
	// connection only for their one query, so a few serve many.
	MaxConns int32
	// Algorithm hashes the passwords given to Add and SetPassword
	// (default Argon2id).
	Algorithm auth.Algorithm
}

// Store is the accounts table of one database. Its methods are safe for
// concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	algorithm auth.Algorithm

	dummyOnce sync.Once
	dummy     string // hash that unknown names are checked against
	dummyErr  error
}

// IsURL reports whether s names a PostgreSQL database as a URL
// (postgres:// or postgresql://).
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string), checks that it answers and migrates the
// schema.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("users database: invalid connection string (want postgres://USER:PASSWORD@HOST:PORT/DB or key=value pairs)")
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("users database: %w", err)
	}
	if _, err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, algorithm: opts.Algorithm}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool is the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

const userColumns = "name, password_hash, home, write, coalesce(quota_bytes, 0), coalesce(quota_files, 0), disabled, " +
	"download_rate, upload_rate, max_sessions, perms, allow_from, authorized_keys"

func scanUser(row pgx.Row) (auth.User, error) {
	var u auth.User
	err := row.Scan(&u.Name, &u.PasswordHash, &u.Home, &u.Write, &u.QuotaBytes, &u.QuotaFiles, &u.Disabled,
		&u.DownloadRate, &u.UploadRate, &u.MaxSessions, &u.Perms, &u.AllowFrom, &u.AuthorizedKeys)
	if len(u.AuthorizedKeys) == 0 {
		u.AuthorizedKeys = nil
	}
	if len(u.Perms) == 0 {
		u.Perms = nil
	}
	if len(u.AllowFrom) == 0 {
		u.AllowFrom = nil
	}
	return u, err
}

// textArray is list as a text[] value: never NULL.
func textArray(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// Lookup returns the account called name; an unknown name gives an error
// wrapping auth.ErrNoSuchUser.
func (s *Store) Lookup(ctx context.Context, name string) (*auth.User, error) {
	// QueryRow's Scan returns the connection to the pool before the
	// caller does anything slow with the row (such as hashing).
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM ferry_users WHERE name = $1", name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	if err != nil {
		return nil, fmt.Errorf("users database: %w", err)
	}
	return &u, nil
}

// List returns every account, by name.
func (s *Store) List(ctx context.Context) ([]auth.User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM ferry_users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("users database: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auth.User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("users database: %w", err)
	}
	return users, nil
}

// Add creates an account, hashing password with the store's algorithm.
// home is stored as given (an absolute directory or an s3:// URL).
func (s *Store) Add(ctx context.Context, name, password, home string, write bool) error {
	return s.AddUser(ctx, auth.User{Name: name, Home: home, Write: write}, password)
}

// AddUser creates the account u describes (name, home, write access,
// quotas, disabled) in one INSERT, hashing password with the store's
// algorithm; u's PasswordHash is ignored. No node ever sees the account
// without its limits or its disabled mark.
func (s *Store) AddUser(ctx context.Context, u auth.User, password string) error {
	if err := auth.ValidateName(u.Name); err != nil {
		return err
	}
	if err := u.CheckLimits(); err != nil {
		return err
	}
	hash, err := s.hash(password)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO ferry_users (name, password_hash, home, write, quota_bytes, quota_files, disabled,
			download_rate, upload_rate, max_sessions, perms, allow_from, authorized_keys)
		VALUES ($1, $2, $3, $4, nullif($5, 0::bigint), nullif($6, 0::bigint), $7, $8, $9, $10, $11, $12, $13)`,
		u.Name, hash, u.Home, u.Write, u.QuotaBytes, u.QuotaFiles, u.Disabled,
		u.DownloadRate, u.UploadRate, u.MaxSessions, textArray(u.Perms), textArray(u.AllowFrom), textArray(u.AuthorizedKeys))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return fmt.Errorf("%w: %s", auth.ErrUserExists, u.Name)
	}
	if err != nil {
		return fmt.Errorf("users database: %w", err)
	}
	return nil
}

// UpdateUser replaces everything of u.Name's account but its name,
// password and usage with what u says, in one UPDATE.
func (s *Store) UpdateUser(ctx context.Context, u auth.User) error {
	if err := u.CheckLimits(); err != nil {
		return err
	}
	return s.changeOne(ctx, u.Name, `UPDATE ferry_users SET home = $2, write = $3,
			quota_bytes = nullif($4, 0::bigint), quota_files = nullif($5, 0::bigint), disabled = $6,
			download_rate = $7, upload_rate = $8, max_sessions = $9, perms = $10, allow_from = $11,
			authorized_keys = $12, updated_at = now()
		WHERE name = $1`,
		u.Name, u.Home, u.Write, u.QuotaBytes, u.QuotaFiles, u.Disabled,
		u.DownloadRate, u.UploadRate, u.MaxSessions, textArray(u.Perms), textArray(u.AllowFrom), textArray(u.AuthorizedKeys))
}

// SetDisabled disables or enables name's account; every node sees it at
// its next login there.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return s.changeOne(ctx, name, "UPDATE ferry_users SET disabled = $2, updated_at = now() WHERE name = $1", name, disabled)
}

// SetPassword replaces name's password, hashing it with the store's
// algorithm.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	hash, err := s.hash(password)
	if err != nil {
		return err
	}
	return s.changeOne(ctx, name, "UPDATE ferry_users SET password_hash = $2, updated_at = now() WHERE name = $1", name, hash)
}

// Delete removes the account called name.
func (s *Store) Delete(ctx context.Context, name string) error {
	return s.changeOne(ctx, name, "DELETE FROM ferry_users WHERE name = $1", name)
}

// changeOne runs a statement that must touch name's row.
func (s *Store) changeOne(ctx context.Context, name, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("users database: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	return nil
}

func (s *Store) hash(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	return auth.HashPassword(password, s.algorithm)
}

// dummyPassword is what the dummy hash hashes; Verify never accepts it.
const dummyPassword = "ferry dummy password"

// PrepareVerify makes the hash that unknown names are checked against, so
// that the first login does not pay for it. Verify calls it itself.
func (s *Store) PrepareVerify() error {
	s.dummyOnce.Do(func() {
		s.dummy, s.dummyErr = auth.HashPassword(dummyPassword, s.algorithm)
	})
	return s.dummyErr
}

// Verify checks name's password and returns the account. Wrong
// credentials give an error wrapping auth.ErrAuthFailed; an unknown name
// costs a check of the store's algorithm (the one Add hashes with), so
// that it answers in about the time a known one does. The row is read first and its connection released:
// the hash is checked holding no connection, so slow checks never starve
// the pool.
func (s *Store) Verify(ctx context.Context, name, pass string) (*auth.User, error) {
	if err := s.PrepareVerify(); err != nil {
		return nil, err
	}
	u, err := s.Lookup(ctx, name)
	known := err == nil
	if err != nil && !errors.Is(err, auth.ErrNoSuchUser) {
		return nil, err
	}
	hash := s.dummy
	if known {
		hash = u.PasswordHash
	}
	ok, err := auth.CheckPasswordContext(ctx, hash, pass)
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	if !known {
		return nil, fmt.Errorf("%w: unknown user", auth.ErrAuthFailed)
	}
	if !ok {
		return nil, fmt.Errorf("%w: wrong password", auth.ErrAuthFailed)
	}
	// Only after the hash: a disabled account costs what any other does.
	if u.Disabled {
		return nil, fmt.Errorf("%w: %w", auth.ErrAuthFailed, auth.ErrDisabled)
	}
	return u, nil
}
