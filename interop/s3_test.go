package interop

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goftp "github.com/jlaffaye/ftp"
	"github.com/minio/minio-go/v7"

	"github.com/ferry-ftp/ferry/internal/miniotest"
	"github.com/ferry-ftp/ferry/internal/testtool"
	"github.com/ferry-ftp/ferry/internal/testwait"
	"github.com/ferry-ftp/ferry/storage/s3fs"
)

// The S3 tests run real clients against ferry serving a bucket of a real
// MinIO (see internal/miniotest) and check the objects in the bucket, not
// only what ferry says about them.

// s3SmallParts makes uploads of a few MiB multipart uploads of several
// parts, and resumes of a prefix above S3's 5 MiB part minimum copy it
// server-side, without moving tens of MiB on a shared test machine.
var s3SmallParts = s3fs.Options{PartSize: 5 << 20}

func TestS3Curl(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3SmallParts)
	dir := t.TempDir()
	data := testData(200, 12<<20+7) // three parts
	writeFile(t, filepath.Join(dir, "up.bin"), data)

	res := curl(t, dir, "-v", "--ftp-create-dirs", "-T", "up.bin", ss.url("/sub%20dir/up.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "< 226 ")
	ss.wantObject(t, "/sub dir/up.bin", data)

	res = curl(t, dir, "-o", "got.bin", ss.url("/sub%20dir/up.bin"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "got.bin"), data)

	res = curl(t, dir, "-r", "5000000-5999999", "-o", "range.bin", ss.url("/sub%20dir/up.bin"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "range.bin"), data[5000000:6000000])

	res = curl(t, dir, "--list-only", ss.url("/"))
	wantCurl(t, res, curlOK)
	if got := slices.Sorted(slices.Values(outputLines(res.stdout))); !slices.Equal(got, []string{"incoming", "sub dir"}) {
		t.Errorf("NLST / = %q, want [incoming sub dir]", got)
	}
	res = curl(t, dir, ss.url("/sub%20dir/"))
	wantCurl(t, res, curlOK)
	if lines := outputLines(res.stdout); len(lines) != 1 || !strings.HasPrefix(lines[0], "-") ||
		!strings.Contains(lines[0], " "+strconv.Itoa(len(data))+" ") || !strings.HasSuffix(lines[0], " up.bin") {
		t.Errorf("LIST /sub dir/ = %q, want one file line for up.bin with size %d", lines, len(data))
	}

	// --append sends APPE: the object grows by the tail, its head copied
	// server-side (it is above the part minimum).
	tail := testData(201, 1000)
	writeFile(t, filepath.Join(dir, "tail.bin"), tail)
	res = curl(t, dir, "-v", "--append", "-T", "tail.bin", ss.url("/sub%20dir/up.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "> APPE up.bin", "< 226 ")
	ss.wantObject(t, "/sub dir/up.bin", append(slices.Clip(data), tail...))

	// APPE to a missing file creates it.
	res = curl(t, dir, "--append", "-T", "tail.bin", ss.url("/new.bin"))
	wantCurl(t, res, curlOK)
	ss.wantObject(t, "/new.bin", tail)

	// -C - resumes an upload: curl asks SIZE and appends the rest, onto a
	// prefix under the part minimum (re-uploaded) and above it (copied).
	for _, cut := range []int{123457, 6<<20 + 1} {
		name := "/resume-" + strconv.Itoa(cut) + ".bin"
		ss.putObject(t, name, data[:cut])
		res = curl(t, dir, "-v", "-C", "-", "-T", "up.bin", ss.url(name))
		wantCurl(t, res, curlOK)
		wantLog(t, res.stderr, "< 213 "+strconv.Itoa(cut), "< 226 ")
		ss.wantObject(t, name, data)
	}

	// DELE and RNFR/RNTO through -Q.
	res = curl(t, dir, "-v", "-Q", "DELE new.bin", "-Q", "RNFR sub dir", "-Q", "RNTO moved", "--list-only", ss.url("/"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "< 250 File deleted.", "< 350 ", "< 250 Rename successful.")
	ss.wantNoObject(t, "/new.bin")
	ss.wantNoObject(t, "/sub dir")
	ss.wantObject(t, "/moved/up.bin", append(slices.Clip(data), tail...))

	res = curl(t, dir, "-o", "/dev/null", ss.url("/missing.bin"))
	wantCurl(t, res, curlFileNotFound)
}

// TestS3CurlKilledDownloadResumes kills curl in the middle of a download
// and resumes it with -C -: the server serves the rest from the offset
// (a ranged GET) and the result is byte-identical.
func TestS3CurlKilledDownloadResumes(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "curl")
	ss := startS3Server(t, miniotest.Shared(t), s3fs.Options{})
	big := testData(202, 16<<20+9)
	ss.putObject(t, "/big.bin", big)
	dir := t.TempDir()
	local := filepath.Join(dir, "big.bin")

	download := startClient(t, dir, bin, "-sS", "--limit-rate", "2M", "-o", "big.bin", ss.url("/big.bin"))
	testwait.For(t, "1 MiB of the download on disk", func() bool { return fileSize(local) >= 1<<20 })
	download.kill(t)
	partial, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	if len(partial) >= len(big) || !bytes.Equal(partial, big[:len(partial)]) {
		t.Fatalf("the killed download left %d bytes; want a true prefix of the %d", len(partial), len(big))
	}

	res := curl(t, dir, "-v", "-C", "-", "-o", "big.bin", ss.url("/big.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "> REST "+strconv.Itoa(len(partial)), "< 350 ", "< 226 ")
	wantFile(t, local, big)
}

// TestS3CurlKilledUploadResumes kills curl in the middle of an upload:
// in the default upload mode (atomic-resume) what arrived becomes the
// object, and curl -C - then completes it with APPE.
func TestS3CurlKilledUploadResumes(t *testing.T) {
	t.Parallel()
	bin := testtool.Need(t, "curl")
	ss := startS3Server(t, miniotest.Shared(t), s3SmallParts)
	dir := t.TempDir()
	data := testData(213, 12<<20+3)
	writeFile(t, filepath.Join(dir, "up.bin"), data)

	upload := startClient(t, dir, bin, "-sS", "--limit-rate", "1M", "-T", "up.bin", ss.url("/up.bin"))
	// Kill it once the first part is in the store, far from the end at
	// curl's rate.
	testwait.For(t, "the first part of the upload in the store", func() bool {
		return ss.pendingUploadBytes(t, "/up.bin") >= s3SmallParts.PartSize
	})
	upload.kill(t)

	var partial []byte
	testwait.For(t, "the object of the killed upload, and no session left", func() bool {
		var err error
		partial, err = ss.object(t, "/up.bin")
		return err == nil && ss.srv.SessionCount() == 0
	})
	if len(partial) < int(s3SmallParts.PartSize) || len(partial) >= len(data) || !bytes.Equal(partial, data[:len(partial)]) {
		t.Fatalf("after the killed upload the object has %d bytes; want a true prefix of the %d, at least its first part", len(partial), len(data))
	}

	res := curl(t, dir, "-v", "-C", "-", "-T", "up.bin", ss.url("/up.bin"))
	wantCurl(t, res, curlOK)
	wantLog(t, res.stderr, "< 213 "+strconv.Itoa(len(partial)), "< 226 ")
	ss.wantObject(t, "/up.bin", data)
	if n := ss.pendingUploadBytes(t, "/up.bin"); n != 0 {
		t.Errorf("an unfinished multipart upload of %d bytes is left behind", n)
	}
}

// TestS3CurlAnonymous uploads into the anonymous upload directory: new
// files are created, an existing one is neither replaced nor appended to.
func TestS3CurlAnonymous(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3fs.Options{})
	dir := t.TempDir()
	up := testData(215, 6000)
	other := testData(216, 7000)
	writeFile(t, filepath.Join(dir, "up.bin"), up)
	writeFile(t, filepath.Join(dir, "other.bin"), other)
	ss.putObject(t, "/pub.bin", other)

	res := curl(t, dir, "-T", "up.bin", ss.anonURL("/incoming/up.bin"))
	wantCurl(t, res, curlOK)
	ss.wantObject(t, "/incoming/up.bin", up)
	res = curl(t, dir, "-o", "got.bin", ss.anonURL("/incoming/up.bin"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(dir, "got.bin"), up)

	res = curl(t, dir, "-T", "other.bin", ss.anonURL("/incoming/up.bin"))
	wantCurl(t, res, curlUploadFailed)
	res = curl(t, dir, "--append", "-T", "other.bin", ss.anonURL("/incoming/up.bin"))
	wantCurl(t, res, curlUploadFailed)
	ss.wantObject(t, "/incoming/up.bin", up)
	res = curl(t, dir, "-v", "-T", "up.bin", ss.anonURL("/pub.bin"))
	wantCurl(t, res, curlUploadFailed)
	wantLog(t, res.stderr, "< 550 ")
	ss.wantObject(t, "/pub.bin", other)
}

// TestS3LftpResume fetches a file in four segments at once (REST on four
// sessions: ranged GETs), continues a partial download and a partial
// upload.
func TestS3LftpResume(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3SmallParts)
	work := t.TempDir()
	big := testData(217, 11<<20+7)
	ss.putObject(t, "/big.bin", big)

	res := lftp(t, ss.testServer, work, true, `pget -n 4 big.bin -o pget.bin`)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "pget.bin"), big)

	writeFile(t, filepath.Join(work, "big.bin"), big[:1<<20+3])
	res = lftp(t, ss.testServer, work, true, `get -c big.bin`)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "big.bin"), big)

	ss.putObject(t, "/partial.bin", big[:6<<20+1])
	if err := os.Rename(filepath.Join(work, "big.bin"), filepath.Join(work, "partial.bin")); err != nil {
		t.Fatal(err)
	}
	res = lftp(t, ss.testServer, work, true, `put -c partial.bin`)
	wantLftp(t, res)
	ss.wantObject(t, "/partial.bin", big)
}

