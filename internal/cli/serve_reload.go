package cli

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/internal/xferlog"
)

func addLoggingFlags(fl *pflag.FlagSet, f *serveFlags) {
	fl.StringVar(&f.xferlog, "xferlog", "", "transfer log file in the wu-ftpd/vsftpd xferlog format, as xferlog_file")
	fl.StringVar(&f.logFormat, "log-format", "", `format of the log on standard error: "text" or "json", as log_format (default "text")`)
}

func applyLoggingFlags(flags *pflag.FlagSet, f *serveFlags, cfg *config.Config) error {
	if flags.Changed("xferlog") {
		cfg.XferlogFile = f.xferlog
		if f.xferlog != "" {
			// Absolute, so the log names the file SIGHUP reopens.
			abs, err := filepath.Abs(f.xferlog)
			if err != nil {
				return fmt.Errorf("--xferlog: %w", err)
			}
			cfg.XferlogFile = abs
		}
	}
	if flags.Changed("log-format") {
		cfg.LogFormat = f.logFormat
	}
	return nil
}

// reloadOnHangup does what SIGHUP asks: the TLS certificate, the users
// file (the [[host]] tables' too) and the xferlog (renamed by logrotate) are read or opened again, at
// once. Whatever fails keeps what was in use and is logged; the rest is
// reloaded all the same. Everything else needs a restart.
func reloadOnHangup(logger *slog.Logger, inst *config.Instance, xlog *xferlog.Writer) {
	var reloaded []string
	if reloadCertificate(logger, inst) {
		reloaded = append(reloaded, "certificate")
	}
	if path, err := inst.ReloadUsers(); err != nil {
		logger.Error("users file not reloaded; keeping the accounts loaded before", "err", err)
	} else if path != "" {
		logger.Info("users file reloaded", "path", path)
		reloaded = append(reloaded, "users file")
	}
	hosts, err := inst.ReloadHosts()
	if err != nil {
		logger.Error("virtual hosts not all reloaded; each that failed keeps what it had", "err", err)
	}
	reloaded = append(reloaded, hosts...)
	if xlog != nil {
		if err := xlog.Reopen(); err != nil {
			logger.Error("xferlog not reopened; still writing the file open before", "err", err)
		} else {
			logger.Info("xferlog reopened", "path", xlog.Path())
			reloaded = append(reloaded, "xferlog")
		}
	}
	if len(reloaded) == 0 {
		logger.Info("SIGHUP: nothing reloaded")
		return
	}
	logger.Info("SIGHUP: reloaded", "what", reloaded)
}

// reloadCertificate reads the TLS certificate and key again, and reports
// whether it did.
func reloadCertificate(logger *slog.Logger, inst *config.Instance) bool {
	if inst.Certificate() == nil {
		return false
	}
	if err := inst.ReloadCertificate(); err != nil {
		logger.Error("TLS certificate not reloaded; still serving the previous one", "err", err)
		return false
	}
	leaf := inst.Certificate().Leaf
	logger.Info("TLS certificate reloaded", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
	return true
}
