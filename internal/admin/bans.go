package admin

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-ftp/ferry/ftpserver"
)

// BanInfo is one ban as /api/v1/bans reports it.
type BanInfo struct {
	Addr  string    `json:"addr"` // "203.0.113.9/32", "2001:db8:1:2::/64"
	Until time.Time `json:"until"`
	Count int       `json:"count"` // this ban included
}

// bans answers GET /api/v1/bans: the defender's bans, soonest to end
// first; enabled is false when the server has no defender.
func (h *handler) bans(w http.ResponseWriter, r *http.Request) {
	list := []BanInfo{}
	d := h.opts.Server.Defender
	if d != nil {
		for _, b := range d.Bans() {
			list = append(list, BanInfo{Addr: b.Addr.String(), Until: b.Until.UTC(), Count: b.Count})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": d != nil, "bans": list})
}

// unban answers DELETE /api/v1/bans/{addr}: addr is a banned prefix as
// listed, a wider one (every ban inside it is lifted), or an address (the
// ban of its IPv4 address or IPv6 /64).
func (h *handler) unban(w http.ResponseWriter, r *http.Request) {
	prefix, ok := parseBanAddr(r.PathValue("addr"))
	if !ok {
		writeError(w, http.StatusBadRequest, "want an address or a CIDR prefix, such as 203.0.113.9 or 2001:db8::/64")
		return
	}
	d := h.opts.Server.Defender
	if d == nil || !d.Unban(prefix) {
		writeError(w, http.StatusNotFound, "no ban of "+prefix.String())
		return
	}
	h.log.Info("ban lifted through the admin API", "addr", prefix.String(), "admin", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

// parseBanAddr reads a prefix or an address; an address stands for the
// unit the defender bans (an IPv4 address, an IPv6 /64).
func parseBanAddr(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32), true
	}
	return netip.PrefixFrom(a, 64).Masked(), true
}

// registerBans adds the defender's metrics: bans now in force, and bans
// started (through its OnBan, which this chains to). It must run before
// the server serves.
func (m *Metrics) registerBans(d *ftpserver.Defender) {
	if d == nil {
		return
	}
	started := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ferry_bans_total",
		Help: "Addresses banned by the defender (repeat bans of one address each count).",
	})
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ferry_bans_active",
		Help: "Addresses banned now.",
	}, func() float64 { return float64(len(d.Bans())) })
	next := d.OnBan
	d.OnBan = func(b ftpserver.Ban) {
		started.Inc()
		if next != nil {
			next(b)
		}
	}
	m.reg.MustRegister(started, active)
}