// TestS3LftpMirror mirrors a tree of about 100 files in nested
// directories, empty directories among them, sizes from 0 B to 20 MiB,
// up into the bucket and back down, byte-identical both ways.
func TestS3LftpMirror(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3fs.Options{})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	makeTree(t, src, 100)
	writeFile(t, filepath.Join(src, "deep", "a", "big.bin"), testData(203, 20<<20+5))
	if err := os.MkdirAll(filepath.Join(src, "void"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := treeDigest(t, src)

	res := lftp(t, ss.testServer, work, true, `mirror -R --parallel=3 src "up tree"`)
	wantLftp(t, res)
	compareTrees(t, want, ss.objectTree(t, "/up tree"))

	res = lftp(t, ss.testServer, work, true, `mirror --parallel=3 "up tree" back`)
	wantLftp(t, res)
	compareTrees(t, want, treeDigest(t, filepath.Join(work, "back")))

	// A second mirror finds nothing to do: sizes and times agree (the
	// times lftp set with MFMT after each upload).
	res = lftp(t, ss.testServer, work, true, `mirror -R --verbose=1 src "up tree"`)
	wantLftp(t, res)
	if strings.Contains(res.stdout, "Transferring file") {
		t.Errorf("second mirror -R transferred files again:\n%s", res.stdout)
	}

	// A change in the bucket is picked up by the next mirror down.
	changed := testData(204, 12345)
	ss.putObject(t, "/up tree/ünïcødé/名前/new file.bin", changed)
	res = lftp(t, ss.testServer, work, true, `rm "up tree/deep/a/big.bin"`)
	wantLftp(t, res)
	res = lftp(t, ss.testServer, work, true, `mirror --delete "up tree" back`)
	wantLftp(t, res)
	compareTrees(t, ss.objectTree(t, "/up tree"), treeDigest(t, filepath.Join(work, "back")))
	wantFile(t, filepath.Join(work, "back", "ünïcødé", "名前", "new file.bin"), changed)
	wantNoFile(t, filepath.Join(work, "back", "deep", "a", "big.bin"))

	// Renaming the tree moves every object (server-side copies).
	before := ss.objectTree(t, "/up tree")
	res = lftp(t, ss.testServer, work, true, `mv "up tree" "moved tree"`)
	wantLftp(t, res)
	compareTrees(t, before, ss.objectTree(t, "/moved tree"))
	ss.wantNoObject(t, "/up tree")
}

// TestS3PythonFtplib runs the ftplib scenarios of the local-disk tests
// (transfers, TYPE A, MKD/RMD, rename, NLST, MLSD, SIZE, REST, HASH) and
// MDTM/MFMT against the bucket.
func TestS3PythonFtplib(t *testing.T) {
	t.Parallel()
	srv := miniotest.Shared(t)
	t.Run("basic", func(t *testing.T) {
		t.Parallel()
		ss := startS3Server(t, srv, s3SmallParts)
		work := t.TempDir()
		data := testData(205, 3<<20+1)
		ss.putObject(t, "/data.bin", data)
		writeFile(t, filepath.Join(work, "data.bin.want"), data)
		utf8 := []byte("ünïcødé 名前\n")
		ss.putObject(t, "/ünï 名前.txt", utf8)
		ss.putObject(t, "/text.txt", []byte("first line\nsecond line\n\nlast\n"))
		writeFile(t, filepath.Join(work, "lines.txt"), []byte("one\ntwo\r\nthree\n"))
		up := testData(206, 6<<20+9)
		writeFile(t, filepath.Join(work, "up.bin"), up)

		ftplib(t, ss.testServer, "basic", work)

		wantFile(t, filepath.Join(work, "data.bin"), data)
		wantFile(t, filepath.Join(work, "utf8.txt"), utf8)
		ss.wantObject(t, "/lines.txt", []byte("one\ntwo\nthree\n"))
		ss.wantObject(t, "/renamed.bin", up)
		ss.wantNoObject(t, "/up.bin")
		ss.wantNoObject(t, "/moved.bin")
		ss.wantNoObject(t, "/new dir")
		ss.wantNoObject(t, "/gone")
	})
	t.Run("extras", func(t *testing.T) {
		t.Parallel()
		ss := startS3Server(t, srv, s3SmallParts)
		work := t.TempDir()
		data := testData(207, 200000)
		ss.putObject(t, "/data.bin", data)
		writeFile(t, filepath.Join(work, "data.bin.want"), data)
		up := testData(208, 10000)
		writeFile(t, filepath.Join(work, "up.bin"), up)
		ss.putObject(t, "/partial.bin", up[:4096])

		ftplib(t, ss.testServer, "extras", work)
		ss.wantObject(t, "/partial.bin", up)
		ss.wantObject(t, "/data.bin", data)
	})
	t.Run("times", func(t *testing.T) {
		t.Parallel()
		ss := startS3Server(t, srv, s3fs.Options{})
		work := t.TempDir()
		ss.putObject(t, "/data.bin", testData(209, 1000))
		info, err := ss.client.StatObject(context.Background(), ss.bucket, ss.key("/data.bin"), minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(work, "mdtm.want"), []byte(info.LastModified.UTC().Format("20060102150405")))

		ftplibScript(t, ss.testServer, "ftplib_s3.py", "times", work)
	})
	t.Run("abort-upload", func(t *testing.T) {
		t.Parallel()
		ss := startS3Server(t, srv, s3SmallParts)
		work := t.TempDir()
		up := testData(214, 16<<20+3)
		writeFile(t, filepath.Join(work, "up.bin"), up)

		ftplib(t, ss.testServer, "abort-upload", work)
		ss.wantObject(t, "/up.bin", up)
	})
	t.Run("abort", func(t *testing.T) {
		t.Parallel()
		ss := startS3Server(t, srv, s3fs.Options{})
		work := t.TempDir()
		ss.putObject(t, "/big.bin", testData(210, 64<<20))
		data := testData(211, 100000)
		ss.putObject(t, "/data.bin", data)

		ftplib(t, ss.testServer, "abort", work)
		wantFile(t, filepath.Join(work, "data.bin"), data)
	})
}

// TestS3GoFTP drives github.com/jlaffaye/ftp through every operation
// against the bucket, REST+STOR resumption included.
func TestS3GoFTP(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3SmallParts)
	c := dialGoFTP(t, ss.testServer)
	data := testData(212, 12<<20+13)

	mustOK(t, "MakeDir", c.MakeDir("dir ü"))
	if keys := ss.keys(t, "/dir ü"); !slices.Equal(keys, []string{ss.key("/dir ü") + "/"}) {
		t.Errorf("after MKD the bucket holds %q, want the directory's marker only", keys)
	}
	wantCode(t, "MakeDir again", c.MakeDir("dir ü"), 550)
	mustOK(t, "ChangeDir", c.ChangeDir("dir ü"))
	dir, err := c.CurrentDir()
	mustOK(t, "CurrentDir", err)
	if dir != "/dir ü" {
		t.Errorf("CurrentDir = %q, want /dir ü", dir)
	}
	wantCode(t, "ChangeDir to a missing directory", c.ChangeDir("/nowhere"), 550)

	mustOK(t, "Stor", c.Stor("data.bin", bytes.NewReader(data)))
	ss.wantObject(t, "/dir ü/data.bin", data)
	wantGoFTPReads(t, c, "data.bin", data, 7<<20+1)

	// REST+STOR resumes an upload that left a prefix: under the part
	// minimum, and above it.
	for _, cut := range []int{500000, 5<<20 + 3} {
		name := "resumed-" + strconv.Itoa(cut) + ".bin"
		ss.putObject(t, "/dir ü/"+name, data[:cut])
		mustOK(t, "StorFrom", c.StorFrom(name, bytes.NewReader(data[cut:]), uint64(cut)))
		ss.wantObject(t, "/dir ü/"+name, data)
	}
	// REST past the end of the file is refused and changes nothing.
	wantCode(t, "StorFrom past the end", c.StorFrom("resumed-500000.bin", bytes.NewReader([]byte("x")), uint64(len(data)+1)), 501)
	ss.wantObject(t, "/dir ü/resumed-500000.bin", data)

	mustOK(t, "Append", c.Append("resumed-500000.bin", bytes.NewReader([]byte("tail"))))
	ss.wantObject(t, "/dir ü/resumed-500000.bin", append(slices.Clip(data), "tail"...))

	mustOK(t, "Rename", c.Rename("resumed-500000.bin", "/名前.bin"))
	ss.wantNoObject(t, "/dir ü/resumed-500000.bin")
	ss.wantObject(t, "/名前.bin", append(slices.Clip(data), "tail"...))
	wantCode(t, "Rename of a missing file", c.Rename("resumed-500000.bin", "x"), 550)
	mustOK(t, "Delete", c.Delete("resumed-5242883.bin"))
	ss.wantNoObject(t, "/dir ü/resumed-5242883.bin")

	if got, want := goftpListing(t, c, ""), map[string]string{"data.bin": "file " + strconv.Itoa(len(data))}; !maps.Equal(got, want) {
		t.Errorf("List of /dir ü = %q, want %q", got, want)
	}
	names, err := c.NameList("")
	mustOK(t, "NameList", err)
	if !slices.Equal(names, []string{"data.bin"}) {
		t.Errorf("NameList = %q, want [data.bin]", names)
	}

	mustOK(t, "ChangeDirToParent", c.ChangeDirToParent())
	want := map[string]string{"dir ü": "dir", "incoming": "dir", "名前.bin": "file " + strconv.Itoa(len(data)+4)}
	if got := goftpListing(t, c, ""); !maps.Equal(got, want) {
		t.Errorf("List of / = %q, want %q", got, want)
	}
	entries, err := c.List("")
	mustOK(t, "List", err)
	i := slices.IndexFunc(entries, func(e *goftp.Entry) bool { return e.Name == "名前.bin" })
	if i < 0 {
		t.Fatalf("List of / has no 名前.bin")
	}
	info, err := ss.client.StatObject(context.Background(), ss.bucket, ss.key("/名前.bin"), minio.StatObjectOptions{})
	mustOK(t, "StatObject", err)
	if e := entries[i]; !e.Time.Truncate(time.Second).Equal(info.LastModified.Truncate(time.Second)) {
		t.Errorf("名前.bin: listed time %v, object's LastModified %v", e.Time, info.LastModified)
	}
	mtime, err := c.GetTime("名前.bin")
	mustOK(t, "GetTime", err)
	if !mtime.Equal(info.LastModified.Truncate(time.Second)) {
		t.Errorf("GetTime = %v, object's LastModified %v", mtime, info.LastModified)
	}
	stamp := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	mustOK(t, "SetTime", c.SetTime("名前.bin", stamp))
	mtime, err = c.GetTime("名前.bin")
	mustOK(t, "GetTime", err)
	if !mtime.Equal(stamp) {
		t.Errorf("GetTime after SetTime = %v, want %v", mtime, stamp)
	}
	ss.wantObject(t, "/名前.bin", append(slices.Clip(data), "tail"...))

	wantCode(t, "RemoveDir of a non-empty directory", c.RemoveDir("dir ü"), 550)
	ss.wantObject(t, "/dir ü/data.bin", data)
	mustOK(t, "Delete", c.Delete("dir ü/data.bin"))
	wantCode(t, "Delete of a missing file", c.Delete("dir ü/data.bin"), 550)
	mustOK(t, "RemoveDir", c.RemoveDir("dir ü"))
	ss.wantNoObject(t, "/dir ü")
	wantCode(t, "ChangeDir to a removed directory", c.ChangeDir("dir ü"), 550)

	mustOK(t, "NoOp", c.NoOp())
}

