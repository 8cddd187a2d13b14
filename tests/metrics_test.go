package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// scrapeMetrics fetches and parses http://addr/metrics.
func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := client().Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scraping /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mf
}

// metricValue is the value (a histogram's sample count) of the series of
// family name whose labels include the pairs in labels, and how many such
// series there are.
func metricValue(mf map[string]*dto.MetricFamily, name string, labels ...string) (float64, int) {
	f := mf[name]
	if f == nil {
		return 0, 0
	}
	var v float64
	n := 0
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		n++
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		}
	}
	return v, n
}

// probeStatus is the status of GET http://addr+path, or 0 if it failed.
func probeStatus(addr, path string) int {
	resp, err := client().Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsEndpoint sends a known mix of requests and compares what
// /metrics counts with it: requests by code and method, durations, queue
// waits, in-flight, workers, a crash restart, per-worker RSS and spooled
// body bytes.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, _ := StartProbe(t, "--workers", "2", "--metrics-bind", maddr, "--body-memory", "1K")
	c := client()
	send := func(method, path string, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL(path), strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	for i := 0; i < 5; i++ {
		send("GET", "/", "", 200)
	}
	for i := 0; i < 3; i++ {
		send("GET", "/nothing-here", "", 404)
	}
	big := strings.Repeat("b", 4096) // over --body-memory: spooled
	send("POST", "/echo", big, 200)
	send("POST", "/echo", big, 200)
	send("HEAD", "/", "", 200)
	send("BREW", "/", "", 200) // not an RFC 9110 method: counted as OTHER
	send("GET", "/crash", "", 502)
	s.WaitLog(t, "worker ready", 3, 30*time.Second) // the replacement

	var mf map[string]*dto.MetricFamily
	if !waitFor(30*time.Second, func() bool {
		mf = scrapeMetrics(t, maddr)
		w, _ := metricValue(mf, "gowsgi_workers")
		r, _ := metricValue(mf, "gowsgi_worker_restarts_total", "reason", "crash")
		return w == 2 && r == 1
	}) {
		t.Fatalf("workers and crash restarts not 2 and 1: %v %v", mf["gowsgi_workers"], mf["gowsgi_worker_restarts_total"])
	}
	const total = 13
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gowsgi_requests_total", []string{"code", "200", "method", "GET"}, 5},
		{"gowsgi_requests_total", []string{"code", "404", "method", "GET"}, 3},
		{"gowsgi_requests_total", []string{"code", "200", "method", "POST"}, 2},
		{"gowsgi_requests_total", []string{"code", "200", "method", "HEAD"}, 1},
		{"gowsgi_requests_total", []string{"code", "200", "method", "OTHER"}, 1},
		{"gowsgi_requests_total", []string{"code", "502", "method", "GET"}, 1},
		{"gowsgi_requests_total", nil, total},
		{"gowsgi_request_duration_seconds", nil, total},
		{"gowsgi_queue_wait_seconds", nil, total}, // every request reached a worker once
		{"gowsgi_requests_in_flight", nil, 0},
		{"gowsgi_queue_depth", nil, 0},
		{"gowsgi_worker_restarts_total", []string{"reason", "timeout"}, 0},
		{"gowsgi_worker_restarts_total", []string{"reason", "recycle"}, 0},
		{"gowsgi_worker_restarts_total", []string{"reason", "memory"}, 0},
		{"gowsgi_worker_restarts_total", []string{"reason", "reload"}, 0},
		{"gowsgi_request_body_spooled_bytes_total", nil, 2 * 4096},
	} {
		if got, n := metricValue(mf, w.name, w.labels...); n == 0 || got != w.want {
			t.Errorf("%s%v = %v (%d series), want %v", w.name, w.labels, got, n, w.want)
		}
	}
	rss := mf["gowsgi_worker_resident_memory_bytes"]
	if rss == nil || len(rss.Metric) != 2 {
		t.Fatalf("want 2 per-worker RSS series: %v", rss)
	}
	for _, m := range rss.Metric {
		if m.Gauge.GetValue() < 1<<20 || len(m.Label) != 1 || m.Label[0].GetName() != "worker" {
			t.Errorf("RSS series %v: want a worker label and at least 1 MiB", m)
		}
	}
	if probeStatus(maddr, "/healthz") != 200 || probeStatus(maddr, "/readyz") != 200 {
		t.Error("serving: /healthz and /readyz should be 200")
	}
	// The app's port does not serve the metrics.
	if resp, body := get(t, s, "GET", "/metrics", nil); strings.Contains(body, "gowsgi_requests_total") {
		t.Errorf("the app's port answered /metrics: %d", resp.StatusCode)
	}
}

