package auth

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestCheckLimits(t *testing.T) {
	t.Parallel()
	ok := User{Name: "a", Home: "/h", DownloadRate: 1, MaxSessions: 2, AllowFrom: []string{"10.0.0.0/8", "::1", "192.0.2.7"}}
	if err := ok.CheckLimits(); err != nil {
		t.Fatalf("valid user: %v", err)
	}
	for name, change := range map[string]func(*User){
		"no home":          func(u *User) { u.Home = "" },
		"NUL in home":      func(u *User) { u.Home = "/a\x00b" },
		"negative quota":   func(u *User) { u.QuotaFiles = -1 },
		"negative rate":    func(u *User) { u.UploadRate = -5 },
		"negative max":     func(u *User) { u.MaxSessions = -1 },
		"bad allow_from":   func(u *User) { u.AllowFrom = []string{"10.0.0.0/33"} },
		"words allow_from": func(u *User) { u.AllowFrom = []string{"the office"} },
	} {
		u := ok
		change(&u)
		if err := u.CheckLimits(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p, err := ParseAllowFrom("192.0.2.7"); err != nil || p.String() != "192.0.2.7/32" {
		t.Errorf("ParseAllowFrom(192.0.2.7) = %v, %v", p, err)
	}
	if p, err := ParseAllowFrom("10.1.2.3/8"); err != nil || p.String() != "10.0.0.0/8" {
		t.Errorf("ParseAllowFrom(10.1.2.3/8) = %v, %v", p, err)
	}
}

// Limits and rules survive a save and a load; UpdateUser changes them and
// keeps the password.
func TestUsersFileLimitsRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.toml")
	f, err := LoadOrCreateUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Algorithm = Bcrypt
	u := User{Name: "carol", Home: "/srv/carol", DownloadRate: 1000, UploadRate: 2000, MaxSessions: 3,
		Perms: []string{"/=list", "/in=all"}, AllowFrom: []string{"127.0.0.0/8"}}
	if err := f.AddUser(u, "pw"); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	g, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := g.Lookup("carol")
	if got.DownloadRate != 1000 || got.UploadRate != 2000 || got.MaxSessions != 3 ||
		!slices.Equal(got.Perms, u.Perms) || !slices.Equal(got.AllowFrom, u.AllowFrom) {
		t.Fatalf("loaded %+v", got)
	}
	got.Perms, got.AllowFrom, got.MaxSessions = nil, nil, 0
	if err := g.UpdateUser(got); err != nil {
		t.Fatal(err)
	}
	if err := g.Save(); err != nil {
		t.Fatal(err)
	}
	h, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := h.Lookup("carol")
	if again.Perms != nil || again.AllowFrom != nil || again.MaxSessions != 0 || again.DownloadRate != 1000 {
		t.Errorf("after UpdateUser: %+v", again)
	}
	if _, err := h.Verify(t.Context(), "carol", "pw"); err != nil {
		t.Errorf("password lost by UpdateUser: %v", err)
	}
}
