package cli

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/miniotest"
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

// TestServeS3StartFailures: a wrong endpoint, bucket, access key or
// secret stops "ferry serve" at start with a message naming which, and
// the secret appears nowhere in what it prints.
func TestServeS3StartFailures(t *testing.T) {
	bin := buildFerry(t)
	srv := miniotest.Shared(t)
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

