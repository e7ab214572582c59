package admin

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/internal/testwait"
)

// scrape reads /metrics and parses it as Prometheus does.
func (e *testEnv) scrape(t *testing.T, token string) map[string]*dto.MetricFamily {
	t.Helper()
	r := e.do(t, "GET", "/metrics", token, "")
	if r.status != 200 {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, r.body)
	}
	return families
}

// value returns the sample of family name whose labels are exactly
// labels ("k=v" pairs), failing the test when there is none.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	fam := families[name]
	if fam == nil {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range fam.Metric {
		var got []string
		for _, l := range m.Label {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		if strings.Join(got, ",") != strings.Join(labels, ",") {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no sample %s{%s}", name, strings.Join(labels, ","))
	return 0
}

func TestMetricsFreshServerShowsZeroes(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	fams := e.scrape(t, "")
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"ferry_sessions_active", nil},
		{"ferry_sessions_total", nil},
		{"ferry_logins_total", []string{"result=ok"}},
		{"ferry_logins_total", []string{"result=failed"}},
		{"ferry_logins_total", []string{"result=error"}},
		{"ferry_transfers_total", []string{"direction=upload", "result=aborted"}},
		{"ferry_transfers_total", []string{"direction=download", "result=failed"}},
		{"ferry_listings_total", []string{"result=ok"}},
		{"ferry_transfer_bytes_total", []string{"direction=upload"}},
		{"ferry_transfer_duration_seconds", []string{"direction=download"}},
		{"ferry_replies_total", []string{"code=530"}},
	} {
		if v := value(t, fams, c.name, c.labels...); v != 0 {
			t.Errorf("%s%v = %v on a fresh server, want 0", c.name, c.labels, v)
		}
	}
	if v := value(t, fams, "ferry_build_info", "goversion="+goVersion(), "version=v-test"); v != 1 {
		t.Errorf("ferry_build_info = %v, want 1", v)
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if fams[name] == nil {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
}

func TestMetricsCountTransfersLoginsAndReplies(t *testing.T) {
	t.Parallel()
	e := startEnv(t, nil)
	ctx := context.Background()
	const size = 100000
	payload := bytes.Repeat([]byte("0123456789"), size/10)

	c, err := ftpclient.Dial(ctx, e.ftpAddr, ftpclient.WithLogin("alice", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Store(ctx, "/up.bin", bytes.NewReader(payload), 0); err != nil || n != size {
		t.Fatalf("Store: %d, %v", n, err)
	}
	var got bytes.Buffer
	if n, err := c.Retrieve(ctx, "/up.bin", 0, &got); err != nil || n != size || !bytes.Equal(got.Bytes(), payload) {
		t.Fatalf("Retrieve: %d, %v", n, err)
	}
	if entries, err := c.List(ctx, "/"); err != nil || len(entries) != 1 {
		t.Fatalf("List: %v, %v", entries, err)
	}
	c.Close()

	// curl: an independent client, downloading the file once more.
	out, err := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "20", fmt.Sprintf("ftp://alice:secret@%s/up.bin", e.ftpAddr)).Output()
	if err != nil || len(out) != size {
		t.Fatalf("curl: %d bytes, %v", len(out), err)
	}
	if _, err := ftpclient.Dial(ctx, e.ftpAddr, ftpclient.WithLogin("alice", "wrong")); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	testwait.For(t, "the sessions to end", func() bool { return e.ftp.SessionCount() == 0 })

	fams := e.scrape(t, "")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ferry_sessions_active", nil, 0},
		{"ferry_sessions_total", nil, 3},
		{"ferry_logins_total", []string{"result=ok"}, 2},
		{"ferry_logins_total", []string{"result=failed"}, 1},
		{"ferry_logins_total", []string{"result=error"}, 0},
		{"ferry_transfers_total", []string{"direction=upload", "result=ok"}, 1},
		{"ferry_transfers_total", []string{"direction=download", "result=ok"}, 2},
		{"ferry_transfers_total", []string{"direction=download", "result=aborted"}, 0},
		{"ferry_listings_total", []string{"result=ok"}, 1},
		{"ferry_transfer_bytes_total", []string{"direction=upload"}, size},
		{"ferry_transfer_bytes_total", []string{"direction=download"}, 2 * size},
		{"ferry_transfer_duration_seconds", []string{"direction=upload"}, 1},
		{"ferry_transfer_duration_seconds", []string{"direction=download"}, 2},
		{"ferry_replies_total", []string{"code=220"}, 3},
		{"ferry_replies_total", []string{"code=226"}, 4},
		{"ferry_replies_total", []string{"code=230"}, 2},
		{"ferry_replies_total", []string{"code=530"}, 1},
	} {
		if v := value(t, fams, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	for _, m := range fams["ferry_replies_total"].Metric {
		if code := m.Label[0].GetValue(); len(code) != 3 {
			t.Errorf("reply code label %q is not 3 digits", code)
		}
	}
}

func TestMetricsAuth(t *testing.T) {
	t.Parallel()
	e := startEnv(t, func(o *Options) { o.MetricsAuth = true })
	r := e.do(t, "GET", "/metrics", "", "")
	if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer realm="ferry"` {
		t.Fatalf("GET /metrics without a token with metrics_auth: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	if r := e.do(t, "GET", "/metrics", "wrong", ""); r.status != 401 {
		t.Fatalf("GET /metrics with a wrong token: %d", r.status)
	}
	if fams := e.scrape(t, testToken); fams["ferry_sessions_total"] == nil {
		t.Fatal("no ferry_sessions_total with the token")
	}
}
