package config

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/internal/miniotest"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"16777216", 16 << 20},
		{"16_777_216", 16 << 20},
		{"16MiB", 16 << 20},
		{"16 MiB", 16 << 20},
		{" 16mib ", 16 << 20},
		{"16M", 16 << 20},
		{"5MB", 5_000_000},
		{"512KiB", 512 << 10},
		{"1GiB", 1 << 30},
		{"2GB", 2_000_000_000},
		{"1TiB", 1 << 40},
		{"7B", 7},
		{"8388608EiB", -1},
		{"", -1},
		{"MiB", -1},
		{"-5MiB", -1},
		{"1.5MiB", -1},
		{"16 MiBs", -1},
		{"_16", -1},
		{"16_", -1},
		{"1__6", -1},
		{"9223372036854775807", 1<<63 - 1},
		{"9223372036854775808", -1},
		{"8388608TiB", -1},
	} {
		got, err := parseSize(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tc.in, got)
			} else if !strings.Contains(err.Error(), `"16MiB"`) {
				t.Errorf("parseSize(%q): error %q does not show the expected form", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// A size written back reads as the same size.
func TestSizeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []Size{0, 1, 1000, 16 << 20, 5 << 30, 3 << 40, 16<<20 + 1} {
		text, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Size
		if err := back.UnmarshalText(text); err != nil || back != v {
			t.Errorf("%d -> %q -> %d, %v", v, text, back, err)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"16MiB", "0", "1_024", "5 GB", "9223372036854775807", "8388608TiB", "k", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d, negative", s, n)
		}
		text, _ := Size(n).MarshalText()
		if back, err := parseSize(string(text)); err != nil || back != n {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, n, text, back, err)
		}
	})
}

func TestINISection(t *testing.T) {
	t.Parallel()
	data := []byte(`# comment
[default]
region = us-east-1
endpoint_url=http://127.0.0.1:9000

[profile  dev]
region = eu-west-3 ; not a comment in AWS files either
s3 =
  endpoint_url = http://nested.example
  addressing_style = path
; comment
aws_access_key_id = AKIA
[broken
region = nowhere
`)
	got, found := iniSection(data, "default")
	if !found || got["region"] != "us-east-1" || got["endpoint_url"] != "http://127.0.0.1:9000" || len(got) != 2 {
		t.Errorf("default = %v, %v", got, found)
	}
	got, found = iniSection(data, "profile dev")
	if !found || got["region"] != "eu-west-3 ; not a comment in AWS files either" || got["endpoint_url"] != "" || got["aws_access_key_id"] != "AKIA" {
		t.Errorf("profile dev = %v, %v (a nested key must not leak out)", got, found)
	}
	if got, found := iniSection(data, "profile prod"); found || len(got) != 0 {
		t.Errorf("missing profile = %v, %v", got, found)
	}
}

func FuzzINISection(f *testing.F) {
	f.Add([]byte("[default]\nregion = x\n"), "default")
	f.Add([]byte("[profile a]\ns3 =\n  endpoint_url = y\nregion=z"), "profile a")
	f.Add([]byte("[\n=\n \n[]"), "")
	f.Fuzz(func(t *testing.T, data []byte, section string) {
		values, found := iniSection(data, section)
		if !found && len(values) > 0 {
			t.Fatalf("values %v from a section not found", values)
		}
		for k, v := range values {
			if k == "" || v == "" || strings.ContainsAny(k, "\n") {
				t.Fatalf("bad pair %q=%q", k, v)
			}
		}
	})
}

// s3Env is a Config whose environment is vars, with HOME a fresh
// directory holding the given AWS shared files (if not empty).
func s3Env(t *testing.T, vars map[string]string, credentialsFile, configFile string) *Config {
	t.Helper()
	home := t.TempDir()
	if credentialsFile != "" {
		writeFile(t, filepath.Join(home, ".aws", "credentials"), credentialsFile)
	}
	if configFile != "" {
		writeFile(t, filepath.Join(home, ".aws", "config"), configFile)
	}
	c := Default()
	c.Getenv = func(key string) string {
		if key == "HOME" {
			return home
		}
		return vars[key]
	}
	return c
}

