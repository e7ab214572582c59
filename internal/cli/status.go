package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-ftp/ferry/internal/admin"
)

func init() { register(newStatusCommand) }

// adminTokenEnv may hold the admin API token instead of --token-file.
const adminTokenEnv = "FERRY_ADMIN_TOKEN"

// maxStatusBody bounds what "ferry status" reads of an answer: a busy
// server's session list, not an unbounded stream from a wrong URL.
const maxStatusBody = 64 << 20

func newStatusCommand(env Env) *cobra.Command {
	var (
		adminURL  string
		tokenFile string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running server's sessions (through its admin API)",
		Long: `Show the sessions of a running "ferry serve" and their transfers, asked of
its admin API ([admin] listen). The token comes from --token-file, else
$` + adminTokenEnv + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := statusToken(tokenFile)
			if err != nil {
				return err
			}
			body, err := adminGet(cmd, strings.TrimRight(adminURL, "/")+"/api/v1/sessions", token)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := env.Stdout.Write(body)
				return err
			}
			var list struct {
				Sessions []admin.Session `json:"sessions"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				return fmt.Errorf("%s: not a session list: %w", adminURL, err)
			}
			return writeSessions(env.Stdout, list.Sessions, time.Now())
		},
	}
	cmd.Flags().StringVar(&adminURL, "admin", "http://127.0.0.1:8021", "URL of the server's admin HTTP server")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file whose first line is the admin API token (default $"+adminTokenEnv+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON answer as it is")
	return cmd
}

func statusToken(tokenFile string) (string, error) {
	if tokenFile != "" {
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		if token := strings.TrimSpace(line); token != "" {
			return token, nil
		}
		return "", fmt.Errorf("--token-file %s: the first line is empty", tokenFile)
	}
	if token := os.Getenv(adminTokenEnv); token != "" {
		return token, nil
	}
	return "", fmt.Errorf("no admin token: give --token-file FILE or set $%s", adminTokenEnv)
}

// adminGet returns the body of a successful GET of url, or the API's
// error message.
func adminGet(cmd *cobra.Command, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var apiErr struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &apiErr) == nil && apiErr.Error != "" {
			return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, apiErr.Error)
		}
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return body, nil
}

// writeSessions prints one line per session, with its transfer.
func writeSessions(w io.Writer, sessions []admin.Session, now time.Time) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROTO\tUSER\tREMOTE\tSINCE\tCOMMAND\tTRANSFER")
	for _, s := range sessions {
		user := s.User
		if user == "" {
			user = "-" // not logged in yet
		}
		command := printable(s.Command)
		if command == "" {
			command = "-" // SFTP requests are not shown
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, protocolText(s), printable(user), s.Remote, since(s.Started, now), command, transferText(s.Transfer))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(sessions) == 0 {
		buf.WriteString("(no sessions)\n")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// protocolText is ftp, ftps (TLS on the control connection) or sftp.
func protocolText(s admin.Session) string {
	switch {
	case s.Protocol == "":
		return "?" // an older server
	case s.Protocol == "ftp" && s.TLS:
		return "ftps"
	}
	return printable(s.Protocol)
}

// printable keeps a client-chosen string (a command's argument, a user
// name) from sending control characters to the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}

// since is how long ago an RFC 3339 time was, to the second.
func since(rfc3339 string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		return "?"
	}
	return now.Sub(t).Truncate(time.Second).String()
}

func transferText(t *admin.Transfer) string {
	if t == nil {
		return "-"
	}
	size := "?"
	if t.Size >= 0 {
		size = byteSize(t.Size)
	}
	return fmt.Sprintf("%s %s %s/%s %s/s", t.Verb, printable(t.Path), byteSize(t.Bytes), size, byteSize(int64(t.Rate)))
}

// byteSize writes n in binary units, as ls -h does.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
