package ftpserver_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ferry-ftp/ferry/ftp"
)

// rawReply reads one reply line by line, checking the RFC 959 form as it
// goes: "ddd-" opens a multi-line reply that only "ddd " with the same
// code ends, every line ends in CRLF and is valid UTF-8 (RFC 2640). It
// returns the code and the lines' text: the first and last without their
// code prefixes, the middle ones as they came (indented by a space).
func rawReply(t *testing.T, conn net.Conn, r *bufio.Reader) (int, []string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var code int
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading reply: %v (so far %q)", err, lines)
		}
		if !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("reply line %q does not end in CRLF", line)
		}
		if !utf8.ValidString(line) {
			t.Fatalf("reply line %q is not UTF-8", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if code == 0 {
			if !replyStart.MatchString(line) {
				t.Fatalf("reply %q does not start with a code", line)
			}
			fmt.Sscan(line[:3], &code)
			lines = append(lines, line[4:])
			if line[3] == ' ' {
				return code, lines
			}
			continue
		}
		if strings.HasPrefix(line, fmt.Sprintf("%d ", code)) {
			return code, append(lines, line[4:])
		}
		lines = append(lines, line)
	}
}

var replyStart = regexp.MustCompile(`^[1-5][0-5][0-9][- ]`)

// lineSession is a control connection read line by line.
type lineSession struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialLines(t *testing.T, ts *testServer) *lineSession {
	t.Helper()
	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rs := &lineSession{t: t, conn: conn, r: bufio.NewReader(conn)}
	rs.want(220)
	return rs
}

func (rs *lineSession) want(code int) []string {
	rs.t.Helper()
	got, lines := rawReply(rs.t, rs.conn, rs.r)
	if got != code {
		rs.t.Fatalf("got %d %q, want %d", got, lines, code)
	}
	return lines
}

// do sends a command and returns the lines of its reply, which must have
// the code want.
func (rs *lineSession) do(want int, command string) []string {
	rs.t.Helper()
	rs.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(rs.conn, command+"\r\n"); err != nil {
		rs.t.Fatal(err)
	}
	return rs.want(want)
}

// one is do for a single-line reply: its text.
func (rs *lineSession) one(want int, command string) string {
	rs.t.Helper()
	lines := rs.do(want, command)
	if len(lines) != 1 {
		rs.t.Fatalf("%s: got %d lines %q, want one", command, len(lines), lines)
	}
	return lines[0]
}

func wantText(t *testing.T, command, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", command, got, want)
	}
}

func featLANGLine(t *testing.T, lines []string) string {
	t.Helper()
	for _, l := range lines {
		if strings.HasPrefix(l, " LANG ") {
			return l
		}
	}
	t.Fatalf("FEAT has no LANG line: %q", lines)
	return ""
}

