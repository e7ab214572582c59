package sftpclient_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient/mirror"
	"github.com/ferry-ftp/ferry/sftpclient"
)

var _ mirror.Remote = (*sftpclient.Client)(nil)

// A mirror over SFTP keeps modification times both ways, so a second run
// transfers nothing.
func TestMirrorBothWays(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.dial(t, s.config())
	ctx := testContext(t)
	then := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

	local := t.TempDir()
	if err := os.MkdirAll(filepath.Join(local, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo bravo"}
	for name, text := range files {
		p := filepath.Join(local, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, then, then); err != nil {
			t.Fatal(err)
		}
	}
	up := mirror.Options{Direction: mirror.Upload}
	res, err := mirror.Run(ctx, c, "/up", local, up)
	if err != nil || res.Transferred != 2 {
		t.Fatalf("upload: %+v, %v", res, err)
	}
	for name, text := range files {
		p := filepath.Join(s.Root, "up", name)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != text {
			t.Errorf("%s on the server: %q, %v", name, got, err)
		}
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(then) {
			t.Errorf("%s's time on the server: %v", name, fi.ModTime())
		}
	}
	if res, err := mirror.Run(ctx, c, "/up", local, up); err != nil || res.Transferred != 0 || res.UpToDate != 2 {
		t.Errorf("second upload: %+v, %v; want nothing transferred", res, err)
	}

	down := t.TempDir()
	opts := mirror.Options{Direction: mirror.Download}
	if res, err := mirror.Run(ctx, c, "/up", down, opts); err != nil || res.Transferred != 2 {
		t.Fatalf("download: %+v, %v", res, err)
	}
	for name, text := range files {
		p := filepath.Join(down, name)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != text {
			t.Errorf("%s downloaded: %q, %v", name, got, err)
		}
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(then) {
			t.Errorf("%s's local time: %v", name, fi.ModTime())
		}
	}
	if res, err := mirror.Run(ctx, c, "/up", down, opts); err != nil || res.Transferred != 0 {
		t.Errorf("second download: %+v, %v", res, err)
	}
}
