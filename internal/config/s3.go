package config

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// S3 is the [s3] table: how to reach the object store that s3:// roots
// name. A key left empty falls back to the AWS environment variables, then
// to the AWS shared files (see default.toml for the order).
type S3 struct {
	// Endpoint is "http(s)://host[:port]" or a bare host (HTTPS); empty
	// means AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
	// endpoint_url, else AWS S3 itself.
	Endpoint string `toml:"endpoint"`
	Region   string `toml:"region"`
	// PathStyle forces http://host/bucket/key requests; false lets the
	// client choose (virtual hosts on AWS, path style elsewhere).
	PathStyle bool `toml:"path_style"`
	// AccessKey and SecretKeyFile (its first line is the secret) are set
	// together; the secret is never written in the configuration itself.
	AccessKey     string `toml:"access_key"`
	SecretKeyFile string `toml:"secret_key_file"`
	// PartSize and Concurrency bound an upload's memory: PartSize x
	// (Concurrency+1) bytes.
	PartSize    Size `toml:"part_size"`
	Concurrency int  `toml:"concurrency"`
	// AbandonedAfter is the age past which an incomplete multipart upload
	// under a served prefix is taken for a crashed node's and aborted;
	// "0s" turns the sweep off.
	AbandonedAfter Duration `toml:"abandoned_after"`
	// MaxRenameObjects bounds how many objects renaming a directory may
	// copy.
	MaxRenameObjects int `toml:"max_rename_objects"`
}

// Size is a byte count written in the file as an integer or as a string
// with a unit: "16MiB", "512 KiB", "1GB".
type Size int64

// MarshalText writes s with the largest binary unit that divides it.
func (s Size) MarshalText() ([]byte, error) {
	v := int64(s)
	for _, u := range []struct {
		name  string
		scale int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v != 0 && v%u.scale == 0 {
			return []byte(strconv.FormatInt(v/u.scale, 10) + u.name), nil
		}
	}
	return []byte(strconv.FormatInt(v, 10)), nil
}

// UnmarshalText parses a size; go-toml hands integers here as their text
// too.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := parseSize(string(text))
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1000,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1000 * 1000,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1000 * 1000 * 1000,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1000 * 1000 * 1000 * 1000,
}

// parseSize reads a non-negative whole number of bytes with an optional
// unit (case-insensitive; KiB/MiB/GiB/TiB and the bare K/M/G/T are powers
// of 1024, kB/MB/GB/TB powers of 1000).
func parseSize(text string) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("invalid size %q: want bytes, or a whole number with a unit such as \"16MiB\" or \"512KiB\"", text)
	}
	t := strings.TrimSpace(text)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '_') {
		i++
	}
	digits := strings.ReplaceAll(t[:i], "_", "")
	if digits == "" || strings.HasPrefix(t, "_") || strings.Contains(t[:i], "__") || strings.HasSuffix(t[:i], "_") {
		return bad()
	}
	scale, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if !ok {
		return bad()
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > (1<<63-1)/scale {
		return bad()
	}
	return n * scale, nil
}

// getenv reads the process environment, or what a test put in its place.
func (c *Config) getenv(key string) string {
	if c.Getenv != nil {
		return c.Getenv(key)
	}
	return os.Getenv(key)
}

// validateS3 checks the [s3] table without reading any secret or talking
// to the store.
func (c *Config) validateS3(bad func(key, format string, args ...any)) {
	s := &c.S3
	if s.PartSize < 5<<20 || s.PartSize > 5<<30 {
		text, _ := s.PartSize.MarshalText()
		bad("s3.part_size", "must be between \"5MiB\" and \"5GiB\" (S3's part limits), got %q", text)
	}
	if s.Concurrency < 1 {
		bad("s3.concurrency", "must be at least 1, got %d", s.Concurrency)
	}
	if s.MaxRenameObjects < 1 {
		bad("s3.max_rename_objects", "must be at least 1, got %d", s.MaxRenameObjects)
	}
	if s.AbandonedAfter.Duration < 0 {
		bad("s3.abandoned_after", "must not be negative (\"0s\" turns the sweep off), got %q", s.AbandonedAfter.String())
	}
	if (s.AccessKey == "") != (s.SecretKeyFile == "") {
		bad("s3", "access_key and secret_key_file must be set together")
	}
	if s.SecretKeyFile != "" {
		if info, err := os.Stat(s.SecretKeyFile); err != nil {
			bad("s3.secret_key_file", "%v", err)
		} else if !info.Mode().IsRegular() {
			bad("s3.secret_key_file", "%s is not a regular file", s.SecretKeyFile)
		}
	}
}

