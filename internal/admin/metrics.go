// Package admin is ferry's administration HTTP server: Prometheus metrics
// at /metrics, a JSON API under /api/v1 (sessions, statistics, accounts)
// and the embedded web dashboard at /.
//
// It watches the FTP server through ftpserver.Observer and
// Server.Sessions, so that the FTP core links neither HTTP nor the
// Prometheus client.
package admin

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// Metrics is an ftpserver.Observer that counts what the server does as
// Prometheus metrics, on a registry of its own (not the global one, so
// that two servers in one process, or tests, do not mix their counts).
type Metrics struct {
	reg *prometheus.Registry

	sessions  prometheus.Counter
	logins    *prometheus.CounterVec
	transfers *prometheus.CounterVec
	listings  *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	durations *prometheus.HistogramVec
	replies   *prometheus.CounterVec
}

var _ ftpserver.Observer = (*Metrics)(nil)

// fileDirections are the directions of file transfers; listings are
// counted apart, since their bytes are not files moved.
var fileDirections = []ftpserver.Direction{ftpserver.Upload, ftpserver.Download}

var transferResults = []ftpserver.TransferResult{ftpserver.TransferOK, ftpserver.TransferAborted, ftpserver.TransferFailed}

// knownReplies are pre-created so that a fresh server shows them at zero:
// the replies an operator alerts on (refusals, failed logins, aborts).
var knownReplies = []int{220, 221, 226, 230, 421, 425, 426, 451, 530, 550, 552}

// NewMetrics returns the metrics of srv and of the servers in more (an
// SFTP server beside it), whose session counts it reads at each scrape.
// version is the ferry version ferry_build_info reports; empty means the
// module version Go recorded in the binary.
// With a Defender on srv it also counts bans, through the defender's OnBan:
// call it before srv serves.
func NewMetrics(srv *ftpserver.Server, version string, more ...SessionSource) *Metrics {
	servers := append(sources{srv}, more...)
	if version == "" {
		version = Version()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_sessions_total",
			Help: "Sessions started (connections accepted as sessions), FTP and SFTP.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_logins_total",
			Help: "Finished login attempts by result: ok, failed (wrong credentials, disabled, TLS required) or error (the account store failed).",
		}, []string{"result"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_transfers_total",
			Help: "Finished file transfers by direction (upload, download) and result (ok, aborted, failed).",
		}, []string{"direction", "result"}),
		listings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_listings_total",
			Help: "Finished directory listings (LIST, NLST, MLSD) by result.",
		}, []string{"result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_transfer_bytes_total",
			Help: "Bytes of file transfers by direction, counted when a transfer ends (a running transfer's bytes are not in it yet).",
		}, []string{"direction"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ferry_transfer_duration_seconds",
			Help: "Duration of finished file transfers by direction.",
			// 10 ms (a small file on a LAN) to 30 minutes (a large one
			// over a slow link).
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"direction"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_replies_total",
			Help: "Replies sent on control connections, by 3-digit code.",
		}, []string{"code"}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ferry_sessions_active",
		Help: "Sessions open now, FTP and SFTP.",
	}, func() float64 { return float64(servers.SessionCount()) })
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ferry_build_info",
		Help:        "Always 1; the labels say which ferry and Go built the binary.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)

	for _, r := range []ftpserver.LoginResult{ftpserver.LoginOK, ftpserver.LoginFailed, ftpserver.LoginError} {
		m.logins.WithLabelValues(string(r))
	}
	for _, res := range transferResults {
		m.listings.WithLabelValues(string(res))
		for _, d := range fileDirections {
			m.transfers.WithLabelValues(string(d), string(res))
		}
	}
	for _, d := range fileDirections {
		m.bytes.WithLabelValues(string(d))
		m.durations.WithLabelValues(string(d))
	}
	for _, code := range knownReplies {
		m.replies.WithLabelValues(replyCode(code))
	}

	m.reg.MustRegister(m.sessions, m.logins, m.transfers, m.listings, m.bytes, m.durations, m.replies,
		active, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerBans(srv.Defender)
	return m
}

// Registry is where the metrics are registered; another part of ferry
// may add its own collectors to it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) SessionStarted(ftpserver.SessionInfo) { m.sessions.Inc() }

func (m *Metrics) SessionEnded(ftpserver.SessionInfo) {}

func (m *Metrics) LoginAttempted(e ftpserver.LoginEvent) {
	m.logins.WithLabelValues(string(e.Result)).Inc()
}

func (m *Metrics) Replied(code int) { m.replies.WithLabelValues(replyCode(code)).Inc() }

func (m *Metrics) TransferEnded(r ftpserver.TransferRecord) {
	if r.Direction == ftpserver.Listing {
		m.listings.WithLabelValues(string(r.Result)).Inc()
		return
	}
	dir := string(r.Direction)
	m.transfers.WithLabelValues(dir, string(r.Result)).Inc()
	m.bytes.WithLabelValues(dir).Add(float64(r.Bytes))
	m.durations.WithLabelValues(dir).Observe(r.Duration.Seconds())
}

// replyCode is the code label: always three digits, and anything that is
// not a reply code collapses into one value, so that the label's values
// stay few whatever happens.
func replyCode(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return fmt.Sprintf("%03d", code)
}

// Version is the ferry module's version as Go recorded it at build time
// ("(devel)" for a build from a checkout).
func Version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
