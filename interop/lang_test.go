package interop

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testtool"
)

// langScript drives Python's ftplib through LANG (RFC 2640): FEAT, the
// switch to Simplified Chinese before login, transfers in Chinese, and
// back. It prints "ok" or exits non-zero at the first surprise.
const langScript = `
import ftplib, io, sys
host, port, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def check(got, want):
    if got != want:
        sys.exit("got %r, want %r" % (got, want))
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=30)
feat = ftp.sendcmd("FEAT").splitlines()
check([l for l in feat if l.startswith(" LANG")], [" LANG EN*;ZH-CN"])
check(ftp.sendcmd("LANG ZH-CN"), "200 语言已设置为 ZH-CN。")
check(ftp.login("alice", "secret"), "230 登录成功。")
check(ftp.pwd(), "/")
feat = ftp.sendcmd("FEAT").splitlines()
check(feat[0], "211-支持的扩展功能：")
check([l for l in feat if l.startswith(" LANG")], [" LANG EN;ZH-CN*"])
buf = io.BytesIO()
check(ftp.retrbinary("RETR hello.txt", buf.write), "226 传输完成。")
check(buf.getvalue(), b"hello\n")
check(ftp.size("hello.txt"), 6)
check(ftp.storbinary("STOR up.txt", io.BytesIO(b"uploaded")), "226 传输完成。")
check(sorted(ftp.nlst()), ["hello.txt", "incoming", "up.txt"])
try:
    ftp.cwd("nope")
    sys.exit("CWD nope succeeded")
except ftplib.error_perm as e:
    check(str(e), "550 没有那个文件或目录。")
try:
    ftp.sendcmd("LANG fr")
    sys.exit("LANG fr succeeded")
except ftplib.error_perm as e:
    check(str(e), "504 不支持语言 FR。")
check(ftp.sendcmd("LANG"), "200 Language set to the default, English.")
check(ftp.sendcmd("NOOP"), "200 NOOP ok.")
ftp.quit()
print("ok")
`

// TestLangFtplib: Python's ftplib sends LANG and reads the replies in
// Chinese, with the codes it acts on unchanged.
func TestLangFtplib(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	writeFile(t, ts.local("/hello.txt"), []byte("hello\n"))
	bin := testtool.Need(t, "python3")
	res := run(t, time.Minute, "", t.TempDir(), bin, "-c", langScript, "127.0.0.1", strconv.Itoa(ts.port), t.TempDir())
	if res.exitCode != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ftplib LANG script failed: %s", res)
	}
	wantFile(t, ts.local("/up.txt"), []byte("uploaded"))
}

// TestLangLftp: lftp negotiates the language itself (ftp:lang, sent when
// FEAT lists LANG) and then works as before: its logic reads codes, not
// texts.
func TestLangLftp(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	writeFile(t, ts.local("/hello.txt"), []byte("hello\n"))
	writeFile(t, filepath.Join(work, "up.txt"), []byte("from lftp\n"))
	res := lftp(t, ts, work, true, `set ftp:lang zh-CN; debug -o debug.log 5; get hello.txt; put up.txt -o up2.txt; ls`)
	wantLftp(t, res)
	wantFile(t, filepath.Join(work, "hello.txt"), []byte("hello\n"))
	wantFile(t, ts.local("/up2.txt"), []byte("from lftp\n"))
	log := string(mustRead(t, filepath.Join(work, "debug.log")))
	for _, want := range []string{"LANG zh-CN", "200 语言已设置为 ZH-CN。", "227 进入被动模式 (127,0,0,1,", "226 传输完成。", "226 目录列表发送完毕。"} {
		if !strings.Contains(log, want) {
			t.Errorf("lftp's session lacks %q:\n%s", want, log)
		}
	}
}

// TestLangCurl: curl after LANG ZH-CN downloads and uploads as before.
// It takes a download's size from the 150 reply's "(n bytes)", which
// the translation keeps.
func TestLangCurl(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	work := t.TempDir()
	writeFile(t, ts.local("/hello.txt"), []byte("hello\n"))
	res := curl(t, work, "-v", "-Q", "LANG ZH-CN", "-o", "got.txt", ts.url("/hello.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, filepath.Join(work, "got.txt"), []byte("hello\n"))
	for _, want := range []string{"< 200 语言已设置为 ZH-CN。", "< 150 正在以 BINARY 模式为 hello.txt 打开数据连接 (6 bytes)。", "< 226 传输完成。"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("curl's session lacks %q:\n%s", want, res.stderr)
		}
	}
	writeFile(t, filepath.Join(work, "up.txt"), []byte("from curl\n"))
	res = curl(t, work, "-Q", "LANG zh", "-T", "up.txt", ts.url("/up3.txt"))
	wantCurl(t, res, curlOK)
	wantFile(t, ts.local("/up3.txt"), []byte("from curl\n"))
}
