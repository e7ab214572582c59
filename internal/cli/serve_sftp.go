package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/sftpserver"
)

// sftpFlags are ferry serve's SFTP flags.
type sftpFlags struct {
	listen string
}

func (f *sftpFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.listen, "sftp-listen", "", `address for SFTP (over SSH) as well, such as ":2022"; as [sftp] listen`)
}

func (f *sftpFlags) apply(flags *pflag.FlagSet, cfg *config.Config) {
	if flags.Changed("sftp-listen") {
		cfg.SFTP.Listen = f.listen
	}
}

// sftpService is the SFTP server of a ferry serve, when [sftp] listen is
// set: built on the FTP server's logins, Defender and observers.
type sftpService struct {
	srv *sftpserver.Server
	ln  net.Listener
}

// startSFTP builds and listens; nil when SFTP is off. configFile is
// --config, whose directory holds a host key made at first start when
// neither host_key_file nor $STATE_DIRECTORY says otherwise.
func startSFTP(cfg *config.Config, inst *config.Instance, logger *slog.Logger, configFile string) (*sftpService, error) {
	if cfg.SFTP.Listen == "" {
		return nil, nil
	}
	configDir := ""
	if configFile != "" {
		dir, err := filepath.Abs(filepath.Dir(configFile))
		if err != nil {
			return nil, err
		}
		configDir = dir
	}
	defaultKey, err := config.HostKeyDefault(cfg.Getenv, configDir)
	if err != nil {
		return nil, err
	}
	srv, err := cfg.BuildSFTP(inst, logger, defaultKey)
	if err != nil {
		return nil, err
	}
	// One count of sessions for both servers, so that max_sessions, the
	// per-address limit and an account's max_sessions hold for FTP and
	// SFTP together: a user or an address is bounded, whatever protocol
	// it uses. Set before the FTP server serves (it reads it then).
	if inst.Server.Counter == nil {
		inst.Server.Counter = &ftpserver.SessionCounter{}
	}
	srv.Counter = inst.Server.Counter
	ln, err := net.Listen("tcp", cfg.SFTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("SFTP listener: %w", err)
	}
	return &sftpService{srv: srv, ln: ln}, nil
}

// serve runs the server, reporting its end on errc as the FTP
// listeners do (ftpserver.ErrServerClosed after a shutdown).
func (s *sftpService) serve(errc chan<- error) {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, sftpserver.ErrServerClosed) {
		err = ftpserver.ErrServerClosed
	}
	errc <- err
}

// shutdown stops it within ctx, as the FTP server's Shutdown.
func (s *sftpService) shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

func (s *sftpService) close() {
	if s != nil {
		s.srv.Close()
		s.ln.Close() // when it was never served
	}
}

// observe sets the observers of the FTP server (xferlog, metrics, the
// admin API's statistics) on the SFTP server too; before it serves.
func (s *sftpService) observe(o ftpserver.Observer) {
	if s != nil {
		s.srv.Observer = o
	}
}

// printWelcome names the SFTP address and how to log in.
func (s *sftpService) printWelcome(env Env) {
	if s == nil {
		return
	}
	host, port, _ := net.SplitHostPort(s.ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	fingerprint := ""
	if len(s.srv.HostKeys) > 0 {
		fingerprint = " (host key " + sftpserver.Fingerprint(s.srv.HostKeys[0].PublicKey()) + ")"
	}
	fmt.Fprintf(env.Stdout, "ferry: SFTP at %s%s\n", s.ln.Addr(), fingerprint)
	fmt.Fprintf(env.Stdout, "  sftp: sftp -P %s USER@%s\n", port, host)
}

// writeSSHHostKey is ferry cert --ssh-host-key: a new ed25519 host key
// at path, mode 0600.
func writeSSHHostKey(env Env, path string, force bool) error {
	key, pemData, err := sftpserver.NewHostKey()
	if err != nil {
		return err
	}
	if err := writeNewFile(path, pemData, 0o600, force); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ferry: wrote an SSH host key (ed25519) to %s (mode 0600)\n", path)
	fmt.Fprintf(env.Stdout, "  fingerprint: %s\n", sftpserver.Fingerprint(key.PublicKey()))
	fmt.Fprintf(env.Stdout, "  serve: [sftp] host_key_file = %q, or ferry serve --sftp-listen :2022 with it in the config\n", path)
	return nil
}
