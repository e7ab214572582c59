package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is the ferry process under test.
type server struct {
	bin  string   // ferry executable
	env  []string // added to the environment
	args []string // "serve" and its flags, without --listen
	log  *os.File // its stdout and stderr, all runs appended
	// password is the account's ("u"), also in the --password-file.
	password string
	// killAt: see config.killAt; killRand picks which call of them.
	killAt   string
	killRand *rand.Rand

	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	err  error         // cmd's exit, once done
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start starts the server, on its previous port when that is free, and
// returns how long it took to answer 220.
func (s *server) start(ctx context.Context) (time.Duration, error) {
	var lastErr error
	for try := 0; try < 5; try++ {
		if s.port == 0 || !portFree(s.port) {
			port, err := freePort()
			if err != nil {
				return 0, err
			}
			s.port = port
		}
		took, err := s.startOnce(ctx)
		if err == nil {
			return took, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		s.port = 0 // it may have lost a race for the port: take another
	}
	return 0, lastErr
}

func (s *server) startOnce(ctx context.Context) (time.Duration, error) {
	args := append(append([]string{s.bin}, s.args...), "--listen", s.addr())
	if s.killAt != "" {
		// seccomp-bpf: only the listed calls stop the server. error=ENOSYS
		// skips the call, so the kill lands just before it. strace counts
		// the calls per thread and per system call: the Nth call of one
		// of them on any of the Go runtime's threads is soon reached.
		when := 1 + s.killRand.IntN(5)
		args = append([]string{"strace", "-f", "-qq", "-o", "/dev/null",
			"-e", "trace=" + s.killAt,
			"-e", fmt.Sprintf("inject=%s:error=ENOSYS:signal=SIGKILL:when=%d", s.killAt, when)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), s.env...)
	// Its own process group, killed as one: under strace, killing strace
	// alone would let the server it traces go on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting ferry: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		s.err = cmd.Wait()
		close(done)
	}(s.done)
	err := s.awaitBanner(ctx)
	took := time.Since(begin)
	if err != nil {
		s.kill()
		return 0, err
	}
	return took, nil
}

// awaitBanner connects until the server answers 220, or it exits.
func (s *server) awaitBanner(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if rerr == nil && strings.HasPrefix(line, "220") {
				return nil
			}
			err = fmt.Errorf("greeting %q: %v", line, rerr)
		}
		select {
		case <-s.done:
			return fmt.Errorf("ferry exited before answering 220 (%v); see %s", s.err, s.log.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ferry did not answer 220 within 30s: %w", err)
		}
	}
}

// kill sends SIGKILL to the server's process and waits for its end.
func (s *server) kill() error {
	return s.signal(syscall.SIGKILL)
}

// stop ends the server gracefully, then by force.
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
		s.cmd = nil
		return nil
	case <-time.After(10 * time.Second):
		return s.kill()
	}
}

func (s *server) signal(sig syscall.Signal) error {
	if s.cmd == nil {
		return nil
	}
	err := syscall.Kill(-s.cmd.Process.Pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing ferry (pid %d): %w", s.cmd.Process.Pid, err)
	}
	<-s.done
	s.cmd = nil
	return nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