func TestMetricsBindRefusesBadAddress(t *testing.T) {
	t.Parallel()
	code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--metrics-bind", "nohostport")
	if code != 2 || !strings.Contains(stderr, "metrics-bind") {
		t.Errorf("--metrics-bind nohostport: exit %d, stderr %q; want 2 naming the option", code, stderr)
	}
}

// TestReadinessProbes follows /healthz and /readyz through a start whose
// app import the test holds, a reload whose new generation it holds, and a
// shutdown held open by an in-flight request.
func TestReadinessProbes(t *testing.T) {
	t.Parallel()
	gate := t.TempDir()
	entered := func() int {
		m, _ := filepath.Glob(filepath.Join(gate, "entered.*"))
		return len(m)
	}
	open := filepath.Join(gate, "open")
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startProcessEnv(t, []string{"GATE_DIR=" + gate}, "tests/testdata/apps/gated.py", "--metrics-bind", maddr)
	t.Cleanup(func() { os.WriteFile(open, nil, 0o644); os.WriteFile(filepath.Join(gate, "block.release"), nil, 0o644) })

	// Start: the worker is importing the app.
	if !waitFor(30*time.Second, func() bool { return entered() == 1 && probeStatus(maddr, "/healthz") == 200 }) {
		t.Fatalf("no import began or /healthz never answered\n%s", s.Stderr)
	}
	if got := probeStatus(maddr, "/readyz"); got != 503 {
		t.Fatalf("while the workers boot: /readyz %d, want 503", got)
	}
	os.WriteFile(open, nil, 0o644)
	if !waitFor(30*time.Second, func() bool { return probeStatus(maddr, "/readyz") == 200 }) {
		t.Fatalf("/readyz never 200 after the workers booted\n%s", s.Stderr)
	}
	s.WaitLog(t, "msg=listening", 1, 30*time.Second)
	if resp, _ := get(t, s, "GET", "/", nil); resp.StatusCode != 200 {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}

	// Reload: the new generation's import is held.
	os.Remove(open)
	s.Signal(syscall.SIGHUP)
	if !waitFor(30*time.Second, func() bool { return entered() == 2 }) {
		t.Fatalf("the reload started no new worker\n%s", s.Stderr)
	}
	if got := probeStatus(maddr, "/readyz"); got != 503 {
		t.Errorf("during the reload switch-over: /readyz %d, want 503", got)
	}
	if got := probeStatus(maddr, "/healthz"); got != 200 {
		t.Errorf("during the reload: /healthz %d, want 200", got)
	}
	if resp, _ := get(t, s, "GET", "/", nil); resp.StatusCode != 200 {
		t.Errorf("the old generation stopped serving during the reload: %d", resp.StatusCode)
	}
	os.WriteFile(open, nil, 0o644)
	s.WaitLog(t, "reload complete", 1, 30*time.Second)
	if !waitFor(30*time.Second, func() bool { return probeStatus(maddr, "/readyz") == 200 }) {
		t.Fatal("/readyz never 200 after the reload")
	}
	if !waitFor(30*time.Second, func() bool {
		v, _ := metricValue(scrapeMetrics(t, maddr), "gowsgi_worker_restarts_total", "reason", "reload")
		return v == 1
	}) {
		t.Errorf("restarts{reason=reload} never 1: %v", scrapeMetrics(t, maddr)["gowsgi_worker_restarts_total"])
	}

	// Shutdown: a request in flight keeps the drain going.
	p := sendAsync(t, s.Addr, "GET", "/block")
	if !waitFor(30*time.Second, func() bool { _, err := os.Stat(filepath.Join(gate, "block.entered")); return err == nil }) {
		t.Fatal("/block never entered the app")
	}
	s.Signal(syscall.SIGTERM)
	s.WaitLog(t, "shutting down", 1, 30*time.Second)
	if got := probeStatus(maddr, "/readyz"); got != 503 {
		t.Errorf("while draining: /readyz %d, want 503", got)
	}
	if got := probeStatus(maddr, "/healthz"); got != 200 {
		t.Errorf("while draining: /healthz %d, want 200", got)
	}
	os.WriteFile(filepath.Join(gate, "block.release"), nil, 0o644)
	if r := p.wait(30 * time.Second); r.status != 200 {
		t.Errorf("the in-flight request: %d %v, want 200", r.status, r.err)
	}
	if code := s.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: an ID is generated, or taken from a trusted (loopback)
// peer; the app sees it as gowsgi.request_id (and HTTP_X_REQUEST_ID only
// when the client sent the header), the client gets it back, and gowsgi's
// log lines about the request carry it.
func TestRequestID(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t)
	env := func(resp *http.Response, body string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("/env: %v: %s", err, body)
		}
		return m
	}
	resp, body := get(t, s, "GET", "/env", nil)
	id := resp.Header.Get("X-Request-ID")
	if !hex32.MatchString(id) {
		t.Errorf("generated X-Request-ID %q, want 32 hex digits", id)
	}
	if got := env(resp, body)["gowsgi.request_id"]; got != id {
		t.Errorf("gowsgi.request_id %v, response X-Request-ID %q", got, id)
	}
	if got, ok := env(resp, body)["HTTP_X_REQUEST_ID"]; ok {
		t.Errorf("HTTP_X_REQUEST_ID %v in the environ: the client sent none", got)
	}
	resp2, _ := get(t, s, "GET", "/env", nil)
	if resp2.Header.Get("X-Request-ID") == id {
		t.Error("two requests got the same ID")
	}

	resp, body = get(t, s, "GET", "/env", nil, "X-Request-ID", "from-proxy-42")
	if got := resp.Header.Get("X-Request-ID"); got != "from-proxy-42" {
		t.Errorf("a loopback peer's X-Request-ID came back as %q", got)
	}
	if got := env(resp, body)["HTTP_X_REQUEST_ID"]; got != "from-proxy-42" {
		t.Errorf("HTTP_X_REQUEST_ID %v, want the peer's", got)
	}
	if got := env(resp, body)["gowsgi.request_id"]; got != "from-proxy-42" {
		t.Errorf("gowsgi.request_id %v, want the trusted peer's", got)
	}

	// An answer gowsgi makes itself, and its log line.
	resp, _ = get(t, s, "GET", "/headers?kind=crlf", nil, "X-Request-ID", "bad-head-7")
	if resp.StatusCode != 500 || resp.Header.Get("X-Request-ID") != "bad-head-7" {
		t.Errorf("gowsgi's 500: %d with X-Request-ID %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}
	s.WaitLog(t, "request_id=bad-head-7", 1, 10*time.Second)
}

// otlpReceiver is an OTLP/HTTP trace endpoint: it decodes each
// ExportTraceServiceRequest and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	errs  []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
		o.errs = append(o.errs, fmt.Sprintf("%s %s %s: %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err))
		w.WriteHeader(400)
		return
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(resp)
}

func (o *otlpReceiver) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.spans)
}

