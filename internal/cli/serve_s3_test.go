package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"
	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// s3Environ is the environment of a ferry process talking to srv with
// the given keys; HOME is empty so that no AWS file of the machine's
// user takes part.
func s3Environ(t *testing.T, endpoint, accessKey, secretKey string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+t.TempDir(),
		"AWS_ENDPOINT_URL="+endpoint, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey)
}

// TestServeS3 runs the ferry binary (built once) against a real MinIO,
// with S3 settings in its environment as an operator gives them.
func TestServeS3(t *testing.T) {
	bin := buildFerry(t)
	srv := miniotest.Shared(t)
	t.Run("StartFailures", func(t *testing.T) { t.Parallel(); testS3StartFailures(t, bin, srv) })
	t.Run("EndToEnd", func(t *testing.T) { t.Parallel(); testS3EndToEnd(t, bin, srv) })
	t.Run("UsersFileHomes", func(t *testing.T) { t.Parallel(); testS3UsersFileHomes(t, bin, srv) })
	t.Run("Sweeper", func(t *testing.T) { t.Parallel(); testS3Sweeper(t, bin, srv) })
}

// testS3StartFailures: a wrong endpoint, bucket, access key or secret
// stops "ferry serve" at start with a message naming which, and the
// secret appears nowhere in what it prints.
func testS3StartFailures(t *testing.T, bin string, srv *miniotest.Server) {
	bucket := miniotest.NewBucket(t, srv)
	const wrongSecret = "wrong-secret-d41d8cd98f00b204e980"
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(wrongSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(t.TempDir(), "ferry.toml")
	config := "[s3]\nendpoint = \"" + srv.URL() + "\"\naccess_key = \"" + srv.AccessKey + "\"\nsecret_key_file = \"" + secretFile + "\"\n"
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		secret string
		want   string
	}{
		{
			name:   "unreachable endpoint",
			env:    s3Environ(t, "http://"+closedPort(t), srv.AccessKey, srv.SecretKey),
			args:   []string{"--root", "s3://" + bucket + "/ftp"},
			secret: srv.SecretKey,
			want:   "ferry: root: s3: cannot reach endpoint 127.0.0.1:",
		},
		{
			name:   "missing bucket",
			env:    s3Environ(t, srv.URL(), srv.AccessKey, srv.SecretKey),
			args:   []string{"--root", "s3://" + bucket + "-missing/ftp"},
			secret: srv.SecretKey,
			want:   `ferry: root: s3: bucket "` + bucket + `-missing" does not exist at ` + srv.Endpoint,
		},
		{
			name:   "unknown access key",
			env:    s3Environ(t, srv.URL(), "NOSUCHKEY", srv.SecretKey),
			args:   []string{"--root", "s3://" + bucket},
			secret: srv.SecretKey,
			want:   "ferry: root: s3: " + srv.Endpoint + " does not know the access key",
		},
		{
			name:   "wrong secret",
			env:    s3Environ(t, srv.URL(), srv.AccessKey, wrongSecret),
			args:   []string{"--root", "s3://" + bucket},
			secret: wrongSecret,
			want:   "ferry: root: s3: " + srv.Endpoint + " refused the secret key",
		},
		{
			name:   "wrong secret in secret_key_file",
			env:    s3Environ(t, "http://unused.invalid", "unused", "unused"),
			args:   []string{"--config", configFile, "--root", "s3://" + bucket},
			secret: wrongSecret,
			want:   "ferry: root: s3: " + srv.Endpoint + " refused the secret key",
		},
		{
			name:   "anonymous root",
			env:    s3Environ(t, srv.URL(), srv.AccessKey, srv.SecretKey),
			args:   []string{"--root", t.TempDir(), "--config", writeAnonRoot(t, "s3://"+bucket+"-gone")},
			secret: srv.SecretKey,
			want:   `ferry: anonymous root: s3: bucket "` + bucket + `-gone" does not exist`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)...)
			cmd.Env = tc.env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("ferry serve: %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, &stderr)
			}
			for name, out := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
				if strings.Contains(out, tc.secret) {
					t.Errorf("%s shows the secret:\n%s", name, out)
				}
			}
		})
	}
}

