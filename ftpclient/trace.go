package ftpclient

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// tracer writes the protocol trace of WithDebug. Lines of concurrent
// connections are kept whole, also across Clients that share a writer
// (the two of an FXP copy): every tracer writes under traceMu.
type tracer struct {
	w io.Writer
}

var traceMu sync.Mutex

func (t *tracer) command(id uint64, line string) {
	if t == nil {
		return
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	fmt.Fprintf(t.w, "ftp[%d] > %s\n", id, maskSecret(line))
}

func (t *tracer) reply(id uint64, r reply) {
	if t == nil {
		return
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	lines := strings.Split(r.msg, "\n")
	for i, line := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		if i > 0 && i < len(lines)-1 {
			fmt.Fprintf(t.w, "ftp[%d] < %s\n", id, line)
			continue
		}
		fmt.Fprintf(t.w, "ftp[%d] < %d%s%s\n", id, r.code, sep, line)
	}
}

func (t *tracer) note(id uint64, format string, args ...any) {
	if t == nil {
		return
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	fmt.Fprintf(t.w, "ftp[%d] * %s\n", id, fmt.Sprintf(format, args...))
}

// maskSecret hides the argument of PASS and ACCT.
func maskSecret(line string) string {
	verb, _, hasArg := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "PASS", "ACCT":
		if hasArg {
			return verb + " ****"
		}
	}
	return line
}