func spanAttr(s *tracepb.Span, key string) (string, bool) {
	for _, a := range s.Attributes {
		if a.Key == key {
			switch v := a.Value.GetValue().(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue, true
			case *commonpb.AnyValue_IntValue:
				return fmt.Sprint(v.IntValue), true
			case *commonpb.AnyValue_DoubleValue:
				return fmt.Sprint(v.DoubleValue), true
			}
			return a.Value.String(), true
		}
	}
	return "", false
}

// TestOTLPTraces: with OTEL_EXPORTER_OTLP_ENDPOINT set, each request is one
// server span, exported to an OTLP/HTTP receiver; a trusted peer's
// traceparent is continued and passed to the app as HTTP_TRACEPARENT.
func TestOTLPTraces(t *testing.T) {
	t.Parallel()
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv) // listens on 127.0.0.1
	defer srv.Close()
	s := StartServerEnv(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + srv.URL, "OTEL_BSP_SCHEDULE_DELAY=50"}, probe)

	for i := 0; i < 4; i++ {
		if resp, _ := get(t, s, "GET", fmt.Sprintf("/?n=%d", i), nil); resp.StatusCode != 200 {
			t.Fatalf("GET /: %d", resp.StatusCode)
		}
	}
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp, body := get(t, s, "GET", "/env", nil, "traceparent", "00-"+traceID+"-"+parentID+"-01")
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	tp, _ := env["HTTP_TRACEPARENT"].(string)
	const sent = 5

	if !waitFor(30*time.Second, func() bool { return recv.count() >= sent }) {
		t.Fatalf("the receiver got %d spans, want %d (errors %v)\n%s", recv.count(), sent, recv.errs, s.Stderr)
	}
	if code := s.Stop(); code != 0 { // flushes anything still buffered
		t.Errorf("exit code %d", code)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.spans) != sent || len(recv.errs) > 0 {
		t.Fatalf("%d spans (errors %v), want exactly one per request: %d", len(recv.spans), recv.errs, sent)
	}
	var continued *tracepb.Span
	for _, sp := range recv.spans {
		if sp.Kind != tracepb.Span_SPAN_KIND_SERVER || sp.Name != "GET" {
			t.Errorf("span %q kind %v, want a GET server span", sp.Name, sp.Kind)
		}
		for _, k := range []string{"gowsgi.queue_wait_seconds", "gowsgi.worker_seconds", "gowsgi.request_id"} {
			if _, ok := spanAttr(sp, k); !ok {
				t.Errorf("span lacks %s: %v", k, sp.Attributes)
			}
		}
		if code, _ := spanAttr(sp, "http.response.status_code"); code != "200" {
			t.Errorf("status code attribute %q", code)
		}
		if fmt.Sprintf("%x", sp.TraceId) == traceID {
			continued = sp
		}
	}
	if continued == nil {
		t.Fatal("no span continued the trusted peer's trace")
	}
	if fmt.Sprintf("%x", continued.ParentSpanId) != parentID {
		t.Errorf("continued span's parent %x, want %s", continued.ParentSpanId, parentID)
	}
	if want := fmt.Sprintf("00-%s-%x-01", traceID, continued.SpanId); tp != want {
		t.Errorf("HTTP_TRACEPARENT %q, want %q (the server span, so the app's spans join the trace)", tp, want)
	}
	if id, _ := spanAttr(continued, "gowsgi.request_id"); id != resp.Header.Get("X-Request-ID") {
		t.Errorf("span request ID %q, response X-Request-ID %q", id, resp.Header.Get("X-Request-ID"))
	}
}

