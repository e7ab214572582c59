// Package auth holds ferry's user stores. UsersFile is a TOML file of
// accounts with hashed passwords, edited by "ferry user" and read by the
// server:
//
//	[[user]]
//	name = "alice"
//	password = "$argon2id$v=19$m=65536,t=3,p=2$..."  # or a bcrypt hash
//	home = "/srv/ftp/alice"                          # host directory
//	write = true
//	quota_bytes = 67108864                           # optional; 0 or absent: none
//	quota_files = 1000                               # optional
//	disabled = true                                  # optional; cannot log in
//	authorized_keys = ["ssh-ed25519 AAAA... alice@laptop"]  # optional; SFTP keys
//
// Plaintext passwords are refused when the file is loaded.
package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-ftp/ferry/internal/atomicfile"
	"github.com/pelletier/go-toml/v2"
	"golang.org/x/crypto/bcrypt"
)

// ErrAuthFailed is wrapped by Verify's errors for wrong credentials. It is
// auth's own sentinel: storage of accounts does not depend on the server,
// and the glue that builds a server's Authenticator maps it to the
// server's sentinel.
var ErrAuthFailed = errors.New("authentication failed")

// Sentinel errors of UsersFile's editing methods.
var (
	ErrUserExists  = errors.New("user already exists")
	ErrNoSuchUser  = errors.New("no such user")
	ErrInvalidName = errors.New("invalid user name")
)

// ErrDisabled is wrapped, beside ErrAuthFailed, by Verify's error for a
// disabled account given its right password.
var ErrDisabled = errors.New("account disabled")

// User is one account of a users file.
type User struct {
	Name string
	// Home is the host directory the user sees as "/". A relative home in
	// the file is relative to the file's directory; Home is already
	// resolved.
	Home  string
	Write bool
	// PasswordHash is the stored Argon2id or bcrypt hash.
	PasswordHash string
	// QuotaBytes and QuotaFiles limit what the user may store; 0 is no
	// limit.
	QuotaBytes int64
	QuotaFiles int64
	// Disabled accounts cannot log in; Verify fails for them as for a
	// wrong password.
	Disabled bool
	// DownloadRate and UploadRate cap the user's transfers in bytes per
	// second, shared by all of the user's sessions on a server; 0 is no
	// limit.
	DownloadRate int64
	UploadRate   int64
	// MaxSessions bounds the user's sessions at once on a server; 0 is
	// no limit.
	MaxSessions int
	// Perms are per-path rules, "PATH=LIST" (ftpserver.ParsePathPerm
	// reads them); Write still decides for paths no rule covers.
	Perms []string
	// AllowFrom, when set, are the only addresses or CIDR prefixes the
	// user may log in from.
	AllowFrom []string
	// AuthorizedKeys are OpenSSH public key lines ("TYPE BASE64
	// [COMMENT]", ParseAuthorizedKey reads them) that log the user in
	// over SFTP without a password.
	AuthorizedKeys []string
}

// CheckLimits reports the first invalid value among u's home, quotas,
// rates, session limit and AllowFrom entries. (Perms are the server's
// vocabulary: it checks them when it uses them.)
func (u User) CheckLimits() error {
	switch {
	case u.Home == "":
		return errors.New("home directory required")
	case strings.ContainsRune(u.Home, 0):
		return errors.New("home directory contains a NUL byte")
	case u.QuotaBytes < 0 || u.QuotaFiles < 0:
		return errors.New("a quota cannot be negative (0 is no limit)")
	case u.DownloadRate < 0 || u.UploadRate < 0:
		return errors.New("a rate cannot be negative (0 is no limit)")
	case u.MaxSessions < 0:
		return errors.New("max sessions cannot be negative (0 is no limit)")
	}
	for _, s := range u.AllowFrom {
		if _, err := ParseAllowFrom(s); err != nil {
			return err
		}
	}
	for _, k := range u.AuthorizedKeys {
		if _, err := ParseAuthorizedKey(k); err != nil {
			return err
		}
	}
	return nil
}

