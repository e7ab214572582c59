package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/auth"
	"github.com/ferry-ftp/ferry/ftpserver"
	"github.com/ferry-ftp/ferry/internal/admin/web"
)

// maxBody bounds a request body: the API takes a few short fields.
const maxBody = 64 << 10

// Options configure the admin HTTP handler.
type Options struct {
	// Server is the FTP server, whose Defender the API's bans are;
	// required.
	Server *ftpserver.Server
	// Sessions are the servers whose sessions the API lists and ends;
	// nil means Server alone. ferry serve gives its FTP and SFTP servers.
	Sessions []SessionSource
	// Token is the bearer token the API requires; required.
	Token string
	// Metrics is served at /metrics; nil serves no metrics.
	Metrics *Metrics
	// MetricsAuth makes /metrics require the token as well.
	MetricsAuth bool
	// Stats feeds /api/v1/stats and the sessions' rates; nil serves
	// empty statistics.
	Stats *Stats
	// Users is the account store of /api/v1/users; nil answers 501.
	Users Users
	// Version is reported by /api/v1/version; empty means Version().
	Version string
	// Started is when the server started; zero means when Handler was
	// called.
	Started time.Time
	// Logger logs internal errors, which clients never see; nil
	// discards them.
	Logger *slog.Logger
	// Assets is the dashboard's file tree; nil means web.Assets.
	Assets fs.FS

	// FailDelay is how long a request with a wrong or missing token
	// waits before its 401; 0 means 1s, negative means none.
	FailDelay time.Duration
	// MaxFailing bounds the requests waiting out FailDelay at once (0
	// means 64), and MaxFailingPerIP those of one client address (0
	// means 8); more are answered 429 at once.
	MaxFailing      int
	MaxFailingPerIP int
}

type handler struct {
	opts    Options
	servers sources
	check   *tokenCheck
	log     *slog.Logger
	api     *http.ServeMux
}

// Handler returns the admin server's HTTP handler.
func Handler(opts Options) http.Handler { return newHandler(opts).routes() }

func newHandler(opts Options) *handler {
	if opts.Version == "" {
		opts.Version = Version()
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.Assets == nil {
		opts.Assets = web.Assets
	}
	delay := opts.FailDelay
	switch {
	case delay == 0:
		delay = time.Second
	case delay < 0:
		delay = 0
	}
	maxFailing, maxPerIP := opts.MaxFailing, opts.MaxFailingPerIP
	if maxFailing <= 0 {
		maxFailing = 64
	}
	if maxPerIP <= 0 {
		maxPerIP = 8
	}
	h := &handler{
		opts:  opts,
		check: newTokenCheck(opts.Token, delay, maxFailing, maxPerIP),
		log:   opts.Logger,
		api:   http.NewServeMux(),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.servers = opts.Sessions
	if h.servers == nil {
		h.servers = sources{opts.Server}
	}
	return h
}

func (h *handler) routes() http.Handler {
	opts := h.opts
	h.api.HandleFunc("GET /api/v1/version", h.version)
	h.api.HandleFunc("GET /api/v1/sessions", h.sessions)
	h.api.HandleFunc("DELETE /api/v1/sessions/{id}", h.disconnect)
	h.api.HandleFunc("GET /api/v1/stats", h.stats)
	h.api.HandleFunc("GET /api/v1/users", h.listUsers)
	h.api.HandleFunc("POST /api/v1/users", h.addUser)
	h.api.HandleFunc("PUT /api/v1/users/{name}/password", h.setPassword)
	h.api.HandleFunc("DELETE /api/v1/users/{name}", h.deleteUser)
	h.api.HandleFunc("GET /api/v1/bans", h.bans)
	h.api.HandleFunc("DELETE /api/v1/bans/{addr...}", h.unban)

	mux := http.NewServeMux()
	mux.Handle("/api/", http.HandlerFunc(h.serveAPI))
	if opts.Metrics != nil {
		metrics := opts.Metrics.Handler()
		if opts.MetricsAuth {
			metrics = h.authenticated(metrics)
		}
		mux.Handle("GET /metrics", metrics)
	}
	mux.Handle("/", staticFiles(opts.Assets))
	return securityHeaders(mux)
}

// staticFiles serves the dashboard's files. It is registered for every
// method ("GET /" would conflict with "/api/"), so it refuses all but
// reads itself.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// securityHeaders sets what every response carries: a CSP that allows
// only the dashboard's own files, and no caching of API data.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			hdr.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated lets through requests with the token; others get 401
// after the failure delay, or 429 when too many wait for theirs.
func (h *handler) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.check.valid(r) {
			next.ServeHTTP(w, r)
			return
		}
		if err := h.check.fail(r.Context(), clientKey(r)); errors.Is(err, errTooMany) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, err.Error())
			return
		} else if err != nil {
			return // the client went away
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
	})
}

