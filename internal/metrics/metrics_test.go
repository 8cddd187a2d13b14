package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gowsgi/gowsgi/internal/workers"
)

// scrape fetches /metrics from h and parses it.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mf
}

// value is the value of the series of family name whose labels include
// every pair in labels; ok false if there is none.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := mf[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func probeCode(t *testing.T, h http.Handler, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	io.Copy(io.Discard, rec.Body)
	return rec.Code
}

func TestMetricsCountAndProbes(t *testing.T) {
	m := New()
	h := m.Handler()
	obs := m.Observer()
	if probeCode(t, h, "/healthz") != 200 || probeCode(t, h, "/readyz") != 503 {
		t.Fatal("before the pool is ready: want /healthz 200, /readyz 503")
	}
	depth := 3
	m.SetQueueDepth(func() int { return depth })

	start := time.Now()
	for i := 0; i < 5; i++ {
		m.Begin()
		m.End("GET", 200, start)
	}
	m.Begin()
	m.End("BREW", 418, start)
	m.Begin() // still in flight
	m.Spooled(1000)
	m.Spooled(24)
	obs.Dispatched(0)
	obs.Dispatched(2 * time.Millisecond)
	obs.WorkerStarted(1, os.Getpid())
	obs.WorkerStarted(2, os.Getpid())
	obs.Workers(2)
	obs.WorkerExited(2, os.Getpid(), workers.ExitCrash)
	obs.WorkerExited(3, 0, workers.ExitStop)
	obs.WorkerExited(4, 0, workers.ExitScale)
	obs.WorkerExited(5, 0, workers.ExitReload)

	mf := scrape(t, h)
	want := []struct {
		name   string
		labels []string
		v      float64
	}{
		{"gowsgi_requests_total", []string{"code", "200", "method", "GET"}, 5},
		{"gowsgi_requests_total", []string{"code", "418", "method", "OTHER"}, 1},
		{"gowsgi_request_duration_seconds", nil, 6},
		{"gowsgi_requests_in_flight", nil, 1},
		{"gowsgi_queue_wait_seconds", nil, 2},
		{"gowsgi_queue_depth", nil, 3},
		{"gowsgi_workers", nil, 2},
		{"gowsgi_worker_restarts_total", []string{"reason", "crash"}, 1},
		{"gowsgi_worker_restarts_total", []string{"reason", "reload"}, 1},
		{"gowsgi_worker_restarts_total", []string{"reason", "timeout"}, 0},
		{"gowsgi_worker_restarts_total", []string{"reason", "recycle"}, 0},
		{"gowsgi_worker_restarts_total", []string{"reason", "memory"}, 0},
		{"gowsgi_request_body_spooled_bytes_total", nil, 1024},
	}
	for _, w := range want {
		if v, ok := value(mf, w.name, w.labels...); !ok || v != w.v {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, v, ok, w.v)
		}
	}
	if _, ok := value(mf, "gowsgi_worker_restarts_total", "reason", "stop"); ok {
		t.Error("a worker stopped with the server counted as a restart")
	}
	if _, ok := value(mf, "gowsgi_worker_restarts_total", "reason", "scale"); ok {
		t.Error("a worker removed by scaling down counted as a restart")
	}
	if v, ok := value(mf, "gowsgi_worker_resident_memory_bytes", "worker", "1"); !ok || v < 1<<20 {
		t.Errorf("worker 1 RSS = %v (present %v), want this process's RSS", v, ok)
	}
	if _, ok := value(mf, "gowsgi_worker_resident_memory_bytes", "worker", "2"); ok {
		t.Error("an exited worker still has an RSS series")
	}

	obs.Ready(true)
	if probeCode(t, h, "/readyz") != 200 {
		t.Error("ready: /readyz not 200")
	}
	obs.Ready(false) // a reload boots its new generation
	if probeCode(t, h, "/readyz") != 503 {
		t.Error("reloading: /readyz not 503")
	}
	obs.Ready(true)
	m.SetDraining()
	if probeCode(t, h, "/readyz") != 503 || probeCode(t, h, "/healthz") != 200 {
		t.Error("draining: want /readyz 503, /healthz 200")
	}
}

// TestMetricsHotPathAllocations: what every request calls allocates
// nothing once its counter exists.
func TestMetricsHotPathAllocations(t *testing.T) {
	m := New()
	obs := m.Observer()
	start := time.Now()
	m.End("GET", 200, start)
	n := testing.AllocsPerRun(1000, func() {
		m.Begin()
		obs.Dispatched(time.Millisecond)
		m.End("GET", 200, start)
	})
	if n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

func TestMethodLabel(t *testing.T) {
	for in, want := range map[string]string{"GET": "GET", "PATCH": "PATCH", "get": "OTHER", "X" + strconv.Itoa(7): "OTHER"} {
		if got := Method(in); got != want {
			t.Errorf("Method(%q) = %q, want %q", in, got, want)
		}
	}
}