// ParseAllowFrom reads one AllowFrom entry: a CIDR prefix or a single
// address.
func ParseAllowFrom(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("allow-from %q: want an address or a CIDR prefix such as 203.0.113.0/24", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// HasQuota reports whether u has a limit.
func (u User) HasQuota() bool { return u.QuotaBytes > 0 || u.QuotaFiles > 0 }

// Algorithm reports the hash algorithm of u's password.
func (u User) Algorithm() Algorithm {
	a, _ := AlgorithmOf(u.PasswordHash) // validated when loaded or set
	return a
}

// record is a [[user]] table as written in the file.
type record struct {
	Name     string `toml:"name"`
	Password string `toml:"password"`
	Home     string `toml:"home"`
	Write    bool   `toml:"write"`
	// Quotas are left out of the file when there are none.
	QuotaBytes int64 `toml:"quota_bytes,omitempty"`
	QuotaFiles int64 `toml:"quota_files,omitempty"`
	Disabled   bool  `toml:"disabled,omitempty"`
	// Limits, likewise left out when there are none.
	DownloadRate int64    `toml:"download_rate,omitempty"`
	UploadRate   int64    `toml:"upload_rate,omitempty"`
	MaxSessions  int      `toml:"max_sessions,omitempty"`
	Perms        []string `toml:"perms,omitempty"`
	AllowFrom    []string `toml:"allow_from,omitempty"`
	// AuthorizedKeys: SFTP public keys, one OpenSSH .pub line each.
	AuthorizedKeys []string `toml:"authorized_keys,omitempty"`
}

func recordOf(u User, hash string) record {
	return record{Name: u.Name, Password: hash, Home: u.Home, Write: u.Write,
		QuotaBytes: u.QuotaBytes, QuotaFiles: u.QuotaFiles, Disabled: u.Disabled,
		DownloadRate: u.DownloadRate, UploadRate: u.UploadRate, MaxSessions: u.MaxSessions,
		Perms: u.Perms, AllowFrom: u.AllowFrom, AuthorizedKeys: u.AuthorizedKeys}
}

type document struct {
	User []record `toml:"user"`
}

// UsersFile is a users file loaded in memory. Its methods are safe for
// concurrent use. Edits (Add, SetPassword, Delete) change only the memory
// copy until Save writes it back; Save does not keep comments or layout of
// a hand-edited file.
type UsersFile struct {
	// Algorithm hashes the passwords given to Add and SetPassword
	// (default Argon2id). Set it before the UsersFile is shared.
	Algorithm Algorithm

	path string
	dir  string // absolute directory of path, for relative homes

	mu    sync.RWMutex
	users []record       // file order
	index map[string]int // name → position in users
	// loaded is the file as last read or written, to notice edits made
	// by someone else (ReloadIfChanged); nil when it did not exist.
	loaded fs.FileInfo

	reloadMu sync.Mutex // one ReloadIfChanged reads the file at a time

	// gen counts changes to users, so the dummy hashes can follow them.
	gen uint64

	dummyMu   sync.Mutex
	dummies   map[string]string // costKey → a hash of dummyPassword with that cost
	dummyKeys []string          // costKey of each account, file order, as of dummyGen
	dummyGen  uint64
	dummyKey  [32]byte // keys dummyFor's choice of account, secret per process
}

// LoadUsers reads the users file at path. A missing file is an error
// (errors.Is(err, fs.ErrNotExist)); see LoadOrCreateUsers.
func LoadUsers(path string) (*UsersFile, error) {
	f, err := newUsersFile(path)
	if err != nil {
		return nil, err
	}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

func newUsersFile(path string) (*UsersFile, error) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	f := &UsersFile{path: path, dir: dir, index: map[string]int{}}
	rand.Read(f.dummyKey[:])
	return f, nil
}

// LoadOrCreateUsers is LoadUsers, except that a missing file gives an empty
// set that Save will create.
func LoadOrCreateUsers(path string) (*UsersFile, error) {
	f, err := LoadUsers(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newUsersFile(path)
	}
	return f, err
}

// Path returns the file's path.
func (f *UsersFile) Path() string { return f.path }

// Reload reads the file again and replaces the accounts in memory with its
// content, discarding unsaved edits. On error the previous accounts stay.
func (f *UsersFile) Reload() error {
	file, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	defer file.Close()
	// Stat the descriptor we read, not the name, so the recorded version
	// is the one whose content we hold.
	info, err := file.Stat()
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if info.IsDir() {
		return fmt.Errorf("users file %s is a directory", f.path)
	}
	data, err := io.ReadAll(file)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	users, index, err := parseUsers(f.path, data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.users, f.index, f.loaded = users, index, info
	f.gen++
	f.mu.Unlock()
	return nil
}

// ReloadIfChanged reloads the file if it was replaced or modified since it
// was last read or saved, and reports whether it did. A server calls it
// before each login so that "ferry user add" takes effect without a
// restart. On error the previous accounts stay in use.
func (f *UsersFile) ReloadIfChanged() (bool, error) {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	info, err := os.Stat(f.path)
	f.mu.RLock()
	loaded := f.loaded
	f.mu.RUnlock()
	if errors.Is(err, fs.ErrNotExist) && loaded == nil {
		return false, nil // still not created
	}
	if err != nil {
		return false, fmt.Errorf("users file: %w", err)
	}
	if loaded != nil && os.SameFile(loaded, info) &&
		loaded.ModTime().Equal(info.ModTime()) && loaded.Size() == info.Size() {
		return false, nil
	}
	if err := f.Reload(); err != nil {
		return false, err
	}
	return true, nil
}

// parseUsers decodes and checks a users file.
func parseUsers(path string, data []byte) ([]record, map[string]int, error) {
	var doc document
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, tomlError(path, err)
	}
	lines := userLines(data, len(doc.User))
	where := func(i int) string {
		if lines != nil {
			return fmt.Sprintf("%s:%d", path, lines[i])
		}
		return fmt.Sprintf("%s: user #%d", path, i+1)
	}
	index := make(map[string]int, len(doc.User))
	for i, u := range doc.User {
		if err := ValidateName(u.Name); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where(i), err)
		}
		if j, dup := index[u.Name]; dup {
			return nil, nil, fmt.Errorf("%s: user %q is already defined at %s", where(i), u.Name, where(j))
		}
		if u.Password == "" {
			return nil, nil, fmt.Errorf("%s: user %q has no password (set one with \"ferry user passwd %s\")", where(i), u.Name, u.Name)
		}
		if _, err := AlgorithmOf(u.Password); err != nil {
			if errors.Is(err, ErrUnknownHash) {
				return nil, nil, fmt.Errorf("%s: user %q: password is not an argon2id or bcrypt hash; plaintext passwords are not allowed (set one with \"ferry user passwd %s\")", where(i), u.Name, u.Name)
			}
			return nil, nil, fmt.Errorf("%s: user %q: %w", where(i), u.Name, err)
		}
		if err := recordUser(u).CheckLimits(); err != nil {
			return nil, nil, fmt.Errorf("%s: user %q: %w", where(i), u.Name, err)
		}
		index[u.Name] = i
	}
	return doc.User, index, nil
}

