package interop

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// TestCluster runs real "ferry serve" nodes that share one PostgreSQL
// database of accounts and one MinIO bucket of homes, and nothing else,
// and checks what a client of the cluster sees: a file uploaded through
// one node is there on the other, a download cut off by a node's death
// resumes on another, and account changes made with "ferry user --db"
// reach every running node.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := newCluster(t) // skips without PostgreSQL or MinIO (fails in CI)
	c.bin = ferryBinary(t)
	nodeA, nodeB := c.startNode(t), c.startNode(t)
	t.Run("UploadOnOneDownloadOnOther", func(t *testing.T) {
		t.Parallel()
		testClusterUploadDownload(t, c, nodeA, nodeB)
	})
	t.Run("NodeKilledDuringDownload", func(t *testing.T) {
		t.Parallel()
		testClusterNodeKilled(t, c, nodeB)
	})
	t.Run("PasswordChange", func(t *testing.T) {
		t.Parallel()
		testClusterPasswordChange(t, c, nodeA, nodeB)
	})
	t.Run("UserAdded", func(t *testing.T) {
		t.Parallel()
		testClusterUserAdded(t, c, nodeA, nodeB)
	})
}

// testClusterUploadDownload: curl uploads through A (a multipart upload:
// larger than one 16 MiB part), jlaffaye/ftp lists through B, curl
// downloads through B, byte for byte; the bytes are in the bucket under
// the account's home, where B found them.
func testClusterUploadDownload(t *testing.T, c *cluster, a, b *node) {
	c.addUser(t, "alice", "alice-pw")
	dir := t.TempDir()
	data := testData(121, 17<<20+5)
	writeFile(t, filepath.Join(dir, "up.bin"), data)
	wantCurl(t, curl(t, dir, "--ftp-create-dirs", "-T", "up.bin", a.url("alice", "alice-pw", "/reports/2024%20q1.bin")), 0)

	conn := b.dial(t, "alice", "alice-pw")
	if got := goftpListing(t, conn, "/reports"); len(got) != 1 || got["2024 q1.bin"] != "file "+strconv.Itoa(len(data)) {
		t.Errorf("LIST /reports on node B = %v, want only 2024 q1.bin of %d bytes", got, len(data))
	}
	wantCurl(t, curl(t, dir, "-o", "down.bin", b.url("alice", "alice-pw", "/reports/2024%20q1.bin")), 0)
	wantFile(t, filepath.Join(dir, "down.bin"), data)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := c.minio.Client(t).StatObject(ctx, c.bucket, "home/alice/reports/2024 q1.bin", minio.StatObjectOptions{})
	if err != nil || info.Size != int64(len(data)) {
		t.Errorf("object home/alice/reports/2024 q1.bin: %d bytes, %v; want %d", info.Size, err, len(data))
	}
}

// testClusterNodeKilled: curl downloads 64 MiB from a node, slowed down
// so that it is in the middle; the node is killed (SIGKILL); curl -C -
// on node B continues from what arrived (REST) and the file is whole.
func testClusterNodeKilled(t *testing.T, c *cluster, b *node) {
	doomed := c.startNode(t)
	c.addUser(t, "bob", "bob-pw")
	data := testData(122, 64<<20+3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := c.minio.Client(t).PutObject(ctx, c.bucket, "home/bob/big.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("putting big.bin: %v", err)
	}

	dir := t.TempDir()
	local := filepath.Join(dir, "big.bin")
	cmd := exec.Command(testtool.Need(t, "curl"), "-sS", "--limit-rate", "4M", "-o", local, doomed.url("bob", "bob-pw", "/big.bin"))
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		exited <- nil
	})
	deadline := time.Now().Add(time.Minute)
	for fileSize(local) < 4<<20 {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("curl ended before the node was killed (%v):\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the download did not reach 4 MiB in a minute:\n%s", stderr.String())
		}
	}
	doomed.kill(t)
	var curlErr error
	select {
	case curlErr = <-exited:
		exited <- curlErr
	case <-time.After(time.Minute):
		t.Fatal("curl still runs a minute after its node was killed")
	}
	if curlErr == nil {
		t.Fatal("curl reported success for a download whose node was killed in the middle")
	}
	got, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 4<<20 || len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("the cut download left %d bytes, not a part of the %d", len(got), len(data))
	}

	res := curl(t, dir, "-v", "-C", "-", "-o", local, b.url("bob", "bob-pw", "/big.bin"))
	wantCurl(t, res, 0)
	if want := "> REST " + strconv.Itoa(len(got)); !strings.Contains(res.stderr, want) {
		t.Errorf("curl -C - on node B did not send %q:\n%s", want, lastBytes(res.stderr, 4<<10))
	}
	wantFile(t, local, data)
}

// accountChangeLimit is how soon a change made with "ferry user --db"
// must count on every running node.
const accountChangeLimit = 2 * time.Second

// testClusterPasswordChange: after "ferry user passwd --db", within
// accountChangeLimit both nodes accept the new password, and then both
// refuse the old one.
func testClusterPasswordChange(t *testing.T, c *cluster, a, b *node) {
	c.addUser(t, "carol", "carol-old")
	for _, n := range []*node{a, b} {
		if err := n.login(t, "carol", "carol-old"); err != nil {
			t.Fatalf("node %s refuses carol before the change: %v", n.addr, err)
		}
	}
	out := c.ferryUser(t, "carol-new\n", "passwd", "carol", "--password-stdin", "--algo", "bcrypt")
	if !strings.Contains(out, "changed the password") {
		t.Fatalf("ferry user passwd said %q", out)
	}
	changed := time.Now()
	for _, n := range []*node{a, b} {
		for n.login(t, "carol", "carol-new") != nil {
			if time.Since(changed) > accountChangeLimit {
				t.Fatalf("node %s still refuses the new password %v after ferry user passwd", n.addr, accountChangeLimit)
			}
		}
	}
	for _, n := range []*node{a, b} {
		if err := n.login(t, "carol", "carol-old"); err == nil {
			t.Errorf("node %s still accepts the old password", n.addr)
		} else if !strings.HasPrefix(err.Error(), "530") {
			t.Errorf("node %s answered the old password with %v, want 530", n.addr, err)
		}
	}
}

// testClusterUserAdded: a user added with "ferry user add --db" while
// both nodes run logs in on both within accountChangeLimit, and finds
// the same (s3://) home on each.
func testClusterUserAdded(t *testing.T, c *cluster, a, b *node) {
	for _, n := range []*node{a, b} {
		if err := n.login(t, "dave", "dave-pw"); err == nil || !strings.HasPrefix(err.Error(), "530") {
			t.Fatalf("node %s: login of dave before he exists: %v, want 530", n.addr, err)
		}
	}
	c.addUser(t, "dave", "dave-pw")
	added := time.Now()
	for _, n := range []*node{a, b} {
		for n.login(t, "dave", "dave-pw") != nil {
			if time.Since(added) > accountChangeLimit {
				t.Fatalf("node %s still refuses dave %v after ferry user add", n.addr, accountChangeLimit)
			}
		}
	}
	connA := a.dial(t, "dave", "dave-pw")
	if err := connA.Stor("hello.txt", strings.NewReader("hello from dave\n")); err != nil {
		t.Fatalf("STOR on node A: %v", err)
	}
	connB := b.dial(t, "dave", "dave-pw")
	r, err := connB.Retr("hello.txt")
	if err != nil {
		t.Fatalf("RETR on node B: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "hello from dave\n" {
		t.Errorf("RETR hello.txt on node B = %q, %v", got, err)
	}
}
