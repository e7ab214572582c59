package ftpserver

import (
	"fmt"
	"strings"
)

// The message catalog. Every reply text is written in English in the
// source, and that text is its own message id: reply and tr look a whole
// line up, replyf, trf and ftp.Errorf look up the format before the
// arguments go in, so a translation never has to parse a formatted line.
// A catalog maps each English line to its translation; the tests check
// that every literal the source passes to a reply helper has one, with the
// same fmt verbs in the same order.
//
// Lines of a multi-line reply that begin with a space are protocol
// material (HELP's verb table, SITE HELP's syntax lines) and are never
// looked up; neither are lines that no msgid matches exactly, such as
// FEAT's feature names, MLST facts, paths and numbers. Reply codes never
// change with the language.

// translate returns text in the given catalog's language, line by line.
func translate(catalog map[string]string, text string) string {
	if catalog == nil || text == "" {
		return text
	}
	if !strings.Contains(text, "\n") {
		return translateLine(catalog, text)
	}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		lines[i] = translateLine(catalog, line)
	}
	return strings.Join(lines, "\n")
}

func translateLine(catalog map[string]string, line string) string {
	if strings.HasPrefix(line, " ") {
		return line
	}
	if t, ok := catalog[line]; ok {
		return t
	}
	return line
}

// tr returns text in the session's language.
func (s *session) tr(text string) string {
	return translate(languages[s.language()].catalog, text)
}

// trf formats args after translating format.
func (s *session) trf(format string, args ...any) string {
	return fmt.Sprintf(s.tr(format), args...)
}
