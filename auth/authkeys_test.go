package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

// ed25519Line is a real OpenSSH public key line (ssh-keygen -t ed25519).
const ed25519Line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJ3sv1AsQ9NCPMDpvHhyiZ0tDv1hzKhSqKdo1dI8Zsf alice@laptop"

func TestParseAuthorizedKey(t *testing.T) {
	t.Parallel()
	blob, err := ParseAuthorizedKey("  " + ed25519Line + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := base64.StdEncoding.DecodeString(strings.Fields(ed25519Line)[1]); string(blob) != string(want) {
		t.Fatalf("blob %x, want %x", blob, want)
	}
	if _, err := ParseAuthorizedKey(strings.Join(strings.Fields(ed25519Line)[:2], " ")); err != nil {
		t.Errorf("without a comment: %v", err)
	}
	for _, bad := range []string{
		"",
		"ssh-ed25519",
		`from="10.0.0.0/8" ` + ed25519Line, // options are not enforced: refused
		"ssh-rsa " + strings.Fields(ed25519Line)[1], // type differs from the blob's
		"ssh-ed25519 not*base64",                    // bad base64
		"ssh-ed25519 AAAA",                          // truncated
		"ssh-ed25519-cert-v01@openssh.com AAAAC3Nz", // certificates
		"-----BEGIN OPENSSH PRIVATE KEY-----",       // a private key file
	} {
		if _, err := ParseAuthorizedKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	u := User{AuthorizedKeys: []string{ed25519Line}}
	if !u.HasAuthorizedKey(blob) || u.HasAuthorizedKey(blob[:len(blob)-1]) {
		t.Error("HasAuthorizedKey does not match exactly")
	}
	if err := (User{Home: "/h", AuthorizedKeys: []string{"ssh-ed25519 x"}}).CheckLimits(); err == nil {
		t.Error("CheckLimits accepted a bad key")
	}
}

func FuzzParseAuthorizedKey(f *testing.F) {
	f.Add(ed25519Line)
	f.Add("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x")
	f.Add(`command="ls" ` + ed25519Line)
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")
	f.Fuzz(func(t *testing.T, line string) {
		blob, err := ParseAuthorizedKey(line)
		if err != nil {
			return
		}
		// Whatever is accepted names its type in the line and the blob.
		typ := strings.Fields(line)[0]
		if len(blob) < 4+len(typ) || string(blob[4:4+len(typ)]) != typ {
			t.Fatalf("accepted %q with blob %x", line, blob)
		}
		if !(User{AuthorizedKeys: []string{line}}).HasAuthorizedKey(blob) {
			t.Fatalf("%q does not match its own blob", line)
		}
	})
}