// checkRoot checks a root that may be a host directory or an s3:// URL;
// an S3 location is only parsed here, and checked against the store when
// it is opened.
func checkRoot(root string) error {
	if s3fs.IsURL(root) {
		_, _, err := s3fs.ParseURL(root)
		return err
	}
	return checkDir(root)
}

// s3Settings is what the [s3] table, the environment and the AWS files
// resolve to, with where the credentials came from (for the log; never
// the secret itself).
type s3Settings struct {
	opts        s3fs.Options
	credsSource string
}

// resolveS3 works out the endpoint, region and credentials. Each setting
// comes from the first place that has it: the [s3] table, the environment,
// then the AWS shared files (credentials file, and config file for
// region and endpoint_url) of profile $AWS_PROFILE, else "default".
func (c *Config) resolveS3() (*s3Settings, error) {
	s := &c.S3
	set := &s3Settings{opts: s3fs.Options{
		Endpoint:       s.Endpoint,
		Region:         s.Region,
		PathStyle:      s.PathStyle,
		PartSize:       int64(s.PartSize),
		Concurrency:    s.Concurrency,
		MaxRenameCount: s.MaxRenameObjects,
	}}
	profile, profileGiven := c.getenv("AWS_PROFILE"), true
	if profile == "" {
		profile, profileGiven = "default", false
	}
	home := c.getenv("HOME")
	awsFile := func(env, name string) string {
		if p := c.getenv(env); p != "" {
			return p
		}
		if home == "" {
			return ""
		}
		return filepath.Join(home, ".aws", name)
	}
	var profileConf map[string]string
	if path := awsFile("AWS_CONFIG_FILE", "config"); path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			section := "profile " + profile
			if profile == "default" {
				section = "default"
			}
			profileConf, _ = iniSection(data, section)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("s3: AWS config file: %w", err)
		}
	}
	firstOf := func(values ...string) string {
		for _, v := range values {
			if v != "" {
				return v
			}
		}
		return ""
	}
	set.opts.Endpoint = firstOf(set.opts.Endpoint, c.getenv("AWS_ENDPOINT_URL_S3"), c.getenv("AWS_ENDPOINT_URL"), profileConf["endpoint_url"])
	set.opts.Region = firstOf(set.opts.Region, c.getenv("AWS_REGION"), c.getenv("AWS_DEFAULT_REGION"), profileConf["region"])

	switch {
	case s.AccessKey != "":
		secret, err := readSecretFile(s.SecretKeyFile)
		if err != nil {
			return nil, err
		}
		set.opts.Credentials = credentials.NewStaticV4(s.AccessKey, secret, "")
		set.credsSource = "[s3] access_key and secret_key_file"
	case c.getenv("AWS_ACCESS_KEY_ID") != "" || c.getenv("AWS_SECRET_ACCESS_KEY") != "":
		id, secret := c.getenv("AWS_ACCESS_KEY_ID"), c.getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return nil, errors.New("s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
		}
		set.opts.Credentials = credentials.NewStaticV4(id, secret, c.getenv("AWS_SESSION_TOKEN"))
		set.credsSource = "environment (AWS_ACCESS_KEY_ID)"
	default:
		path := awsFile("AWS_SHARED_CREDENTIALS_FILE", "credentials")
		if path == "" {
			break
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !profileGiven {
			break
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("s3: AWS credentials file: %w", err)
		}
		keys, found := iniSection(data, profile)
		if !found && !profileGiven {
			break // a credentials file without a default profile
		}
		if !found {
			return nil, fmt.Errorf("s3: AWS_PROFILE=%s: no [%s] in %s", profile, profile, path)
		}
		id, secret := keys["aws_access_key_id"], keys["aws_secret_access_key"]
		if id == "" || secret == "" {
			return nil, fmt.Errorf("s3: profile [%s] of %s needs both aws_access_key_id and aws_secret_access_key", profile, path)
		}
		set.opts.Credentials = credentials.NewStaticV4(id, secret, keys["aws_session_token"])
		set.credsSource = fmt.Sprintf("profile [%s] of %s", profile, path)
	}
	if set.opts.Credentials == nil {
		set.credsSource = "none (anonymous requests)"
	}
	return set, nil
}

