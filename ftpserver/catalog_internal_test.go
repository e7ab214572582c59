package ftpserver

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// replyHelpers are the functions whose arguments become reply text: the
// position of each text argument and whether it is a format.
var replyHelpers = map[string][]struct {
	index  int
	format bool
}{
	"reply":         {{1, false}},
	"replyf":        {{1, true}},
	"Errorf":        {{1, true}}, // ftp.Errorf
	"tr":            {{0, false}},
	"trf":           {{0, true}},
	"startTransfer": {{4, false}, {5, false}}, // its 150 and 226 texts
	"disconnect":    {{0, false}},
	"writeReply":    {{1, false}},
}

// msgidSource is where a msgid was found, for the failure message.
type msgidSource struct {
	pos  token.Position
	text string
}

// collectMsgids walks ftpserver's source (not its tests) and returns every
// reply text the catalog must translate, by line; problems are reply
// texts that cannot be translated as written.
func collectMsgids(t *testing.T) (msgids map[string]msgidSource, problems []string) {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*ast.FuncDecl{}
	consts := map[string]ast.Expr{}
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				funcs[d.Name.Name] = d
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok && len(vs.Names) == len(vs.Values) {
						for i, n := range vs.Names {
							consts[n.Name] = vs.Values[i]
						}
					}
				}
			}
		}
	}
	if len(parsed) < 10 {
		t.Fatalf("found only %d source files; run from the package directory", len(parsed))
	}
	msgids = map[string]msgidSource{}
	add := func(pos token.Pos, text string) {
		for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			if strings.HasPrefix(line, " ") || !hasLetters(line) {
				continue // protocol material (see catalog.go) or no prose
			}
			if _, ok := msgids[line]; !ok {
				msgids[line] = msgidSource{fset.Position(pos), line}
			}
		}
	}
	problem := func(pos token.Pos, format string, args ...any) {
		problems = append(problems, fset.Position(pos).String()+": "+sprintf(format, args...))
	}

	// check follows a reply text expression inside fn to the literals it
	// is made of.
	var check func(e ast.Expr, fn *ast.FuncDecl, depth int)
	check = func(e ast.Expr, fn *ast.FuncDecl, depth int) {
		if depth > 8 {
			return
		}
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				if err != nil {
					problem(e.Pos(), "bad literal %s", e.Value)
					return
				}
				add(e.Pos(), s)
			}
		case *ast.ParenExpr:
			check(e.X, fn, depth+1)
		case *ast.BinaryExpr:
			for _, side := range []ast.Expr{e.X, e.Y} {
				if lit, ok := side.(*ast.BasicLit); ok && hasLetters(unquote(lit.Value)) {
					problem(lit.Pos(), "text %s is concatenated into a reply and cannot be translated: use replyf or s.trf", lit.Value)
					continue
				}
				check(side, fn, depth+1)
			}
		case *ast.Ident:
			found := false
			if fn != nil && fn.Body != nil {
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.AssignStmt:
						if len(n.Lhs) != len(n.Rhs) {
							return true
						}
						for i, l := range n.Lhs {
							if id, ok := l.(*ast.Ident); ok && id.Name == e.Name {
								found = true
								check(n.Rhs[i], fn, depth+1)
							}
						}
					case *ast.ValueSpec:
						for i, id := range n.Names {
							if id.Name == e.Name && i < len(n.Values) {
								found = true
								check(n.Values[i], fn, depth+1)
							}
						}
					}
					return true
				})
			}
			if v, ok := consts[e.Name]; ok && !found {
				check(v, nil, depth+1)
			}
			// Anything else is a parameter or a loop variable: a token,
			// or text a helper (or the administrator) supplies.
		case *ast.CallExpr:
			name := calleeName(e)
			switch {
			case name == "fmt.Sprintf":
				problem(e.Pos(), "reply text formatted before translation: use replyf or s.trf")
			case name == "tr" || name == "trf" || name == "Localize":
				// Translated already; tr and trf are helpers of their own.
			case name == "String" && isIdentSelector(e.Fun):
				// A strings.Builder: check what was written to it.
				b := e.Fun.(*ast.SelectorExpr).X.(*ast.Ident).Name
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					c, ok := n.(*ast.CallExpr)
					if !ok || len(c.Args) == 0 {
						return true
					}
					switch calleeName(c) {
					case "WriteString":
						if recv, ok := c.Fun.(*ast.SelectorExpr).X.(*ast.Ident); ok && recv.Name == b {
							check(c.Args[0], fn, depth+1)
						}
					case "fmt.Fprintf":
						problem(c.Pos(), "reply text formatted before translation: use s.trf")
					}
					return true
				})
			default:
				// A function of this package: follow what it returns.
				// Any other call (strconv, hex, ftp.Format...) gives
				// protocol tokens.
				if callee, ok := funcs[lastName(name)]; ok && callee.Body != nil && replyHelpers[callee.Name.Name] == nil {
					ast.Inspect(callee.Body, func(n ast.Node) bool {
						if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
							check(r.Results[0], callee, depth+1)
						}
						_, isLit := n.(*ast.FuncLit)
						return !isLit
					})
				}
			}
		}
	}

	for _, f := range parsed {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				name := calleeName(call)
				if name == "Errorf" || (strings.Contains(name, ".") && name != "ftp.Errorf") {
					return true // fmt.Errorf and others: internal errors, never sent
				}
				args, ok := replyHelpers[lastName(name)]
				if !ok {
					return true
				}
				for _, a := range args {
					if a.index >= len(call.Args) {
						continue
					}
					arg := call.Args[a.index]
					if _, ok := arg.(*ast.Ident); ok && replyHelpers[fn.Name.Name] != nil {
						continue // a helper passing its own parameter on
					}
					if a.format {
						lit, ok := arg.(*ast.BasicLit)
						if !ok {
							problem(arg.Pos(), "%s needs a literal format so it can be translated", name)
							continue
						}
						check(lit, fn, 0)
						continue
					}
					check(arg, fn, 0)
				}
				return true
			})
		}
	}
	return msgids, problems
}

