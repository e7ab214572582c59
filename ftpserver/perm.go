package ftpserver

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// Perm is a set of actions an account may take on a path.
type Perm uint16

const (
	PermList      Perm = 1 << iota // LIST, NLST, MLSD, MLST, STAT, SIZE, MDTM
	PermDownload                   // RETR and the HASH commands
	PermUpload                     // create a file (STOR, STOU, APPE of a new name)
	PermOverwrite                  // change an existing file (STOR over it, APPE, REST+STOR)
	PermDelete                     // DELE
	PermRename                     // RNFR and RNTO (both names)
	PermMkdir                      // MKD
	PermRmdir                      // RMD
	PermChmod                      // SITE CHMOD, MFMT

	// PermRead is what a read-only account may do.
	PermRead = PermList | PermDownload
	// PermAll is every action.
	PermAll = PermList | PermDownload | PermUpload | PermOverwrite | PermDelete | PermRename | PermMkdir | PermRmdir | PermChmod
)

var permNames = []string{"list", "download", "upload", "overwrite", "delete", "rename", "mkdir", "rmdir", "chmod"}

// String lists the permissions by name, comma-separated, in a fixed
// order; "none" for the empty set.
func (p Perm) String() string {
	if p == 0 {
		return "none"
	}
	var names []string
	for i, name := range permNames {
		if p&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// name is the name of a single permission.
func (p Perm) name() string {
	if bits.OnesCount16(uint16(p)) == 1 {
		return permNames[bits.TrailingZeros16(uint16(p))]
	}
	return p.String()
}

// ParsePerm parses a comma-separated list of permission names (list,
// download, upload, overwrite, delete, rename, mkdir, rmdir, chmod), or
// "all" (also "*") or "none". Names are case-insensitive; spaces around
// them are ignored.
func ParsePerm(s string) (Perm, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "all", "*":
		return PermAll, nil
	case "none", "":
		return 0, nil
	}
	var p Perm
	for field := range strings.SplitSeq(s, ",") {
		field = strings.ToLower(strings.TrimSpace(field))
		i := slices.Index(permNames, field)
		if i < 0 {
			return 0, fmt.Errorf("unknown permission %q (want some of %s, or all or none)", field, strings.Join(permNames, ", "))
		}
		p |= 1 << i
	}
	return p, nil
}

// PathPerm grants Perm on Path and everything below it. Path is a clean,
// absolute virtual path ("/", "/outgoing").
type PathPerm struct {
	Path string
	Perm Perm
}

// ParsePathPerm parses "PATH=LIST" as in "ferry user add --perm".
func ParsePathPerm(s string) (PathPerm, error) {
	p, list, ok := strings.Cut(s, "=")
	if !ok {
		return PathPerm{}, errors.New(`want PATH=LIST, such as "/outgoing=list,download"`)
	}
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "/") || ftp.JoinPath("/", p) != p {
		return PathPerm{}, fmt.Errorf("path %q must be clean and absolute, such as /outgoing", p)
	}
	perm, err := ParsePerm(list)
	if err != nil {
		return PathPerm{}, err
	}
	return PathPerm{Path: p, Perm: perm}, nil
}

// String formats pp as ParsePathPerm reads it.
func (pp PathPerm) String() string { return pp.Path + "=" + pp.Perm.String() }

// permAt is what the account may do at path: the rule of Account.Perms
// with the longest path containing it wins; without one, Write says
// (everything, or list and download), and an UploadDir adds creating
// files and directories below it.
func (a *Account) permAt(path string) Perm {
	best := -1
	var perm Perm
	for _, rule := range a.Perms {
		if (rule.Path == path || inDir(path, rule.Path)) && len(rule.Path) > best {
			best, perm = len(rule.Path), rule.Perm
		}
	}
	if best >= 0 {
		return perm
	}
	if a.Write {
		return PermAll
	}
	if a.UploadDir != "" && inDir(path, a.UploadDir) {
		return PermRead | PermUpload | PermMkdir
	}
	return PermRead
}

// Allowed reports whether the account may take every action of need at
// path (a clean, absolute virtual path), by the same rules FTP commands
// are checked with (Perms, Write, UploadDir). A refusal wraps
// fs.ErrPermission and names the missing permission. It is exported for
// servers of other protocols over the same accounts (SFTP).
func (a *Account) Allowed(path string, need Perm) error {
	if a.permAt(path)&need == need {
		return nil
	}
	return fmt.Errorf("no %s permission at %s: %w", need.name(), path, fs.ErrPermission)
}

// allow refuses an action the account may not take at path, with a 550
// that names the missing permission.
func (s *session) allow(path string, need Perm) error {
	if s.acct.permAt(path)&need == need {
		return nil
	}
	return ftp.Errorf(ftp.CodeActionNotTaken, "Permission denied: no %s permission here.", need.name())
}

// allowsFrom reports whether the account may log in from addr.
func (a *Account) allowsFrom(addr netip.Addr) bool {
	if len(a.AllowFrom) == 0 {
		return true
	}
	for _, p := range a.AllowFrom {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// holdUser counts a login to acct, or reports false when the account is
// at its MaxSessions. releaseUser gives the count back at logout.
func (srv *Server) holdUser(acct *Account) bool {
	return srv.state().counter.HoldUser(acct) == nil
}

func (srv *Server) releaseUser(acct *Account) {
	srv.state().counter.ReleaseUser(acct)
}
