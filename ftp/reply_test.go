package ftp

import (
	"errors"
	"fmt"
	"testing"
)

func TestAppendReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code int
		msg  string
		want string
	}{
		{220, "ferry ready", "220 ferry ready\r\n"},
		{200, "", "200 \r\n"},
		{257, `"/a b" created`, "257 \"/a b\" created\r\n"},
		{221, "Goodbye.\r\n", "221 Goodbye.\r\n"},
		{211, "Features:\nUTF8\nEPSV\nEnd",
			"211-Features:\r\n UTF8\r\n EPSV\r\n211 End\r\n"},
		{211, "Features:\r\nMLST type*;size*;\r\nEnd\r\n",
			"211-Features:\r\n MLST type*;size*;\r\n211 End\r\n"},
		// A middle line that looks like the last line of a reply must not
		// end it early.
		{214, "Help:\n214 not the end\nDone",
			"214-Help:\r\n 214 not the end\r\n214 Done\r\n"},
		{250, "a\n\nb", "250-a\r\n \r\n250 b\r\n"},
		{250, "first\nlast", "250-first\r\n250 last\r\n"},
		// A lone CR breaks the line too: the reply must still end with
		// "code text".
		{211, "a\rb", "211-a\r\n211 b\r\n"},
		{211, "a\r\rb", "211-a\r\n \r\n211 b\r\n"},
	}
	for _, tt := range tests {
		got := string(AppendReply(nil, tt.code, tt.msg))
		if got != tt.want {
			t.Errorf("AppendReply(%d, %q) = %q, want %q", tt.code, tt.msg, got, tt.want)
		}
	}
	if got := string(AppendReply([]byte("x"), 200, "ok")); got != "x200 ok\r\n" {
		t.Errorf("AppendReply does not append: %q", got)
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("stat: %w", Errorf(CodeActionNotTaken, "No such file %q", "a"))
	if got := CodeOf(err); got != 550 {
		t.Errorf("CodeOf = %d, want 550", got)
	}
	if CodeOf(errors.New("plain")) != 0 {
		t.Error("CodeOf of a plain error is not 0")
	}
	if got := Errorf(450, "busy").Error(); got != "450 busy" {
		t.Errorf("Error() = %q", got)
	}
	if !Errorf(450, "busy").Temporary() || Errorf(550, "no").Temporary() {
		t.Error("Temporary is wrong")
	}
}

// TestErrorLocalize: a translation gets the format, and the arguments go
// into the translated format; an Error made without Errorf translates
// its text.
func TestErrorLocalize(t *testing.T) {
	t.Parallel()
	zh := map[string]string{"Unknown command %s.": "未知命令 %s。", "Busy.": "忙。"}
	var asked []string
	translate := func(s string) string {
		asked = append(asked, s)
		if t, ok := zh[s]; ok {
			return t
		}
		return s
	}
	e := Errorf(502, "Unknown command %s.", "X%d")
	if e.Msg != "Unknown command X%d." {
		t.Errorf("Msg = %q", e.Msg)
	}
	if got := e.Localize(translate); got != "未知命令 X%d。" {
		t.Errorf("Localize = %q", got)
	}
	if got := (&Error{Code: 450, Msg: "Busy."}).Localize(translate); got != "忙。" {
		t.Errorf("Localize of a plain Error = %q", got)
	}
	if got := Errorf(550, "Gone.").Localize(translate); got != "Gone." {
		t.Errorf("Localize without a translation = %q", got)
	}
	if want := []string{"Unknown command %s.", "Busy.", "Gone."}; fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("translate was asked %q, want %q", asked, want)
	}
}