// writeAnonRoot writes a configuration file whose anonymous root is root.
func writeAnonRoot(t *testing.T, root string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "anon.toml")
	if err := os.WriteFile(path, []byte("[anonymous]\nroot = \""+root+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startS3Serve runs "ferry serve" with env and args until the test ends,
// and returns its address and its log.
func startS3Serve(t *testing.T, bin string, env []string, args ...string) (string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	logs := new(syncBuffer)
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("ferry serve did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("ferry serve log:\n%s", logs)
		}
	})
	addr, _ := waitAddr(t, stdout)
	return addr, logs
}

// goFTP logs in with github.com/jlaffaye/ftp.
func goFTP(t *testing.T, addr, user, pass string) *goftp.ServerConn {
	t.Helper()
	c, err := goftp.Dial(addr, goftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Quit() })
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	return c
}

// objectText returns the content of an object, or "" and false if it is
// not there.
func objectText(t *testing.T, client *minio.Client, bucket, key string) (string, bool) {
	t.Helper()
	obj, err := client.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return "", false
	}
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(data), true
}

// testS3EndToEnd: "ferry serve --root s3://bucket/prefix" with the
// credentials in the environment serves the prefix to a real client:
// what it uploads, renames and deletes is what the bucket holds.
func testS3EndToEnd(t *testing.T, bin string, srv *miniotest.Server) {
	bucket := miniotest.NewBucket(t, srv)
	client := srv.Client(t)
	// Outside the prefix: must stay invisible and untouched.
	if _, err := client.PutObject(context.Background(), bucket, "other/secret.txt", strings.NewReader("no"), 2, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(passFile, []byte("pw\n"), 0o600)
	addr, logs := startS3Serve(t, bin, s3Environ(t, srv.URL(), srv.AccessKey, srv.SecretKey),
		"--root", "s3://"+bucket+"/ftp/", "--user", "joe", "--password-file", passFile, "--write")
	c := goFTP(t, addr, "joe", "pw")

	payload := strings.Repeat("ferry over S3\n", 1000)
	if err := c.Stor("hello.txt", strings.NewReader(payload)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if got, ok := objectText(t, client, bucket, "ftp/hello.txt"); !ok || got != payload {
		t.Fatalf("object ftp/hello.txt: %d bytes (there: %v), want %d", len(got), ok, len(payload))
	}
	if err := c.MakeDir("docs"); err != nil {
		t.Fatalf("MKD: %v", err)
	}
	if err := c.Rename("hello.txt", "docs/renamed.txt"); err != nil {
		t.Fatalf("RNFR/RNTO: %v", err)
	}
	entries, err := c.List("/")
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "docs" || entries[0].Type != goftp.EntryTypeFolder {
		t.Errorf("LIST / = %q, want only the directory docs", names)
	}
	entries, err = c.List("/docs")
	if err != nil || len(entries) != 1 || entries[0].Name != "renamed.txt" || entries[0].Size != uint64(len(payload)) {
		t.Fatalf("LIST /docs = %+v, %v", entries, err)
	}
	r, err := c.Retr("docs/renamed.txt")
	if err != nil {
		t.Fatalf("RETR: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != payload {
		t.Fatalf("RETR gave %d bytes (%v), want %d", len(got), err, len(payload))
	}
	if _, ok := objectText(t, client, bucket, "ftp/hello.txt"); ok {
		t.Error("the renamed object is still at its old key")
	}
	if err := c.Delete("docs/renamed.txt"); err != nil {
		t.Fatalf("DELE: %v", err)
	}
	if _, ok := objectText(t, client, bucket, "ftp/docs/renamed.txt"); ok {
		t.Error("DELE left the object")
	}
	if err := c.RemoveDir("docs"); err != nil {
		t.Fatalf("RMD: %v", err)
	}
	if entries, err := c.List("/"); err != nil || len(entries) != 0 {
		t.Errorf("LIST / after RMD = %+v, %v", entries, err)
	}
	if got, ok := objectText(t, client, bucket, "other/secret.txt"); !ok || got != "no" {
		t.Error("an object outside the prefix changed")
	}
	if !strings.Contains(logs.String(), `msg="opened S3 root" root=s3://`+bucket+`/ftp`) {
		t.Errorf("the log does not say which S3 root was opened:\n%s", logs)
	}
}

// testS3UsersFileHomes: "ferry user add --home s3://..." stores the URL as
// given (no host directory check, no path made of it), and a users
// file's S3 home is opened at the user's first login: a good one serves
// the user's prefix, a missing bucket refuses that login and says why in
// the log, and neither stops the server.
func testS3UsersFileHomes(t *testing.T, bin string, srv *miniotest.Server) {
	bucket := miniotest.NewBucket(t, srv)
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.toml")
	for _, u := range []struct{ name, home string }{
		{"alice", "s3://" + bucket + "//alice/"},
		{"bob", "s3://" + bucket + "-gone/bob"},
	} {
		cmd := exec.Command(bin, "user", "--file", usersFile, "add", u.name, "--home", u.home, "--write", "--password-stdin", "--algo", "bcrypt")
		cmd.Stdin = strings.NewReader("pw-" + u.name + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("user add %s: %v\n%s", u.name, err, out)
		}
		if strings.Contains(string(out), "warning") {
			t.Errorf("user add %s warns about an S3 home:\n%s", u.name, out)
		}
	}
	data, err := os.ReadFile(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `home = 's3://`+bucket+`/alice'`) && !strings.Contains(string(data), `home = "s3://`+bucket+`/alice"`) {
		t.Errorf("users file does not hold the clean S3 home:\n%s", data)
	}
	configFile := filepath.Join(dir, "ferry.toml")
	os.WriteFile(configFile, []byte("users_file = \"users.toml\"\n[anonymous]\nenabled = false\n"), 0o600)
	addr, logs := startS3Serve(t, bin, s3Environ(t, srv.URL(), srv.AccessKey, srv.SecretKey), "--config", configFile)
	if strings.Contains(logs.String(), "S3 store") {
		t.Errorf("the store was contacted before any login:\n%s", logs)
	}

	c := goFTP(t, addr, "alice", "pw-alice")
	if err := c.Stor("a.txt", strings.NewReader("alice's")); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if got, ok := objectText(t, srv.Client(t), bucket, "alice/a.txt"); !ok || got != "alice's" {
		t.Errorf("object alice/a.txt = %q (there: %v)", got, ok)
	}

	bob, err := goftp.Dial(addr, goftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Quit()
	if err := bob.Login("bob", "pw-bob"); err == nil || !strings.HasPrefix(err.Error(), "421") {
		t.Errorf("login with a home in a missing bucket: %v, want 421", err)
	}
	testwait.For(t, "the log to say why bob cannot log in", func() bool {
		return strings.Contains(logs.String(), `bucket \"`+bucket+`-gone\" does not exist`)
	})
	// The server still serves alice.
	if _, err := c.List("/"); err != nil {
		t.Errorf("LIST after bob's failed login: %v", err)
	}
}

// testS3Sweeper: an incomplete multipart upload under the root older than
// abandoned_after is aborted when the root is opened, and logged; one
// under another prefix is not touched.
func testS3Sweeper(t *testing.T, bin string, srv *miniotest.Server) {
	bucket := miniotest.NewBucket(t, srv)
	core := minio.Core{Client: srv.Client(t)}
	ctx := context.Background()
	stale, err := core.NewMultipartUpload(ctx, bucket, "ftp/crashed.bin", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := core.NewMultipartUpload(ctx, bucket, "ftp2/elsewhere.bin", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(t.TempDir(), "ferry.toml")
	os.WriteFile(configFile, []byte("[s3]\nabandoned_after = \"1ms\"\n"), 0o600)
	_, logs := startS3Serve(t, bin, s3Environ(t, srv.URL(), srv.AccessKey, srv.SecretKey), "--config", configFile, "--root", "s3://"+bucket+"/ftp")

	testwait.For(t, "the sweep's total in the log", func() bool {
		return strings.Contains(logs.String(), "swept abandoned S3 uploads")
	})
	log := logs.String()
	for _, want := range []string{
		`msg="aborted an abandoned S3 upload" root=s3://` + bucket + `/ftp key=ftp/crashed.bin upload_id=` + stale,
		`msg="swept abandoned S3 uploads" root=s3://` + bucket + `/ftp aborted=1`,
		`level=WARN msg="s3.abandoned_after is under an hour`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	var left []string
	for u := range srv.Client(t).ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		left = append(left, u.UploadID)
	}
	if len(left) != 1 || left[0] != other {
		t.Errorf("incomplete uploads left: %q, want only %q (outside the root)", left, other)
	}
}