func credsOf(t *testing.T, set *s3Settings) credentials.Value {
	t.Helper()
	if set.opts.Credentials == nil {
		return credentials.Value{}
	}
	v, err := set.opts.Credentials.GetWithContext(&credentials.CredContext{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	credsFile = "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n" +
		"[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = devsecret\naws_session_token = devtoken\n"
	configFile = "[default]\nregion = file-region\nendpoint_url = http://file.example:9000\n" +
		"[profile dev]\nregion = dev-region\n"
)

// The [s3] table wins over the environment, which wins over the AWS
// files; credentials come whole from one place.
func TestResolveS3Precedence(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AWS_ENDPOINT_URL":      "http://env.example:9000",
		"AWS_REGION":            "env-region",
		"AWS_DEFAULT_REGION":    "default-region",
		"AWS_ACCESS_KEY_ID":     "ENVKEY",
		"AWS_SECRET_ACCESS_KEY": "envsecret",
		"AWS_SESSION_TOKEN":     "envtoken",
	}

	t.Run("table", func(t *testing.T) {
		t.Parallel()
		c := s3Env(t, env, credsFile, configFile)
		secretFile := filepath.Join(t.TempDir(), "secret")
		writeFile(t, secretFile, "tablesecret\nignored\n")
		c.S3.Endpoint, c.S3.Region, c.S3.AccessKey, c.S3.SecretKeyFile = "http://table.example", "table-region", "TABLEKEY", secretFile
		set, err := c.resolveS3()
		if err != nil {
			t.Fatal(err)
		}
		if set.opts.Endpoint != "http://table.example" || set.opts.Region != "table-region" {
			t.Errorf("endpoint %q region %q", set.opts.Endpoint, set.opts.Region)
		}
		if v := credsOf(t, set); v.AccessKeyID != "TABLEKEY" || v.SecretAccessKey != "tablesecret" || v.SessionToken != "" {
			t.Errorf("credentials %+v", v)
		}
	})
	t.Run("environment", func(t *testing.T) {
		t.Parallel()
		set, err := s3Env(t, env, credsFile, configFile).resolveS3()
		if err != nil {
			t.Fatal(err)
		}
		if set.opts.Endpoint != "http://env.example:9000" || set.opts.Region != "env-region" {
			t.Errorf("endpoint %q region %q", set.opts.Endpoint, set.opts.Region)
		}
		if v := credsOf(t, set); v.AccessKeyID != "ENVKEY" || v.SecretAccessKey != "envsecret" || v.SessionToken != "envtoken" {
			t.Errorf("credentials %+v", v)
		}
	})
	t.Run("service endpoint and default region", func(t *testing.T) {
		t.Parallel()
		set, err := s3Env(t, map[string]string{
			"AWS_ENDPOINT_URL_S3": "http://s3only.example", "AWS_ENDPOINT_URL": "http://all.example",
			"AWS_DEFAULT_REGION": "default-region",
		}, "", "").resolveS3()
		if err != nil {
			t.Fatal(err)
		}
		if set.opts.Endpoint != "http://s3only.example" || set.opts.Region != "default-region" || set.opts.Credentials != nil {
			t.Errorf("endpoint %q region %q credentials %v", set.opts.Endpoint, set.opts.Region, set.opts.Credentials)
		}
	})
	t.Run("files", func(t *testing.T) {
		t.Parallel()
		set, err := s3Env(t, nil, credsFile, configFile).resolveS3()
		if err != nil {
			t.Fatal(err)
		}
		if set.opts.Endpoint != "http://file.example:9000" || set.opts.Region != "file-region" {
			t.Errorf("endpoint %q region %q", set.opts.Endpoint, set.opts.Region)
		}
		if v := credsOf(t, set); v.AccessKeyID != "FILEKEY" || v.SecretAccessKey != "filesecret" {
			t.Errorf("credentials %+v", v)
		}
	})
	t.Run("profile", func(t *testing.T) {
		t.Parallel()
		set, err := s3Env(t, map[string]string{"AWS_PROFILE": "dev"}, credsFile, configFile).resolveS3()
		if err != nil {
			t.Fatal(err)
		}
		if set.opts.Endpoint != "" || set.opts.Region != "dev-region" {
			t.Errorf("endpoint %q region %q", set.opts.Endpoint, set.opts.Region)
		}
		if v := credsOf(t, set); v.AccessKeyID != "DEVKEY" || v.SecretAccessKey != "devsecret" || v.SessionToken != "devtoken" {
			t.Errorf("credentials %+v", v)
		}
	})
	t.Run("files named by the environment", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "creds"), credsFile)
		writeFile(t, filepath.Join(dir, "conf"), configFile)
		set, err := s3Env(t, map[string]string{
			"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "creds"),
			"AWS_CONFIG_FILE":             filepath.Join(dir, "conf"),
		}, "", "").resolveS3()
		if err != nil {
			t.Fatal(err)
		}
		if v := credsOf(t, set); v.AccessKeyID != "FILEKEY" || set.opts.Region != "file-region" {
			t.Errorf("credentials %+v region %q", v, set.opts.Region)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		t.Parallel()
		set, err := s3Env(t, nil, "", "").resolveS3()
		if err != nil {
			t.Fatal(err)
		}
		if set.opts.Credentials != nil || set.opts.Endpoint != "" || !strings.Contains(set.credsSource, "anonymous") {
			t.Errorf("%+v", set)
		}
		if set.opts.PartSize != 16<<20 || set.opts.Concurrency != 4 || set.opts.MaxRenameCount != 10000 {
			t.Errorf("tuning %+v", set.opts)
		}
	})
}