// tomlError names the file, line and column of a decoding error.
func tomlError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		msgs := make([]string, len(strict.Errors))
		for i, e := range strict.Errors {
			line, col := e.Position()
			msgs[i] = fmt.Sprintf("%s:%d:%d: unknown key %q", path, line, col, strings.Join(e.Key(), "."))
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if key := de.Key(); len(key) > 0 {
			msg = strings.Join(key, ".") + ": " + msg
		}
		return fmt.Errorf("%s:%d:%d: %s", path, line, col, msg)
	}
	return fmt.Errorf("%s: %w", path, err)
}

var userHeader = regexp.MustCompile(`^\s*\[\[\s*user\s*\]\]\s*(#.*)?$`)

// userLines finds the line of each [[user]] header, so load errors can
// point at the entry. It gives nil when the file is not laid out that way
// (inline tables, say) and the count does not match.
func userLines(data []byte, n int) []int {
	var lines []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for line := 1; sc.Scan(); line++ {
		if userHeader.Match(sc.Bytes()) {
			lines = append(lines, line)
		}
	}
	if len(lines) != n {
		return nil
	}
	return lines
}

// ValidateName checks a user name: non-empty UTF-8 of at most 255 bytes
// with no spaces or control characters, and not one of the names that
// mean anonymous login ("anonymous", "ftp", in any case).
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > 255:
		return fmt.Errorf("%w: longer than 255 bytes", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidName, name)
	case strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp"):
		return fmt.Errorf("%w %q: reserved for anonymous login", ErrInvalidName, name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w %q: contains a space or control character", ErrInvalidName, name)
		}
	}
	return nil
}

func (f *UsersFile) user(r record) User {
	u := recordUser(r)
	// An s3:// home names a bucket, not a path relative to the file.
	if !filepath.IsAbs(u.Home) && !strings.HasPrefix(u.Home, "s3://") {
		u.Home = filepath.Join(f.dir, u.Home)
	}
	return u
}

// recordUser is the account r describes, its home as written.
func recordUser(r record) User {
	return User{Name: r.Name, Home: r.Home, Write: r.Write, PasswordHash: r.Password,
		QuotaBytes: r.QuotaBytes, QuotaFiles: r.QuotaFiles, Disabled: r.Disabled,
		DownloadRate: r.DownloadRate, UploadRate: r.UploadRate, MaxSessions: r.MaxSessions,
		Perms: r.Perms, AllowFrom: r.AllowFrom, AuthorizedKeys: r.AuthorizedKeys}
}

