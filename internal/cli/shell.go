package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
)

func init() { register(newShellCommand) }

func newShellCommand(env Env) *cobra.Command {
	var (
		rf       remoteFlags
		parallel int
	)
	cmd := &cobra.Command{
		Use:   "shell [flags] URL",
		Short: "Interactive FTP session: ls, cd, get, put, mget, mput, mirror, ...",
		Long: `Shell opens an interactive session with the server at URL, starting in the
directory the URL names. On a terminal it has line editing, history (Up and
Down) and Tab completion of command names and of remote and local paths.
Ctrl-C interrupts the running command; Ctrl-D or bye ends the session.

Without a terminal it reads one command per line from standard input, so it
can run scripts (ferry shell URL < script); the exit status is non-zero if
any command failed. Words are separated by blanks; quote names with spaces
("a b", 'a b' or a\ b). Type help for the commands.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !isRemote(args[0]) {
				return fmt.Errorf("%q is not an ftp://, ftpes:// or ftps:// URL", args[0])
			}
			if parallel < 1 {
				return fmt.Errorf("--parallel must be at least 1, not %d", parallel)
			}
			u, err := parseRemoteURL(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := rf.dial(ctx, env, u, parallel)
			if err != nil {
				return err
			}
			defer c.Close()
			s, err := newShell(ctx, env, c, u, parallel)
			if err != nil {
				return err
			}
			return s.run()
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().IntVarP(&parallel, "parallel", "P", mirrorDefaultParallel, "connections to the server, for mirror and mget/mput")
	return cmd
}

// shell is one interactive session.
type shell struct {
	ctx      context.Context
	env      Env
	client   *ftpclient.Client
	url      *remoteURL
	parallel int
	commands []*shellCommand

	cwd, prevCwd string // remote working directory, as the client takes paths
	lcwd         string // local working directory

	term  *term.Terminal // nil without a terminal
	input *shellInput
	cache shellCompletionCache
	quit  bool
}

func newShell(ctx context.Context, env Env, c *ftpclient.Client, u *remoteURL, parallel int) (*shell, error) {
	lcwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	s := &shell{ctx: ctx, env: env, client: c, url: u, parallel: parallel, lcwd: lcwd}
	s.commands = shellCommands()
	s.cwd = c.Home()
	if u.Path != "" {
		start := s.rpath(u.Path)
		if e, err := c.Stat(ctx, start); err != nil {
			return nil, fmt.Errorf("%s: %w", u.Path, err)
		} else if !e.IsDir() {
			return nil, fmt.Errorf("%s is not a directory", u.Path)
		}
		s.cwd = start
	}
	s.prevCwd = s.cwd
	return s, nil
}

// rpath resolves a remote path typed by the user against the working
// directory.
func (s *shell) rpath(p string) string {
	switch {
	case strings.HasPrefix(s.cwd, "/"):
		return ftp.JoinPath(s.cwd, p)
	case p == "" || p == ".":
		return s.cwd
	case strings.HasPrefix(p, "/") || s.cwd == "":
		return p
	}
	return strings.TrimSuffix(s.cwd, "/") + "/" + p
}

// lpath resolves a local path typed by the user against the local working
// directory; a leading ~ is the home directory.
func (s *shell) lpath(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(s.lcwd, p)
}

func (s *shell) prompt() string {
	return fmt.Sprintf("ferry %s:%s> ", s.url.Host, s.cwd)
}

// errShellFailed is wrapped by the error of a script in which commands
// failed.
var errShellFailed = errors.New("failed")

func (s *shell) run() error {
	in, inOK := s.env.Stdin.(*os.File)
	out, outOK := s.env.Stdout.(*os.File)
	if inOK && outOK && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd())) {
		return s.interactive(in, out)
	}
	return s.script()
}

// script runs commands read from standard input, one per line.
func (s *shell) script() error {
	r := bufio.NewReader(s.env.Stdin)
	failed := 0
	for !s.quit {
		line, err := r.ReadString('\n')
		if line != "" {
			if !s.exec(s.ctx, strings.TrimRight(line, "\r\n")) {
				failed++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := s.ctx.Err(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d %s %w", failed, mirrorPlural(failed, "command", "commands"), errShellFailed)
	}
	return nil
}

// shellKeyInterrupt is what Ctrl-C at the prompt is turned into for the
// line editor (which would end the session on Ctrl-C itself): Ctrl-G,
// which it leaves to the completion callback, which clears the line.
const shellKeyInterrupt = 7

// interactive runs the session on a terminal, in raw mode: the line
// editor reads keys one by one, and Ctrl-C is a key, not a signal, so it
// interrupts the running command instead of ending the program.
func (s *shell) interactive(in, out *os.File) error {
	fd := int(in.Fd())
	state, err := term.MakeRaw(fd)
	if err != nil {
		return err
	}
	defer term.Restore(fd, state)
	// Keep the kernel turning \n into \r\n, so that what commands and
	// progress bars print needs no conversion.
	shellKeepOutputProcessing(fd)

	s.input = newShellInput()
	go s.input.pump(in)
	go func() {
		<-s.ctx.Done()
		s.input.close(s.ctx.Err())
	}()
	s.term = term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{s.input, out}, s.prompt())
	s.term.AutoCompleteCallback = s.complete

	fmt.Fprintf(out, "Connected to %s as %s. Type help for the commands, bye to leave.\n", s.url.Addr(), shellUserOf(s.url))
	for !s.quit {
		if w, h, err := term.GetSize(int(out.Fd())); err == nil && w > 0 {
			s.term.SetSize(w, h)
		}
		s.term.SetPrompt(s.prompt())
		line, err := s.term.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				fmt.Fprintln(out)
				return nil
			}
			if s.ctx.Err() != nil {
				return s.ctx.Err()
			}
			return err
		}
		ctx, cancel := context.WithCancel(s.ctx)
		s.input.running(cancel)
		s.exec(ctx, line)
		s.input.running(nil)
		interrupted := ctx.Err() != nil && s.ctx.Err() == nil
		cancel()
		if interrupted {
			fmt.Fprintln(out, "interrupted")
		}
	}
	return nil
}

func shellUserOf(u *remoteURL) string {
	if u.User != "" {
		return u.User
	}
	return "anonymous"
}

// exec runs one command line and reports whether it succeeded.
func (s *shell) exec(ctx context.Context, line string) bool {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return true
	}
	words, err := shellSplit(line)
	if err != nil {
		fmt.Fprintf(s.env.Stderr, "%v\n", err)
		return false
	}
	c := s.lookup(words[0])
	if c == nil {
		fmt.Fprintf(s.env.Stderr, "%s: unknown command (help lists them)\n", words[0])
		return false
	}
	defer s.cache.forget()
	if err := c.run(ctx, s, words[1:]); err != nil {
		if ctx.Err() != nil || errors.Is(err, errShellReported) {
			return false
		}
		fmt.Fprintf(s.env.Stderr, "%s: %v\n", words[0], err)
		return false
	}
	return true
}

func (s *shell) lookup(name string) *shellCommand {
	for _, c := range s.commands {
		if c.name == name {
			return c
		}
		for _, a := range c.aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// shellInput owns the terminal's input. One goroutine reads it all the
// time; while a command runs, Ctrl-C cancels the command and other keys
// wait for the next prompt.
type shellInput struct {
	mu     sync.Mutex
	ready  *sync.Cond
	buf    []byte
	err    error
	cancel context.CancelFunc // of the running command; nil at the prompt
}

func newShellInput() *shellInput {
	in := &shellInput{}
	in.ready = sync.NewCond(&in.mu)
	return in
}

func (in *shellInput) pump(r io.Reader) {
	b := make([]byte, 512)
	for {
		n, err := r.Read(b)
		in.mu.Lock()
		for _, c := range b[:n] {
			if c == 3 { // Ctrl-C
				if in.cancel != nil {
					in.cancel()
					continue
				}
				c = shellKeyInterrupt
			}
			in.buf = append(in.buf, c)
		}
		if err != nil && in.err == nil {
			in.err = err
		}
		in.ready.Broadcast()
		in.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// running sets the cancel function of the command now running, or nil
// when back at the prompt.
func (in *shellInput) running(cancel context.CancelFunc) {
	in.mu.Lock()
	in.cancel = cancel
	in.mu.Unlock()
}

func (in *shellInput) close(err error) {
	in.mu.Lock()
	if in.err == nil {
		in.err = err
	}
	in.ready.Broadcast()
	in.mu.Unlock()
}

func (in *shellInput) Read(p []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(in.buf) == 0 && in.err == nil {
		in.ready.Wait()
	}
	if len(in.buf) > 0 {
		n := copy(p, in.buf)
		in.buf = in.buf[n:]
		return n, nil
	}
	return 0, in.err
}