// TestWorkerRestartReasons: a worker recycled by --max-requests and one
// replaced after --timeout are counted under their reasons.
func TestWorkerRestartReasons(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, _ := StartProbe(t, "--metrics-bind", maddr, "--max-requests", "3", "--timeout", "1")
	restarts := func(reason string) float64 {
		v, _ := metricValue(scrapeMetrics(t, maddr), "gowsgi_worker_restarts_total", "reason", reason)
		return v
	}
	for i := 0; i < 3; i++ {
		if resp, _ := get(t, s, "GET", "/", nil); resp.StatusCode != 200 {
			t.Fatalf("GET /: %d", resp.StatusCode)
		}
	}
	if !waitFor(30*time.Second, func() bool { return restarts("recycle") == 1 }) {
		t.Fatalf("restarts{reason=recycle} = %v after --max-requests 3, want 1\n%s", restarts("recycle"), s.Stderr)
	}
	if resp, _ := get(t, s, "GET", "/sleep?s=30", nil); resp.StatusCode != 504 {
		t.Fatalf("a request past --timeout: %d, want 504", resp.StatusCode)
	}
	if !waitFor(30*time.Second, func() bool { return restarts("timeout") == 1 }) {
		t.Fatalf("restarts{reason=timeout} = %v, want 1\n%s", restarts("timeout"), s.Stderr)
	}
	if c := restarts("crash"); c != 0 {
		t.Errorf("restarts{reason=crash} = %v, want 0", c)
	}
}

// --request-id pass keeps a trusted peer's ID and makes none up; off leaves
// the header to the application.
func TestRequestIDModes(t *testing.T) {
	t.Parallel()
	pass, _ := StartProbe(t, "--request-id", "pass")
	resp, body := get(t, pass, "GET", "/env", nil)
	if id := resp.Header.Get("X-Request-ID"); id != "" || strings.Contains(body, "HTTP_X_REQUEST_ID") || strings.Contains(body, "gowsgi.request_id") {
		t.Errorf("pass made up an ID: %q", id)
	}
	resp, body = get(t, pass, "GET", "/env", nil, "X-Request-ID", "from-proxy-7")
	if id := resp.Header.Get("X-Request-ID"); id != "from-proxy-7" || !strings.Contains(body, `"HTTP_X_REQUEST_ID": "from-proxy-7"`) ||
		!strings.Contains(body, `"gowsgi.request_id": "from-proxy-7"`) {
		t.Errorf("pass: response %q, environ %s", id, body)
	}
	off, _ := StartProbe(t, "--request-id", "off")
	resp, _ = get(t, off, "GET", "/env", nil)
	if id := resp.Header.Get("X-Request-ID"); id != "" {
		t.Errorf("off generated %q", id)
	}
	code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--request-id", "maybe")
	if code != 2 || !strings.Contains(stderr, "expected generate, pass or off") {
		t.Errorf("bad --request-id: %d %s", code, stderr)
	}
}