// serveAPI authenticates, then routes; unknown paths and methods get
// JSON errors like every other API answer.
func (h *handler) serveAPI(w http.ResponseWriter, r *http.Request) {
	h.authenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := h.api.Handler(r); pattern != "" {
			h.api.ServeHTTP(w, r) // which sets the path's {values}
			return
		}
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := h.api.Handler(probe); pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) == 0 {
			writeError(w, http.StatusNotFound, "no such API endpoint")
			return
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})).ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// internalError logs err and tells the client only that it failed.
func (h *handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; see the server's log")
}

// decode reads a JSON body strictly: bounded, no unknown fields, one
// value.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("request body larger than %d bytes", maxBody)
		}
		return fmt.Errorf("bad JSON body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("bad JSON body: more than one value")
	}
	return nil
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (h *handler) uptime() int64 { return int64(time.Since(h.opts.Started).Seconds()) }

func (h *handler) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"version":        h.opts.Version,
		"go":             runtime.Version(),
		"started":        utc(h.opts.Started),
		"uptime_seconds": h.uptime(),
	})
}

// Session is one live session as GET /api/v1/sessions shows it.
type Session struct {
	ID string `json:"id"`
	// Protocol is "ftp" (TLS says whether it is FTPS) or "sftp".
	Protocol  string    `json:"protocol"`
	User      string    `json:"user"`
	Anonymous bool      `json:"anonymous"`
	Remote    string    `json:"remote"`
	Host      string    `json:"host,omitempty"` // the HOST (RFC 7151) it chose
	Started   string    `json:"started"`
	TLS       bool      `json:"tls"`
	Command   string    `json:"command"`
	CommandAt string    `json:"command_at"`
	Transfer  *Transfer `json:"transfer"`
}

// Transfer is a session's running transfer.
type Transfer struct {
	Verb    string  `json:"verb"`
	Path    string  `json:"path"`
	Size    int64   `json:"size"`
	Bytes   int64   `json:"bytes"`
	Started string  `json:"started"`
	Rate    float64 `json:"rate"` // bytes per second
}

