package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/auth/postgres"
)

// usersDBEnv may name the users database instead of --db, which would
// show its password to everyone who can list processes.
const usersDBEnv = "FERRY_USERS_DB"

// storeFlags say which account store "ferry user" edits.
type storeFlags struct {
	file string
	db   string
}

// userStore is what "ferry user" does with a store: the users file
// (each edit saved at once) or the database.
type userStore interface {
	Name() string // for messages: the file's path, or "the users database"
	Lookup(ctx context.Context, name string) (*auth.User, error)
	List(ctx context.Context) ([]auth.User, error)
	// AddUser creates the account u describes, limits and disabled mark
	// included, in one edit.
	AddUser(ctx context.Context, u auth.User, pass string) error
	SetPassword(ctx context.Context, name, pass string) error
	Delete(ctx context.Context, name string) error
	SetQuota(ctx context.Context, name string, bytes, files int64) error
	SetDisabled(ctx context.Context, name string, disabled bool) error
	// UpdateUser replaces all of u.Name's account but its password.
	UpdateUser(ctx context.Context, u auth.User) error
	// Used describes what the user's files take, as far as the store
	// knows.
	Used(ctx context.Context, name string) (string, error)
	Close()
}

// open opens the store the flags name; create lets a missing users file
// start empty. New passwords are hashed with algo.
func (f *storeFlags) open(ctx context.Context, algo auth.Algorithm, create bool) (userStore, error) {
	dsn := f.db
	if dsn == "" {
		dsn = os.Getenv(usersDBEnv)
	}
	if dsn != "" {
		store, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2, Algorithm: algo})
		if err != nil {
			return nil, err
		}
		return dbStore{store}, nil
	}
	var users *auth.UsersFile
	var err error
	if create {
		users, err = auth.LoadOrCreateUsers(f.file)
	} else {
		users, err = auth.LoadUsers(f.file)
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w (create it with \"ferry user add\", or name another with --file or --db)", err)
		}
	}
	if err != nil {
		return nil, err
	}
	users.Algorithm = algo
	return fileUsers{users}, nil
}

type dbStore struct{ *postgres.Store }

func (dbStore) Name() string { return "the users database" }

func (d dbStore) Used(ctx context.Context, name string) (string, error) {
	u, err := d.Usage(ctx, name)
	if err != nil {
		return "", err
	}
	if !u.Counted {
		return "not counted yet (counted at the first login with a quota)", nil
	}
	return fmt.Sprintf("%d bytes in %d files", u.UsedBytes, u.UsedFiles), nil
}

// fileUsers saves the file after each edit.
type fileUsers struct{ f *auth.UsersFile }

func (u fileUsers) Name() string { return u.f.Path() }

func (u fileUsers) Lookup(_ context.Context, name string) (*auth.User, error) {
	user, ok := u.f.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", auth.ErrNoSuchUser, name)
	}
	return &user, nil
}

func (u fileUsers) List(context.Context) ([]auth.User, error) { return u.f.List(), nil }

func (u fileUsers) AddUser(_ context.Context, user auth.User, pass string) error {
	return u.save(u.f.AddUser(user, pass))
}

func (u fileUsers) SetPassword(_ context.Context, name, pass string) error {
	return u.save(u.f.SetPassword(name, pass))
}

func (u fileUsers) Delete(_ context.Context, name string) error {
	return u.save(u.f.Delete(name))
}

func (u fileUsers) SetQuota(_ context.Context, name string, bytes, files int64) error {
	return u.save(u.f.SetQuota(name, bytes, files))
}

func (u fileUsers) UpdateUser(_ context.Context, user auth.User) error {
	return u.save(u.f.UpdateUser(user))
}

func (u fileUsers) SetDisabled(_ context.Context, name string, disabled bool) error {
	return u.save(u.f.SetDisabled(name, disabled))
}

// Used: a server with a users file counts usage in its own memory.
func (fileUsers) Used(context.Context, string) (string, error) {
	return "counted by the running server (users file)", nil
}

func (u fileUsers) save(err error) error {
	if err != nil {
		return err
	}
	return u.f.Save()
}

func (fileUsers) Close() {}
