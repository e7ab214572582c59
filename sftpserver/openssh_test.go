package sftpserver_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/sftpserver"
)

// TestOpenSSHPutGet: OpenSSH's sftp puts and gets a file byte-identical,
// makes and removes a directory, renames and chmods, over a password
// login; the transfers reach the Observer as SFTP records.
func TestOpenSSHPutGet(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 3<<20+17)
	r := f.sftpBatch(t, local, "alice", password, "", strings.Join([]string{
		"put up.bin",
		"mkdir sub",
		"rename up.bin sub/moved.bin",
		"chmod 600 sub/moved.bin",
		"get sub/moved.bin down.bin",
		"mkdir gone",
		"rmdir gone",
		"ls -l sub",
	}, "\n"))
	if r.code != 0 {
		t.Fatalf("sftp failed: %v", r)
	}
	onDisk, err := os.ReadFile(filepath.Join(f.dir, "sub", "moved.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("uploaded file differs (err %v, %d bytes of %d)", err, len(onDisk), len(data))
	}
	down, err := os.ReadFile(filepath.Join(local, "down.bin"))
	if err != nil || !bytes.Equal(down, data) {
		t.Fatalf("downloaded file differs (err %v, %d bytes of %d)", err, len(down), len(data))
	}
	fi, err := os.Stat(filepath.Join(f.dir, "sub", "moved.bin"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after chmod 600: %v, %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "gone")); !os.IsNotExist(err) {
		t.Fatalf("rmdir left gone: %v", err)
	}
	if !strings.Contains(r.out, "moved.bin") {
		t.Fatalf("ls -l does not list moved.bin:\n%s", r.out)
	}
	recs := f.records(t, 2)
	up, dl := recs[0], recs[1]
	if up.Direction != ftpserver.Upload || up.Verb != "STOR" || up.Path != "/up.bin" || up.Bytes != int64(len(data)) ||
		up.Result != ftpserver.TransferOK || up.Protocol != "sftp" || up.User != "alice" {
		t.Errorf("upload record: %+v", up)
	}
	if dl.Direction != ftpserver.Download || dl.Verb != "RETR" || dl.Path != "/sub/moved.bin" || dl.Bytes != int64(len(data)) ||
		dl.Result != ftpserver.TransferOK || dl.Protocol != "sftp" {
		t.Errorf("download record: %+v", dl)
	}
}