// calleeName names a call's function: "reply" for s.reply(...),
// "ftp.Errorf" for a package function, "helpText" for a plain call.
func calleeName(c *ast.CallExpr) string {
	switch fun := c.Fun.(type) {
	case *ast.Ident:
		return fun.Name
	case *ast.SelectorExpr:
		if pkg, ok := fun.X.(*ast.Ident); ok && slices.Contains([]string{"ftp", "fmt", "strings", "strconv", "hex", "errors"}, pkg.Name) {
			return pkg.Name + "." + fun.Sel.Name
		}
		return fun.Sel.Name
	}
	return ""
}

func lastName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func isIdentSelector(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	_, ok = sel.X.(*ast.Ident)
	return ok
}

func unquote(lit string) string {
	s, err := strconv.Unquote(lit)
	if err != nil {
		return lit
	}
	return s
}

func hasLetters(s string) bool {
	s = fmtVerb.ReplaceAllString(s, "")
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return true
		}
	}
	return false
}

// fmtVerb matches a fmt verb with its flags, width and precision.
var fmtVerb = regexp.MustCompile(`%[-+# 0]*(\*|\d+)?(\.(\*|\d+))?[a-zA-Z%]`)

func verbs(s string) []string {
	var out []string
	for _, v := range fmtVerb.FindAllString(s, -1) {
		if v != "%%" {
			out = append(out, v)
		}
	}
	return out
}

func sprintf(format string, args ...any) string {
	return strings.TrimSpace(strings.NewReplacer("\n", " ").Replace(fmt.Sprintf(format, args...)))
}

// TestCatalogComplete fails naming every reply text of the source that
// the Simplified Chinese catalog lacks, every reply text written so that
// it cannot be translated, and every catalog entry nothing uses.
func TestCatalogComplete(t *testing.T) {
	t.Parallel()
	msgids, problems := collectMsgids(t)
	for _, p := range problems {
		t.Error(p)
	}
	if len(msgids) < 100 {
		t.Fatalf("found only %d reply texts; the walk is broken", len(msgids))
	}
	var missing []msgidSource
	for id, src := range msgids {
		if _, ok := catalogZHCN[id]; !ok {
			missing = append(missing, src)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i].pos.String() < missing[j].pos.String() })
	for _, m := range missing {
		t.Errorf("%s: no zh-CN entry for %q", m.pos, m.text)
	}
	for id := range catalogZHCN {
		if _, ok := msgids[id]; !ok {
			t.Errorf("zh-CN entry %q: no reply uses it any more", id)
		}
	}
}

// TestCatalogVerbs checks that every translation keeps its msgid's fmt
// verbs in the same order (the arguments are the same), is one line, and
// is not empty.
func TestCatalogVerbs(t *testing.T) {
	t.Parallel()
	for id, zh := range catalogZHCN {
		if !slices.Equal(verbs(id), verbs(zh)) {
			t.Errorf("%q -> %q: verbs %q, want %q", id, zh, verbs(zh), verbs(id))
		}
		if strings.ContainsAny(zh, "\r\n") || strings.TrimSpace(zh) == "" || strings.HasPrefix(zh, " ") {
			t.Errorf("%q -> %q: want one non-empty line not starting with a space", id, zh)
		}
	}
}

// TestTranslate: whole lines are looked up; indented lines and lines
// without an entry pass unchanged.
func TestTranslate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"NOOP ok.", "NOOP 成功。"},
		{"NOOP ok. ", "NOOP ok. "},
		{"Features:\n AUTH TLS\nUTF8\nEnd", "支持的扩展功能：\n AUTH TLS\nUTF8\n结束"},
		{"The following commands are recognized.\n NOOP ok.\nHelp OK.", "可以识别以下命令：\n NOOP ok.\n帮助信息结束。"},
		{"", ""},
	} {
		if got := translate(catalogZHCN, c.in); got != c.want {
			t.Errorf("translate(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := translate(nil, c.in); got != c.in {
			t.Errorf("English translate(%q) = %q", c.in, got)
		}
	}
}