// Lookup returns the account called name.
func (f *UsersFile) Lookup(name string) (User, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	i, ok := f.index[name]
	if !ok {
		return User{}, false
	}
	return f.user(f.users[i]), true
}

// List returns every account in file order.
func (f *UsersFile) List() []User {
	f.mu.RLock()
	defer f.mu.RUnlock()
	list := make([]User, len(f.users))
	for i, r := range f.users {
		list[i] = f.user(r)
	}
	return list
}

// Add creates an account, hashing password with f.Algorithm. home is
// stored as given; a relative home is relative to the file's directory.
func (f *UsersFile) Add(name, password, home string, write bool) error {
	return f.AddUser(User{Name: name, Home: home, Write: write}, password)
}

// AddUser creates the account u describes (name, home, write access,
// quotas, disabled) in one edit, hashing password with f.Algorithm; u's
// PasswordHash is ignored. The account never exists without its limits
// or its disabled mark, even for a server that reloads in between.
func (f *UsersFile) AddUser(u User, password string) error {
	if err := ValidateName(u.Name); err != nil {
		return err
	}
	if err := u.CheckLimits(); err != nil {
		return err
	}
	if _, ok := f.Lookup(u.Name); ok { // fail before spending time hashing
		return fmt.Errorf("%w: %s", ErrUserExists, u.Name)
	}
	hash, err := f.hash(password)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.index[u.Name]; ok {
		return fmt.Errorf("%w: %s", ErrUserExists, u.Name)
	}
	f.index[u.Name] = len(f.users)
	f.users = append(f.users, recordOf(u, hash))
	f.gen++
	return nil
}

// SetPassword replaces name's password, hashing it with f.Algorithm.
func (f *UsersFile) SetPassword(name, password string) error {
	if _, ok := f.Lookup(name); !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
	}
	hash, err := f.hash(password)
	if err != nil {
		return err
	}
	return f.edit(name, func(r *record) { r.Password = hash })
}

// edit applies change to name's record.
func (f *UsersFile) edit(name string, change func(*record)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.index[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
	}
	change(&f.users[i])
	f.gen++
	return nil
}

// SetQuota sets name's limits; 0 is no limit.
func (f *UsersFile) SetQuota(name string, bytes, files int64) error {
	if bytes < 0 || files < 0 {
		return errors.New("a quota cannot be negative (0 is no limit)")
	}
	return f.edit(name, func(r *record) { r.QuotaBytes, r.QuotaFiles = bytes, files })
}

// UpdateUser replaces everything of u.Name's account but its name and
// password with what u says (home, write, quotas, limits, rules,
// disabled mark), in one edit.
func (f *UsersFile) UpdateUser(u User) error {
	if err := u.CheckLimits(); err != nil {
		return err
	}
	return f.edit(u.Name, func(r *record) { *r = recordOf(u, r.Password) })
}

// SetDisabled disables or enables name's account.
func (f *UsersFile) SetDisabled(name string, disabled bool) error {
	return f.edit(name, func(r *record) { r.Disabled = disabled })
}

func (f *UsersFile) hash(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	return HashPassword(password, f.Algorithm)
}

// Delete removes the account called name.
func (f *UsersFile) Delete(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.index[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchUser, name)
	}
	f.users = append(f.users[:i:i], f.users[i+1:]...)
	delete(f.index, name)
	f.gen++
	for j := i; j < len(f.users); j++ {
		f.index[f.users[j].Name] = j
	}
	return nil
}

const fileHeader = `# ferry users file. Edit with "ferry user add|passwd|del|list"; passwords
# are Argon2id or bcrypt hashes, never plaintext.

`

// Save writes the accounts back to the file atomically: a temporary file
// in the same directory, flushed to disk, renamed over the old one. The
// file is readable by its owner only (mode 0600).
func (f *UsersFile) Save() error {
	f.mu.RLock()
	body, err := toml.Marshal(document{User: f.users})
	f.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.path, append([]byte(fileHeader), body...), 0o600); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	// Remember what we wrote, so ReloadIfChanged does not re-read it.
	if info, err := os.Stat(f.path); err == nil {
		f.mu.Lock()
		f.loaded = info
		f.mu.Unlock()
	}
	return nil
}