// TestS3GoFTPRemoveTreeWithoutMarkers removes trees whose directories
// have no marker objects (another S3 tool wrote them) with jlaffaye/ftp's
// RemoveDirRecur and lftp's rm -r: both delete each file, then RMD its
// directory, which must still exist once its last file is gone, as on
// any file system.
func TestS3GoFTPRemoveTreeWithoutMarkers(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3fs.Options{})
	c := dialGoFTP(t, ss.testServer)
	ss.putObject(t, "/tree/a/b/f1", []byte("1"))
	ss.putObject(t, "/tree/a/f2", []byte("2"))
	ss.putObject(t, "/tree/f3", []byte("3"))
	ss.putObject(t, "/other/f4", []byte("4"))

	mustOK(t, "Delete", c.Delete("/other/f4"))
	if got := goftpListing(t, c, "/"); got["other"] != "dir" {
		t.Errorf("after DELE of its only file, /other is gone from the listing: %q", got)
	}
	mustOK(t, "RemoveDirRecur", c.RemoveDirRecur("/tree"))
	ss.wantNoObject(t, "/tree")
	mustOK(t, "RemoveDir", c.RemoveDir("/other"))
	ss.wantNoObject(t, "/other")

	// lftp's rm -r deletes the files, then the directories deepest first.
	ss.putObject(t, "/tree2/a/b/f1", []byte("1"))
	ss.putObject(t, "/tree2/f3", []byte("3"))
	res := lftp(t, ss.testServer, t.TempDir(), true, `rm -r tree2`)
	wantLftp(t, res)
	ss.wantNoObject(t, "/tree2")
}

// TestS3GoFTPConcurrent runs several sessions at once, each uploading and
// downloading its own files, some of several parts.
func TestS3GoFTPConcurrent(t *testing.T) {
	t.Parallel()
	ss := startS3Server(t, miniotest.Shared(t), s3SmallParts)
	const sessions, files = 4, 4
	content := func(i, j int) []byte { return testData(uint64(2000+i*files+j), 100000+j*(3<<20)) }
	storRetrConcurrently(t, ss.testServer, sessions, files, content)
	for i := range sessions {
		for j := range files {
			ss.wantObject(t, fmt.Sprintf("/s%d-f%d.bin", i, j), content(i, j))
		}
	}
}
