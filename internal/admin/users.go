package admin

import (
	"context"

	"github.com/ferry-ftp/ferry/auth"
)

// User is an account as the users API shows it; never its password hash.
type User struct {
	Name       string `json:"name"`
	Home       string `json:"home"`
	Write      bool   `json:"write"`
	Disabled   bool   `json:"disabled"`
	QuotaBytes int64  `json:"quota_bytes"`
	QuotaFiles int64  `json:"quota_files"`
}

// NewUser is an account to create.
type NewUser struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Home     string `json:"home"`
	Write    bool   `json:"write"`
}

// Sentinel errors a Users store wraps, which the API answers 409 and 404:
// auth's, which both the users file and the database return.
var (
	ErrUserExists = auth.ErrUserExists
	ErrNoSuchUser = auth.ErrNoSuchUser
)

// Users is the account store the users API edits: the server's users
// file or users database. Its methods are called concurrently.
type Users interface {
	List(ctx context.Context) ([]User, error)
	// Add creates the account; one that exists already is ErrUserExists.
	Add(ctx context.Context, u NewUser) error
	// SetPassword and Delete fail with ErrNoSuchUser for an unknown name.
	SetPassword(ctx context.Context, name, password string) error
	Delete(ctx context.Context, name string) error
}