func (h *handler) sessions(w http.ResponseWriter, r *http.Request) {
	infos := h.servers.Sessions()
	list := make([]Session, len(infos))
	now := time.Now()
	for i, info := range infos {
		s := Session{
			ID:        info.ID,
			Protocol:  protocol(info),
			User:      info.User,
			Anonymous: info.Anonymous,
			Remote:    info.Remote.String(),
			Host:      info.Host,
			Started:   utc(info.Started),
			TLS:       info.TLS,
			Command:   info.Command,
		}
		if !info.CommandAt.IsZero() {
			s.CommandAt = utc(info.CommandAt)
		}
		if t := info.Transfer; t != nil {
			s.Transfer = &Transfer{Verb: t.Verb, Path: t.Path, Size: t.Size, Bytes: t.Bytes, Started: utc(t.Started), Rate: h.rate(info.ID, t, now)}
		}
		list[i] = s
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// rate is the transfer's recent rate where the sampler knows it, else
// its average since it started.
func (h *handler) rate(id string, t *ftpserver.TransferInfo, now time.Time) float64 {
	if h.opts.Stats != nil {
		if rate, ok := h.opts.Stats.Rate(id, t); ok {
			return rate
		}
	}
	if d := now.Sub(t.Started).Seconds(); d > 0 {
		return float64(t.Bytes) / d
	}
	return 0
}

func (h *handler) disconnect(w http.ResponseWriter, r *http.Request) {
	err := h.servers.Disconnect(r.PathValue("id"), "")
	switch {
	case errors.Is(err, ftpserver.ErrNoSuchSession):
		writeError(w, http.StatusNotFound, "no such session")
	case err != nil:
		h.internalError(w, r, err)
	default:
		h.log.Info("session disconnected through the admin API", "session", r.PathValue("id"), "admin", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	throughput := []ThroughputPoint{}
	users := []UserUsage{}
	if h.opts.Stats != nil {
		throughput = h.opts.Stats.Throughput()
		users = h.opts.Stats.Users()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"uptime_seconds": h.uptime(),
		"sessions":       h.servers.SessionCount(),
		"throughput":     throughput,
		"users":          users,
	})
}

// users returns the store, or answers 501 when there is none.
func (h *handler) users(w http.ResponseWriter) Users {
	if h.opts.Users == nil {
		writeError(w, http.StatusNotImplemented, "no users file or database configured")
	}
	return h.opts.Users
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) {
	store := h.users(w)
	if store == nil {
		return
	}
	list, err := store.List(r.Context())
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if list == nil {
		list = []User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
}

// validHome accepts an absolute host path or an s3:// URL: a relative
// home would be taken relative to the users file, not to anything the
// API client knows.
func validHome(home string) bool {
	return strings.HasPrefix(home, "/") && !strings.ContainsRune(home, 0) || strings.HasPrefix(home, "s3://")
}

func (h *handler) addUser(w http.ResponseWriter, r *http.Request) {
	store := h.users(w)
	if store == nil {
		return
	}
	var u NewUser
	if err := decode(w, r, &u); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch err := auth.ValidateName(u.Name); {
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case u.Password == "":
		writeError(w, http.StatusBadRequest, "empty password")
		return
	case !validHome(u.Home):
		writeError(w, http.StatusBadRequest, "home: want an absolute path or s3://BUCKET/PREFIX")
		return
	}
	switch err := store.Add(r.Context(), u); {
	case errors.Is(err, ErrUserExists):
		writeError(w, http.StatusConflict, fmt.Sprintf("user %q already exists", u.Name))
	case err != nil:
		h.internalError(w, r, err)
	default:
		h.log.Info("user added through the admin API", "user", u.Name, "admin", r.RemoteAddr)
		writeJSON(w, http.StatusCreated, map[string]string{"name": u.Name})
	}
}

func (h *handler) setPassword(w http.ResponseWriter, r *http.Request) {
	store := h.users(w)
	if store == nil {
		return
	}
	var body struct {
		Password string `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if body.Password == "" {
		writeError(w, http.StatusBadRequest, "empty password")
		return
	}
	name := r.PathValue("name")
	h.userResult(w, r, "password changed", name, store.SetPassword(r.Context(), name, body.Password))
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	store := h.users(w)
	if store == nil {
		return
	}
	name := r.PathValue("name")
	h.userResult(w, r, "user deleted", name, store.Delete(r.Context(), name))
}

func (h *handler) userResult(w http.ResponseWriter, r *http.Request, what, name string, err error) {
	switch {
	case errors.Is(err, ErrNoSuchUser):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no user %q", name))
	case err != nil:
		h.internalError(w, r, err)
	default:
		h.log.Info(what+" through the admin API", "user", name, "admin", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
	}
}

// Server is the admin HTTP server.
type Server struct {
	http *http.Server
	ln   net.Listener
	done chan error
}

// Listen starts serving h on addr.
func Listen(addr string, h http.Handler, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	return Serve(ln, h, logger), nil
}

// Serve starts serving h on ln.
func Serve(ln net.Listener, h http.Handler, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		http: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.http.Serve(ln) }()
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops the server, letting requests in progress finish until
// ctx is done, then closing what remains.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