// Verify checks name's password and returns the account. Wrong
// credentials and disabled accounts give an error wrapping ErrAuthFailed
// (and, for a disabled account with the right password, ErrDisabled). The
// hash of a disabled account is checked as any other, so the time taken
// does not tell a disabled account from a wrong password. An unknown name costs
// the same hashing work as a known one, so response times do not reveal
// which accounts exist (see dummyFor).
//
// When ctx ends, Verify returns ctx's error at once, whether it was still
// waiting for a check slot (it then never hashes) or hashing (the hash
// runs to its end in the background, still counted against the bound).
func (f *UsersFile) Verify(ctx context.Context, name, pass string) (*User, error) {
	// Every call, known name or not, makes sure the dummy hashes match
	// the accounts, so that work does not tell the two apart either.
	if err := f.PrepareVerify(); err != nil {
		return nil, err
	}
	f.mu.RLock()
	i, known := f.index[name]
	var u User
	if known {
		u = f.user(f.users[i])
	}
	f.mu.RUnlock()

	hash := u.PasswordHash
	if !known {
		hash = f.dummyFor(name)
	}
	ok, err := CheckPasswordContext(ctx, hash, pass)
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	if !known {
		return nil, fmt.Errorf("%w: unknown user", ErrAuthFailed)
	}
	if !ok {
		return nil, fmt.Errorf("%w: wrong password", ErrAuthFailed)
	}
	if u.Disabled {
		return nil, fmt.Errorf("%w: %w", ErrAuthFailed, ErrDisabled)
	}
	return &u, nil
}

// dummyPassword is what dummy hashes hash. No login can use it: Verify
// never accepts a dummy.
const dummyPassword = "ferry dummy password"

// PrepareVerify makes the hashes that unknown names are checked against:
// one per algorithm and cost among the accounts (or the default Argon2id
// cost for an empty file). Verify calls it itself, so the first login
// after the file changed pays for it whatever its name; a server calls it
// after loading the file, so that it is paid before the first login.
func (f *UsersFile) PrepareVerify() error {
	f.mu.RLock()
	gen := f.gen
	f.mu.RUnlock()
	f.dummyMu.Lock()
	defer f.dummyMu.Unlock()
	if f.dummyGen == gen && f.dummyKeys != nil {
		return nil
	}
	f.mu.RLock()
	gen = f.gen
	refs := make([]string, len(f.users))
	for i, r := range f.users {
		refs[i] = r.Password
	}
	f.mu.RUnlock()
	if len(refs) == 0 {
		refs = []string{""}
	}
	if f.dummies == nil {
		f.dummies = map[string]string{}
	}
	keys := make([]string, len(refs))
	for i, ref := range refs {
		key := costKey(ref)
		keys[i] = key
		if _, ok := f.dummies[key]; ok {
			continue
		}
		var h string
		var err error
		if ref == "" {
			h, err = HashPassword(dummyPassword, Argon2id)
		} else {
			h, err = hashLike(ref, dummyPassword)
		}
		if err != nil {
			return fmt.Errorf("users file: preparing checks for unknown names: %w", err)
		}
		f.dummies[key] = h
	}
	f.dummyKeys, f.dummyGen = keys, gen
	return nil
}

// dummyFor returns the hash an unknown name is checked against: that of
// an account chosen by a keyed hash of the name, with the account's
// algorithm and cost. When the file mixes algorithms or costs, an unknown
// name then costs what some real account costs, the same for that name at
// every attempt (a random pick per attempt would show as variance), and
// the names spread over the accounts' costs as the accounts do.
func (f *UsersFile) dummyFor(name string) string {
	mac := hmac.New(sha256.New, f.dummyKey[:])
	mac.Write([]byte(name))
	pick := binary.BigEndian.Uint64(mac.Sum(nil))
	f.dummyMu.Lock()
	defer f.dummyMu.Unlock()
	return f.dummies[f.dummyKeys[pick%uint64(len(f.dummyKeys))]]
}

// costKey is the part of a hash naming its algorithm and cost: everything
// before the salt.
func costKey(hash string) string {
	if isBcrypt(hash) {
		// The minor version ($2a$, $2b$, $2y$) costs nothing; the cost
		// is read as bcrypt reads it, which skips the byte after it.
		if cost, err := bcrypt.Cost([]byte(hash)); err == nil {
			return fmt.Sprintf("bcrypt$%02d$", cost)
		}
	}
	if i := strings.LastIndexByte(hash, '$'); i > 0 {
		if j := strings.LastIndexByte(hash[:i], '$'); j > 0 {
			return hash[:j]
		}
	}
	return hash
}
