package cli

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// Command lines are split into words as a Unix shell does, simplified:
// blanks separate words; a backslash takes the next character literally;
// '...' quotes everything up to the next '; "..." quotes too, with \" and
// \\ inside. So names with spaces are written "a b", 'a b' or a\ b.

var errShellQuote = errors.New("unterminated quote")

// shellWords is a line split into words. When the line ends inside a
// word, the last word is open: start is the byte offset where it begins
// and quote the quote character it is inside, if any.
type shellWords struct {
	words []string
	open  bool
	start int
	quote byte
}

func shellScan(line string) shellWords {
	var (
		out     shellWords
		cur     strings.Builder
		inWord  bool
		quote   byte
		escaped bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case escaped:
			cur.WriteByte(c)
			escaped = false
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
				i++
				cur.WriteByte(line[i])
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t':
			if inWord {
				out.words = append(out.words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			if !inWord {
				inWord = true
				out.start = i
			}
			switch c {
			case '\\':
				escaped = true
			case '\'', '"':
				quote = c
			default:
				cur.WriteByte(c)
			}
		}
	}
	if inWord {
		out.words = append(out.words, cur.String())
		out.open = true
		out.quote = quote
	} else {
		out.start = len(line)
	}
	return out
}

// shellSplit splits a command line into words.
func shellSplit(line string) ([]string, error) {
	w := shellScan(line)
	if w.quote != 0 {
		return nil, errShellQuote
	}
	return w.words, nil
}

// shellQuoteWord writes word so that shellSplit reads it back: inside the
// quote it was begun with, or with backslashes before blanks and quotes.
// closed adds the closing quote.
func shellQuoteWord(word string, quote byte, closed bool) string {
	var b strings.Builder
	switch quote {
	case '\'':
		b.WriteByte('\'')
		b.WriteString(word) // a ' cannot be in '...'; such names are rare
	case '"':
		b.WriteByte('"')
		for _, r := range word {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	default:
		for _, r := range word {
			if strings.ContainsRune(" \t\\'\"", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	if closed {
		b.WriteByte(quote)
	}
	return b.String()
}

// shellArgKind is what a command's argument names, for completion.
type shellArgKind int

const (
	shellArgNone shellArgKind = iota
	shellArgRemote
	shellArgLocal
	shellArgCommand
)

// shellCandidate is one completion: a name in a directory.
type shellCandidate struct {
	name string
	dir  bool
}

// complete is the terminal's AutoCompleteCallback: Tab completes the
// command name or the path under the cursor.
func (s *shell) complete(line string, pos int, key rune) (string, int, bool) {
	switch key {
	case shellKeyInterrupt: // Ctrl-C at the prompt: drop the line
		return "", 0, true
	case '\t':
	default:
		return "", 0, false
	}
	before, after := line[:pos], line[pos:]
	w := shellScan(before)
	cur := ""
	if w.open {
		cur = w.words[len(w.words)-1]
		w.words = w.words[:len(w.words)-1]
	}
	kind := shellArgCommand
	if len(w.words) > 0 {
		kind = s.argKind(w.words)
	}
	var (
		dirPart = ""
		base    = cur
		cands   []shellCandidate
	)
	switch kind {
	case shellArgNone:
		return line, pos, true
	case shellArgCommand:
		for _, c := range s.commands {
			for _, n := range append([]string{c.name}, c.aliases...) {
				cands = append(cands, shellCandidate{name: n})
			}
		}
	default:
		if i := strings.LastIndexByte(cur, '/'); i >= 0 {
			dirPart, base = cur[:i+1], cur[i+1:]
		}
		cands = s.listForCompletion(kind, dirPart)
	}
	var matches []shellCandidate
	for _, c := range cands {
		if strings.HasPrefix(c.name, base) && (strings.HasPrefix(base, ".") || !strings.HasPrefix(c.name, ".")) {
			matches = append(matches, c)
		}
	}
	slices.SortFunc(matches, func(a, b shellCandidate) int { return strings.Compare(a.name, b.name) })
	matches = slices.CompactFunc(matches, func(a, b shellCandidate) bool { return a.name == b.name })
	if len(matches) == 0 {
		return line, pos, true
	}
	var word string
	if len(matches) == 1 {
		m := matches[0]
		if m.dir {
			word = shellQuoteWord(dirPart+m.name+"/", w.quote, false)
		} else {
			word = shellQuoteWord(dirPart+m.name, w.quote, true) + " "
		}
	} else {
		common := matches[0].name
		for _, m := range matches[1:] {
			common = shellCommonPrefix(common, m.name)
		}
		if len(common) <= len(base) {
			s.showCandidates(matches)
			return line, pos, true
		}
		word = shellQuoteWord(dirPart+common, w.quote, false)
	}
	newLine := before[:w.start] + word
	return newLine + after, len(newLine), true
}

// shellCommonPrefix is the longest common prefix of a and b, cut at a
// rune boundary.
func shellCommonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	for n > 0 && n < len(a) && a[n]&0xC0 == 0x80 {
		n--
	}
	return a[:n]
}

// showCandidates lists the possible completions above the prompt.
func (s *shell) showCandidates(matches []shellCandidate) {
	if s.term == nil {
		return
	}
	var b strings.Builder
	for i, m := range matches {
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(m.name)
		if m.dir {
			b.WriteByte('/')
		}
	}
	b.WriteByte('\n')
	s.term.Write([]byte(b.String()))
}

// argKind tells what the next argument of a partly typed command line
// names.
func (s *shell) argKind(words []string) shellArgKind {
	c := s.lookup(words[0])
	if c == nil || c.args == nil {
		return shellArgNone
	}
	var (
		n     int
		flags []string
	)
	for _, w := range words[1:] {
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			flags = append(flags, w)
			continue
		}
		n++
	}
	return c.args(n, flags)
}

// shellCompletionCache keeps directory listings for completion a little
// while, so that pressing Tab again does not ask the server again.
type shellCompletionCache struct {
	mu      sync.Mutex
	entries map[string]shellCachedListing
}

type shellCachedListing struct {
	at    time.Time
	names []shellCandidate
}

const shellCacheTTL = 10 * time.Second

func (c *shellCompletionCache) get(key string) ([]shellCandidate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.entries[key]
	if !ok || time.Since(l.at) > shellCacheTTL {
		return nil, false
	}
	return l.names, true
}

func (c *shellCompletionCache) put(key string, names []shellCandidate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]shellCachedListing{}
	}
	c.entries[key] = shellCachedListing{at: time.Now(), names: names}
}

// forget drops every cached listing: after a command that may have
// changed something.
func (c *shellCompletionCache) forget() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

// listForCompletion returns the entries of the directory dir (as typed,
// relative to the working directory) on the server or the local disk.
func (s *shell) listForCompletion(kind shellArgKind, dir string) []shellCandidate {
	if kind == shellArgLocal {
		entries, err := os.ReadDir(s.lpath(cmp.Or(dir, ".")))
		if err != nil {
			return nil
		}
		var out []shellCandidate
		for _, e := range entries {
			isDir := e.IsDir()
			if e.Type()&os.ModeSymlink != 0 {
				if fi, err := os.Stat(s.lpath(path.Join(cmp.Or(dir, "."), e.Name()))); err == nil {
					isDir = fi.IsDir()
				}
			}
			out = append(out, shellCandidate{name: e.Name(), dir: isDir})
		}
		return out
	}
	p := s.rpath(dir)
	if names, ok := s.cache.get(p); ok {
		return names
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	entries, err := s.client.List(ctx, p)
	if err != nil && len(entries) == 0 {
		return nil
	}
	var out []shellCandidate
	for _, e := range entries {
		out = append(out, shellCandidate{name: e.Name, dir: e.IsDir()})
	}
	s.cache.put(p, out)
	return out
}