// Misconfigured credentials fail with a message that says what is wrong
// and never holds a secret.
func TestResolveS3Errors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		vars  map[string]string
		creds string
		want  string
	}{
		{"key without secret", map[string]string{"AWS_ACCESS_KEY_ID": "K"}, "", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together"},
		{"secret without key", map[string]string{"AWS_SECRET_ACCESS_KEY": "sekrit"}, "", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together"},
		{"unknown profile", map[string]string{"AWS_PROFILE": "nope"}, credsFile, "AWS_PROFILE=nope: no [nope] in"},
		{"profile without a file", map[string]string{"AWS_PROFILE": "dev"}, "", "no such file"},
		{"half a key pair", nil, "[default]\naws_secret_access_key = sekrit\n", "needs both aws_access_key_id and aws_secret_access_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := s3Env(t, tc.vars, tc.creds, "").resolveS3()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestValidateS3(t *testing.T) {
	t.Parallel()
	c := Default()
	c.S3 = S3{PartSize: 1 << 20, Concurrency: 0, MaxRenameObjects: 0, AbandonedAfter: Duration{-1}, AccessKey: "K"}
	c.Root = "s3://"
	c.Anonymous.Root = "s3:///prefix"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`s3.part_size: must be between "5MiB" and "5GiB" (S3's part limits), got "1MiB"`,
		"s3.concurrency: must be at least 1, got 0",
		"s3.max_rename_objects: must be at least 1, got 0",
		`s3.abandoned_after: must not be negative`,
		"s3: access_key and secret_key_file must be set together",
		`root: "s3://" names no bucket`,
		`anonymous.root: "s3:///prefix" names no bucket`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in:\n%v", want, err)
		}
	}

	// An s3:// root is not a host directory, and a relative path in a
	// file is not made of it.
	c = Default()
	c.Root = "s3://bucket/some/prefix"
	if err := c.Validate(); err != nil {
		t.Errorf("s3 root: %v", err)
	}
	if err := c.resolvePaths(t.TempDir()); err != nil || c.Root != "s3://bucket/some/prefix" {
		t.Errorf("resolvePaths made %q of the root (%v)", c.Root, err)
	}
}

// A configuration file's [s3] size may be written as an integer of bytes
// or with a unit, and a bad one names its line.
func TestLoadS3Sizes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		text string
		want Size
		err  string
	}{
		{"part_size = 8388608", 8 << 20, ""},
		{`part_size = "32MiB"`, 32 << 20, ""},
		{`part_size = "32 furlongs"`, 0, `invalid size "32 furlongs"`},
	} {
		path := filepath.Join(dir, "ferry.toml")
		writeFile(t, path, "[s3]\n"+tc.text+"\n")
		c, err := Load(path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "ferry.toml") {
				t.Errorf("%s: err = %v, want %q with the file name", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil || c.S3.PartSize != tc.want {
			t.Errorf("%s: %v, %v", tc.text, c, err)
		}
	}
}

// minioConfig is a Config whose environment points at srv.
func minioConfig(t *testing.T, srv *miniotest.Server) *Config {
	t.Helper()
	return s3Env(t, map[string]string{
		"AWS_ENDPOINT_URL":      srv.URL(),
		"AWS_ACCESS_KEY_ID":     srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY": srv.SecretKey,
	}, "", "")
}

// Every spelling of one S3 location shares one file system, and users
// share the root's; an anonymous upload_dir on S3 is checked at start.
func TestBuildS3Roots(t *testing.T) {
	t.Parallel()
	srv := miniotest.Shared(t)
	bucket := miniotest.NewBucket(t, srv)
	if _, err := srv.Client(t).PutObject(context.Background(), bucket, "pub/incoming/", strings.NewReader(""), 0, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users.toml"), fmt.Sprintf(`
[[user]]
name = "alice"
password = %q
home = "s3://%s//pub/"
`, passwordHash, bucket))

	c := minioConfig(t, srv)
	c.Root = "s3://" + bucket + "/pub"
	c.UsersFile = filepath.Join(dir, "users.toml")
	c.Anonymous.UploadDir = "/incoming"
	s := build(t, c)
	anon, err := login(s, "anonymous", "x")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := login(s, "alice", "password")
	if err != nil {
		t.Fatal(err)
	}
	if anon.FS != alice.FS {
		t.Error("s3://b/pub and s3://b//pub/ opened two file systems")
	}
	info, err := alice.FS.Stat(context.Background(), "/incoming")
	if err != nil || !info.IsDir() {
		t.Errorf("alice's home does not show pub/incoming/: %v, %v", info, err)
	}

	c = minioConfig(t, srv)
	c.Root = "s3://" + bucket + "/pub"
	c.Anonymous.UploadDir = "/missing"
	_, err = c.Build(quiet)
	want := "anonymous.upload_dir: /missing under the anonymous root s3://" + bucket + "/pub: "
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("missing upload_dir on S3: %v, want %q", err, want)
	}
}