// TestLangChinese switches a session to Simplified Chinese before login
// and checks that replies come translated, with the same codes, in valid
// RFC 959 form, and with their protocol parts intact.
func TestLangChinese(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if err := ts.fs.WriteFile("/f.txt", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	rs := dialLines(t, ts)

	feat := rs.do(211, "FEAT")
	wantText(t, "FEAT", featLANGLine(t, feat), " LANG EN*;ZH-CN")
	wantText(t, "FEAT first line", feat[0], "Features:")

	wantText(t, "LANG ZH-CN", rs.one(200, "LANG ZH-CN"), "语言已设置为 ZH-CN。")
	feat = rs.do(211, "FEAT")
	wantText(t, "FEAT", featLANGLine(t, feat), " LANG EN;ZH-CN*")
	wantText(t, "FEAT first line", feat[0], "支持的扩展功能：")
	wantText(t, "FEAT last line", feat[len(feat)-1], "结束")
	for _, token := range []string{" UTF8", " EPSV", " SIZE", " REST STREAM"} {
		if !strings.Contains(strings.Join(feat, "\n")+"\n", "\n"+token+"\n") {
			t.Errorf("FEAT in Chinese lost the feature %q: %q", token, feat)
		}
	}

	wantText(t, "USER", rs.one(331, "USER alice"), "用户 alice 需要密码。")
	wantText(t, "PASS wrong", rs.one(530, "PASS wrong"), "登录失败：用户名或密码错误。")
	rs.one(331, "USER alice")
	wantText(t, "PASS", rs.one(230, "PASS secret"), "登录成功。")
	wantText(t, "PWD", rs.one(257, "PWD"), `"/" 是当前目录。`)
	wantText(t, "CWD nope", rs.one(550, "CWD nope"), "没有那个文件或目录。")
	wantText(t, "TYPE X", rs.one(501, "TYPE X"), "TYPE 参数错误。")
	wantText(t, "HELP NOPE", rs.one(502, "HELP NOPE"), "未知命令 NOPE。")
	wantText(t, "BOGUS", rs.one(500, "BOGUS"), `未知命令 "BOGUS"。`)
	wantText(t, "SYST", rs.one(215, "SYST"), "UNIX Type: L8") // parsed by clients
	wantText(t, "REST", rs.one(350, "REST 1"), "将从 1 处续传。请发送 STOR 或 RETR 开始传输。")
	rs.one(350, "REST 0")

	// A download: the 229 and 150 replies keep what clients parse.
	epsv := rs.one(229, "EPSV")
	port, err := ftp.ParseEPSVReply(epsv)
	if err != nil || !strings.HasPrefix(epsv, "进入扩展被动模式 (|||") {
		t.Fatalf("EPSV reply %q: %v", epsv, err)
	}
	data, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	wantText(t, "RETR", rs.one(150, "RETR f.txt"), "正在以 BINARY 模式为 f.txt 打开数据连接 (3 bytes)。")
	if b, err := io.ReadAll(data); err != nil || string(b) != "abc" {
		t.Fatalf("RETR data %q, %v", b, err)
	}
	wantText(t, "RETR end", rs.want(226)[0], "传输完成。")

	// Multi-line replies: prose translated, tokens kept.
	stat := rs.do(211, "STAT")
	wantLines := []string{"ferry FTP 服务器状态：", " 已连接到 127.0.0.1", " 已作为 alice 登录",
		" 传输类型 TYPE: BINARY，文件结构 STRU: File，传输模式 MODE: Stream", " 没有数据连接", "状态信息结束。"}
	if strings.Join(stat, "|") != strings.Join(wantLines, "|") {
		t.Errorf("STAT = %q, want %q", stat, wantLines)
	}
	help := rs.do(214, "HELP")
	wantText(t, "HELP first line", help[0], "可以识别以下命令：")
	wantText(t, "HELP last line", help[len(help)-1], "帮助信息结束。")
	if !strings.Contains(strings.Join(help, "\n"), " LANG ") {
		t.Errorf("HELP lost the verb table: %q", help)
	}
	mlst := rs.do(250, "MLST f.txt")
	if len(mlst) != 3 || mlst[0] != "列出 /f.txt" || !strings.HasSuffix(mlst[1], "; /f.txt") || mlst[2] != "结束。" {
		t.Errorf("MLST = %q", mlst)
	}

	// Back to English: LANG alone, and REIN.
	wantText(t, "LANG", rs.one(200, "LANG"), "Language set to the default, English.")
	wantText(t, "NOOP", rs.one(200, "NOOP"), "NOOP ok.")
	wantText(t, "LANG zh", rs.one(200, "LANG zh"), "语言已设置为 ZH-CN。")
	wantText(t, "NOOP", rs.one(200, "NOOP"), "NOOP 成功。")
	wantText(t, "REIN", rs.one(220, "REIN"), "Service ready for new user.")
	wantText(t, "FEAT after REIN", featLANGLine(t, rs.do(211, "FEAT")), " LANG EN*;ZH-CN")
}

// TestLangTags checks tag matching (RFC 2640 §4.1: case-insensitive,
// related tags by whole subtags) and the refusals.
func TestLangTags(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	rs := dialLines(t, ts)
	for _, c := range []struct {
		arg  string
		code int
		text string
	}{
		{"zh-cn", 200, "语言已设置为 ZH-CN。"},
		{"ZH-CN", 200, "语言已设置为 ZH-CN。"},
		{"zh-CN-x-ferry", 200, "语言已设置为 ZH-CN。"},
		{"en-US", 200, "Language set to EN."},
		{"ZH", 200, "语言已设置为 ZH-CN。"},
		{"en", 200, "Language set to EN."},
		{"fr", 504, "Language FR is not supported."},
		{"zh-TW", 504, "Language ZH-TW is not supported."},
		{"zhx", 504, "Language ZHX is not supported."},
		{"e", 504, "Language E is not supported."},
		{"en_US", 501, "Bad language tag."},
		{"1en", 501, "Bad language tag."},
		{"en--us", 501, "Bad language tag."},
		{"toolongtag", 501, "Bad language tag."},
		{"en us", 501, "Bad language tag."},
	} {
		wantText(t, "LANG "+c.arg, rs.one(c.code, "LANG "+c.arg), c.text)
	}
	// A refused tag leaves the language as it was.
	rs.one(200, "LANG ZH-CN")
	wantText(t, "LANG fr in Chinese", rs.one(504, "LANG fr"), "不支持语言 FR。")
	wantText(t, "NOOP", rs.one(200, "NOOP"), "NOOP 成功。")
}