// maxSecretFile bounds what secret_key_file reads: a wrong path (a log, a
// device) must not be read whole.
const maxSecretFile = 64 << 10

// readSecretFile returns the first line of path; its error never holds
// the file's content.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("s3.secret_key_file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxSecretFile)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("s3.secret_key_file %s: %w", path, err)
		}
		return "", fmt.Errorf("s3.secret_key_file %s is empty", path)
	}
	line := strings.TrimSpace(sc.Text())
	if line == "" {
		return "", fmt.Errorf("s3.secret_key_file %s: the first line is empty", path)
	}
	return line, nil
}

// iniSection returns the "key = value" pairs of one [section] of an AWS
// shared file, and whether the section is there at all. Indented lines continue a nested table (such as "s3 =" and
// its sub-keys); they are skipped, as are comments (# or ;).
func iniSection(data []byte, section string) (values map[string]string, found bool) {
	values = map[string]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			name, ok := strings.CutSuffix(line, "]")
			in = ok && strings.Join(strings.Fields(name[1:]), " ") == section
			found = found || in
			continue
		}
		if !in || raw[0] == ' ' || raw[0] == '\t' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key != "" && value != "" {
			values[key] = value
		}
	}
	return values, found
}

// s3Homes connects to the store on first use, so a server whose roots are
// all host directories never reads AWS settings.
type s3Homes struct {
	cfg    *Config
	logger *slog.Logger

	once           sync.Once
	store          *s3fs.Store
	abandonedAfter time.Duration
	err            error
}

func (s *s3Homes) get() (*s3fs.Store, error) {
	s.once.Do(func() {
		set, err := s.cfg.resolveS3()
		if err == nil {
			s.store, err = s3fs.Connect(set.opts)
		}
		if err != nil {
			s.err = err
			return
		}
		s.abandonedAfter = s.cfg.S3.AbandonedAfter.Duration
		if s.abandonedAfter > 0 && s.abandonedAfter < time.Hour {
			s.logger.Warn("s3.abandoned_after is under an hour: a long upload still running on another node may be aborted as abandoned",
				"abandoned_after", s.abandonedAfter)
		}
		s.logger.Info("S3 store", "endpoint", s.store.Endpoint(), "region", set.opts.Region, "credentials", set.credsSource)
	})
	return s.store, s.err
}

// s3CheckTimeout bounds the check that a root's bucket answers, so that
// an endpoint that swallows packets fails the start instead of hanging it.
const s3CheckTimeout = 30 * time.Second

// openS3 opens the file system at an s3:// root; the check talks to the
// store, so the caller must not hold a lock that logins need.
func (s *s3Homes) open(ctx context.Context, root string) (ftpserver.FileSystem, *s3fs.Store, string, string, error) {
	bucket, prefix, err := s3fs.ParseURL(root)
	if err != nil {
		return nil, nil, "", "", err
	}
	store, err := s.get()
	if err != nil {
		return nil, nil, "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s3CheckTimeout)
	defer cancel()
	f, err := store.FS(ctx, bucket, prefix)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, "", "", fmt.Errorf("s3: no answer from endpoint %s within %v", store.Endpoint(), s3CheckTimeout)
		}
		return nil, nil, "", "", err
	}
	return f, store, bucket, prefix, nil
}

// canonicalS3 is the cache key of an s3:// root: "s3://bucket/a/b" for
// every spelling of it.
func canonicalS3(root string) string {
	bucket, prefix, err := s3fs.ParseURL(root)
	if err != nil {
		return root
	}
	return "s3://" + bucket + "/" + prefix
}
