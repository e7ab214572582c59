package ftpserver

import (
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// language is a reply language the server speaks (RFC 2640 §4). The zero
// value is the default, English.
type language uint32

const (
	langEN language = iota
	langZHCN
)

// languages lists the supported languages in FEAT order, with their
// RFC 1766 tags and catalogs (nil: the English msgids themselves).
var languages = []struct {
	tag     string
	catalog map[string]string
}{
	langEN:   {tag: "EN"},
	langZHCN: {tag: "ZH-CN", catalog: catalogZHCN},
}

// matchLanguage finds the supported language a LANG argument asks for.
// Tags compare without regard to case (RFC 1766), and by whole subtags in
// both directions, as RFC 2640 §4.1 asks of a server that supports a
// related tag: "EN-US" is served in "EN", and "ZH" in "ZH-CN" (the only
// Chinese the server has).
func matchLanguage(tag string) (language, bool) {
	tag = strings.ToUpper(tag)
	for id, l := range languages {
		if tag == l.tag || subtagPrefix(l.tag, tag) || subtagPrefix(tag, l.tag) {
			return language(id), true
		}
	}
	return 0, false
}

// subtagPrefix reports whether prefix is tag's leading subtags.
func subtagPrefix(prefix, tag string) bool {
	return len(tag) > len(prefix) && strings.HasPrefix(tag, prefix) && tag[len(prefix)] == '-'
}

// validLanguageTag reports whether tag has RFC 1766 syntax: subtags of one
// to eight letters or digits, joined by '-', the first letters only.
func validLanguageTag(tag string) bool {
	for i, sub := range strings.Split(tag, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for _, c := range []byte(sub) {
			letter := c|0x20 >= 'a' && c|0x20 <= 'z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// featLANG is the FEAT line (RFC 2640 §4.3): every tag, the one in use
// marked with '*'.
func featLANG(current language) string {
	var b strings.Builder
	b.WriteString("LANG ")
	for id, l := range languages {
		if id > 0 {
			b.WriteByte(';')
		}
		b.WriteString(l.tag)
		if language(id) == current {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// cmdLANG selects the reply language; without an argument it returns to
// the default. RFC 2640 allows it at any time, before login too; the
// reply already comes in the language chosen.
func cmdLANG(s *session, arg string) error {
	tag := strings.TrimSpace(arg)
	if tag == "" {
		s.setLanguage(langEN)
		s.reply(ftp.CodeOK, "Language set to the default, English.")
		return nil
	}
	if !validLanguageTag(tag) {
		return ftp.Errorf(ftp.CodeArgumentError, "Bad language tag.")
	}
	id, ok := matchLanguage(tag)
	if !ok {
		return ftp.Errorf(ftp.CodeParamNotImplemented, "Language %s is not supported.", strings.ToUpper(tag))
	}
	s.setLanguage(id)
	s.replyf(ftp.CodeOK, "Language set to %s.", languages[id].tag)
	return nil
}

func (s *session) setLanguage(id language) { s.lang.Store(uint32(id)) }

func (s *session) language() language { return language(s.lang.Load()) }