// TestOpenSSHResume: reget completes a partial local copy, reput a
// partial remote one, both byte-identical.
func TestOpenSSHResume(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	local := t.TempDir()
	data := randomFile(t, filepath.Join(f.dir, "remote.bin"), 2<<20+5)
	if err := os.WriteFile(filepath.Join(local, "remote.bin"), data[:700_001], 0o644); err != nil {
		t.Fatal(err)
	}
	upData := randomFile(t, filepath.Join(local, "up.bin"), 2<<20+9)
	if err := os.WriteFile(filepath.Join(f.dir, "up.bin"), upData[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.sftpBatch(t, local, "alice", password, "", "reget remote.bin\nreput up.bin\n")
	if r.code != 0 {
		t.Fatalf("sftp failed: %v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(local, "remote.bin")); !bytes.Equal(got, data) {
		t.Errorf("reget: local copy differs (%d bytes of %d)", len(got), len(data))
	}
	if got, _ := os.ReadFile(filepath.Join(f.dir, "up.bin")); !bytes.Equal(got, upData) {
		t.Errorf("reput: remote copy differs (%d bytes of %d), first difference at %d", len(got), len(upData), firstDiff(got, upData))
	}
	if up := f.records(t, 2)[1]; up.Offset != 1<<20 || up.Bytes != int64(len(upData)-1<<20) || up.Result != ftpserver.TransferOK {
		t.Errorf("reput record: %+v", up)
	}
}

// TestOpenSSHRefusals: what the server must refuse, each in a batch of
// its own (sftp -b stops at the first failure).
func TestOpenSSHRefusals(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	local := t.TempDir()
	randomFile(t, filepath.Join(local, "x.bin"), 1000)
	randomFile(t, filepath.Join(f.dir, "kept.bin"), 1000)
	outside := t.TempDir()
	secret := randomFile(t, filepath.Join(outside, "secret"), 100)
	if err := os.Symlink(outside, filepath.Join(f.dir, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, batch string
	}{
		{"symlink out of the home", "alice", "symlink /etc/passwd link"},
		{"symlink inside the home", "alice", "symlink kept.bin link"},
		{"read through a link out of the home", "alice", "get escape/secret got"},
		{"list through a link out of the home", "alice", "ls escape/"},
		{"read-only put", "reader", "put x.bin"},
		{"read-only overwrite", "reader", "put x.bin kept.bin"},
		{"read-only mkdir", "reader", "mkdir d"},
		{"read-only remove", "reader", "rm kept.bin"},
		{"read-only rename", "reader", "rename kept.bin k2"},
		{"read-only chmod", "reader", "chmod 600 kept.bin"},
		{"climb above the home", "alice", "get ../../../../etc/passwd got"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.sftpBatch(t, local, tc.user, password, "", tc.batch)
			if r.code == 0 {
				t.Fatalf("%q succeeded: %v", tc.batch, r)
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(f.dir, "link")); !os.IsNotExist(err) {
		t.Errorf("a symlink was made: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(local, "got")); err == nil {
		t.Errorf("a file outside the home was read: %q (secret %q)", got, secret)
	}
	if fi, err := os.Stat(filepath.Join(f.dir, "kept.bin")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("kept.bin changed by a read-only account: %v %v", fi, err)
	}
	for _, name := range []string{"x.bin", "d", "k2"} {
		if _, err := os.Stat(filepath.Join(f.dir, name)); !os.IsNotExist(err) {
			t.Errorf("read-only account made %s: %v", name, err)
		}
	}
	// The read-only account can still read.
	if r := f.sftpBatch(t, local, "reader", password, "", "get kept.bin k.bin"); r.code != 0 {
		t.Errorf("read-only get: %v", r)
	}
}

// TestOpenSSHLogins: a password, a key, and their wrong variants;
// anonymous is off over SFTP by default.
func TestOpenSSHLogins(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	local := t.TempDir()
	if r := f.sftpBatch(t, local, "alice", "", f.keyFile, "pwd"); r.code != 0 || !strings.Contains(r.out, "Remote working directory: /") {
		t.Errorf("key login: %v", r)
	}
	other := start(t, nil) // its key is not alice's on f
	if r := f.sftpBatch(t, local, "alice", "", other.keyFile, "pwd"); r.code == 0 {
		t.Errorf("a wrong key logged in: %v", r)
	}
	if r := f.sftpBatch(t, local, "alice", "wrong", "", "pwd"); r.code == 0 {
		t.Errorf("a wrong password logged in: %v", r)
	}
	if r := f.sftpBatch(t, local, "nobody", password, "", "pwd"); r.code == 0 {
		t.Errorf("an unknown user logged in: %v", r)
	}
	if r := f.sftpBatch(t, local, "anonymous", "x@example.com", "", "pwd"); r.code == 0 {
		t.Errorf("anonymous logged in over SFTP: %v", r)
	}
}

// TestOpenSSHExecRefused: no commands, shells or forwarding.
func TestOpenSSHExecRefused(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	ssh := testtool.Need(t, "ssh")
	sshpass := testtool.Need(t, "sshpass")
	marker := filepath.Join(t.TempDir(), "ran")
	base := append([]string{sshpass, "-e", ssh}, f.sshOptions()...)
	base = append(base, "-o", "PubkeyAuthentication=no", "-p", f.port)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"exec", []string{"alice@127.0.0.1", "touch " + marker}},
		{"shell", []string{"-tt", "alice@127.0.0.1"}},
		{"local forward", []string{"-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:0:127.0.0.1:22", "-W", "127.0.0.1:" + f.port, "alice@127.0.0.1"}},
		{"remote forward", []string{"-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:22", "alice@127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.run(t, t.TempDir(), password, "", append(append([]string{}, base...), tc.args...))
			if r.code == 0 {
				t.Fatalf("ssh %s succeeded: %v", tc.name, r)
			}
		})
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("a command ran: %v", err)
	}
}

// TestOpenSSHDefender: failed SSH logins count as failed logins; once
// banned, even the right password is refused at connect.
func TestOpenSSHDefender(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: 2}
	f := start(t, func(s *sftpserver.Server) { s.Defender = d })
	local := t.TempDir()
	if r := f.sftpBatch(t, local, "alice", password, "", "pwd"); r.code != 0 {
		t.Fatalf("login before any failure: %v", r)
	}
	other := start(t, nil)
	// Two wrong passwords and one wrong key: the third failure bans.
	f.sftpBatch(t, local, "alice", "wrong", "", "pwd")
	f.sftpBatch(t, local, "alice", "wrong", "", "pwd")
	if len(d.Bans()) != 0 {
		t.Fatalf("banned after two failures: %v", d.Bans())
	}
	f.sftpBatch(t, local, "alice", "", other.keyFile, "pwd")
	// A refused key is counted when its connection ends, which the
	// server may see after the client has exited.
	waitFor(t, "a ban", func() bool { return len(d.Bans()) > 0 })
	bans := d.Bans()
	if len(bans) != 1 || bans[0].Addr.String() != "127.0.0.1/32" {
		t.Fatalf("bans after three failures: %v", bans)
	}
	if r := f.sftpBatch(t, local, "alice", password, "", "pwd"); r.code == 0 {
		t.Fatalf("a banned address logged in: %v", r)
	}
}

// TestBanEndsSessions: a ban started elsewhere (the FTP server sharing
// the Defender) ends the address's SFTP sessions at once.
func TestBanEndsSessions(t *testing.T) {
	t.Parallel()
	d := &ftpserver.Defender{MaxFailures: -1} // the first offence bans
	f := start(t, func(s *sftpserver.Server) { s.Defender = d })
	c := f.dial(t, "alice", ssh.Password(password))
	if _, err := c.Getwd(); err != nil {
		t.Fatal(err)
	}
	if _, banned := d.LoginFailed(netip.MustParseAddr("127.0.0.1"), nil); !banned {
		t.Fatal("no ban started")
	}
	waitFor(t, "the banned address's session ended", func() bool {
		_, err := c.Getwd()
		return err != nil
	})
	if _, err := f.tryDial("alice", ssh.Password(password)); err == nil {
		t.Fatal("a banned address connected")
	}
}
