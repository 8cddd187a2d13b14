package tests

// Long-lived ASGI requests (SSE, long polls) and the graceful stops of
// their worker: SIGTERM and HUP reload end them after --graceful-timeout
// ("going away"), then the lifespan shutdown runs, within a bound.

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// goAwayBound is what a stop may take past --graceful-timeout: the apps'
// cancellation and the lifespan shutdown (asgi.py bounds them to well
// under the supervisor's 10 s kill bound).
const goAwayBound = 8 * time.Second

// TestASGISigtermEndsLongLivedRequests: with a stream and an unanswered
// long poll open, SIGTERM waits --graceful-timeout, then each app's
// receive() says http.disconnect and its task is cancelled, then the
// lifespan shutdown runs and gowsgi exits 0, all within the graceful
// timeout plus a bound (before, it waited out the timeout and killed the
// worker, so the lifespan shutdown never ran).
func TestASGISigtermEndsLongLivedRequests(t *testing.T) {
	t.Parallel()
	s, p := startASGI(t, nil, asgiRaw, "--graceful-timeout", "2")
	stream := sendAsync(t, s.Addr, "GET", "/longpoll?name=l1&start=1")
	poll := sendAsync(t, s.Addr, "GET", "/longpoll?name=l2")
	p.WaitEntered("l1")
	p.WaitEntered("l2")
	start := time.Now()
	s.Signal(syscall.SIGTERM)
	code := s.Wait(2*time.Second + goAwayBound)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("SIGTERM with long-lived requests open: exit %d after %s (want 0 within %s)\n%s",
			code, took.Round(time.Millisecond), 2*time.Second+goAwayBound, s.Stderr)
	}
	for _, f := range []string{"l1.http.disconnect", "l1.cancelled", "l2.http.disconnect", "l2.cancelled", "shutdown"} {
		if !p.Exists(f) {
			t.Errorf("%s did not happen before the exit\n%s", f, s.Stderr)
		}
	}
	// The clients are not left hanging.
	for _, r := range []*pending{stream, poll} {
		if res := r.wait(5 * time.Second); res.err != nil && strings.HasPrefix(res.err.Error(), "no response within") {
			t.Errorf("a client still waits after the exit")
		}
	}
}

// TestASGIReloadEndsLongLivedRequests: a HUP reload retires the old worker;
// after --graceful-timeout its open stream ends, an unanswered long poll
// gets 503, both apps saw http.disconnect and CancelledError, and the old
// worker ran its lifespan shutdown. Before, it served them forever.
func TestASGIReloadEndsLongLivedRequests(t *testing.T) {
	t.Parallel()
	s, p := startASGI(t, nil, asgiRaw, "--graceful-timeout", "2")
	stream := sendAsync(t, s.Addr, "GET", "/longpoll?name=r1&start=1")
	poll := sendAsync(t, s.Addr, "GET", "/longpoll?name=r2")
	p.WaitEntered("r1")
	p.WaitEntered("r2")
	oldPID, _ := os.ReadFile(p.Path("r1.entered"))
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "reload complete", 1, 60*time.Second)
	p.WaitFile("shutdown."+string(oldPID), 60*time.Second)
	r := stream.wait(goAwayBound)
	if r.status != 200 || !strings.HasPrefix(r.body, "data: first\n\n") {
		t.Errorf("the stream got %d %q %v; want 200 and its first event, then its end", r.status, r.body, r.err)
	}
	r = poll.wait(goAwayBound)
	if r.status != 503 {
		t.Errorf("the unanswered long poll got %d %q %v; want 503", r.status, r.body, r.err)
	}
	for _, f := range []string{"r1.http.disconnect", "r1.cancelled", "r2.http.disconnect", "r2.cancelled"} {
		if !p.Exists(f) {
			t.Errorf("%s did not happen\n%s", f, s.Stderr)
		}
	}
	// The new generation serves.
	if resp, body := get(t, s, "GET", "/state", nil); resp.StatusCode != 200 || body != "hello from lifespan" {
		t.Errorf("after the reload: %d %q", resp.StatusCode, body)
	}
}

// TestASGIRequestTimeout: --request-timeout cancels only the request past
// it (CancelledError in the app): 504 when no response had started, a cut
// response when one had; the worker and its other requests carry on.
func TestASGIRequestTimeout(t *testing.T) {
	t.Parallel()
	s, p := startASGI(t, nil, asgiRaw, "--request-timeout", "1")
	unanswered := sendAsync(t, s.Addr, "GET", "/slow?name=a")
	begun := sendAsync(t, s.Addr, "GET", "/slow?name=b&start=1")
	// Another request on the same worker meanwhile is served.
	if resp, body := get(t, s, "GET", "/state", nil); resp.StatusCode != 200 || body != "hello from lifespan" {
		t.Errorf("a request beside the slow ones: %d %q", resp.StatusCode, body)
	}
	r := unanswered.wait(20 * time.Second)
	if r.status != 504 {
		t.Fatalf("past --request-timeout with no response: %d %q %v, want 504\n%s", r.status, r.body, r.err, s.Stderr)
	}
	r = begun.wait(20 * time.Second)
	if r.status != 200 || r.err == nil || r.body != "begun\n" {
		t.Errorf("past --request-timeout mid-response: %d %q %v, want 200 \"begun\\n\" and a cut body", r.status, r.body, r.err)
	}
	p.WaitFile("a.cancelled", 10*time.Second)
	p.WaitFile("b.cancelled", 10*time.Second)
	pid, _ := os.ReadFile(p.Path("a.cancelled"))
	if _, body := get(t, s, "GET", "/pid", nil); body != string(pid) {
		t.Errorf("the worker changed (%s, then %s): only the request should have been cancelled", pid, body)
	}
	if !strings.Contains(s.Stderr.String(), "request cancelled after --request-timeout") {
		t.Errorf("no log line for the cancelled request:\n%s", s.Stderr)
	}
}

// TestASGIMetrics: /metrics has each worker's requests in flight (two held
// on one ASGI worker show as 2) and the event loop's lag histogram, fed by
// the heartbeats.
func TestASGIMetrics(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, p := startASGI(t, nil, asgiRaw, "--metrics-bind", maddr, "--timeout", "2")
	h1 := sendAsync(t, s.Addr, "GET", "/hold?name=m1")
	h2 := sendAsync(t, s.Addr, "GET", "/hold?name=m2")
	p.WaitEntered("m1")
	p.WaitEntered("m2")
	if v, n := metricValue(scrapeMetrics(t, maddr), "gowsgi_worker_requests_in_flight", "worker", "1"); n != 1 || v != 2 {
		t.Errorf("gowsgi_worker_requests_in_flight{worker=\"1\"} = %v (%d series), want 2", v, n)
	}
	p.Release("m1")
	p.Release("m2")
	for _, h := range []*pending{h1, h2} {
		if r := h.wait(20 * time.Second); r.status != 200 {
			t.Fatalf("held request: %d %v", r.status, r.err)
		}
	}
	// Heartbeats come every 0.5 s with --timeout 2: wait for two.
	if !waitFor(20*time.Second, func() bool {
		v, _ := metricValue(scrapeMetrics(t, maddr), "gowsgi_asgi_event_loop_lag_seconds")
		return v >= 2
	}) {
		t.Errorf("gowsgi_asgi_event_loop_lag_seconds has no samples:\n%v", scrapeMetrics(t, maddr)["gowsgi_asgi_event_loop_lag_seconds"])
	}
	if !waitFor(10*time.Second, func() bool {
		v, n := metricValue(scrapeMetrics(t, maddr), "gowsgi_worker_requests_in_flight", "worker", "1")
		return n == 1 && v == 0
	}) {
		t.Errorf("requests still in flight after both ended:\n%v", scrapeMetrics(t, maddr)["gowsgi_worker_requests_in_flight"])
	}
}

// TestASGIAccessLogAtoms: every access-log atom has its value for an ASGI
// request, a streamed response's bytes included.
func TestASGIAccessLogAtoms(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "access.log")
	format := `%(h)s|%(l)s|%(u)s|%(r)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(f)s|%(a)s|` +
		`%({x-trace-note}i)s|%({X-Missing}i)s|%({x-custom}o)s|%({path_info}e)s|%({HTTP_X_TRACE_NOTE}e)s|` +
		`%(p)s|%(T)s|%(D)s|%(M)s|%(L)s|%(t)s|%({x-request-id}o)s`
	s, _ := startASGI(t, nil, asgiRaw, "--access-logfile", logFile, "--access-logformat", format)
	resp, body := get(t, s, "GET", "/headers?a=1", nil, "X-Trace-Note", "n1", "Referer", "http://ref.example/",
		"User-Agent", "ua", "Authorization", "Basic Ym9iOnNlY3JldA==")
	if resp.StatusCode != 201 || body != "created" {
		t.Fatalf("GET /headers: %d %q", resp.StatusCode, body)
	}
	line := strings.TrimSuffix(fileHas(t, logFile, "\n"), "\n")
	f := strings.Split(line, "|")
	if len(f) != 25 {
		t.Fatalf("%d fields in %q", len(f), line)
	}
	want := map[int]string{0: "127.0.0.1", 1: "-", 2: "bob", 3: "GET /headers?a=1 HTTP/1.1", 4: "GET", 5: "/headers",
		6: "a=1", 7: "HTTP/1.1", 8: "201", 9: "7", 10: "7", 11: "http://ref.example/", 12: "ua",
		13: "n1", 14: "-", 15: "yes", 16: "/headers", 17: "n1", 18: fmt.Sprintf("<%d>", s.Cmd.Process.Pid),
		19: "0", 24: resp.Header.Get("X-Request-ID")}
	for i, w := range want {
		if f[i] != w {
			t.Errorf("field %d = %q, want %q (line %q)", i, f[i], w, line)
		}
	}
	for i, re := range map[int]string{20: `^\d+$`, 21: `^\d+$`, 22: `^\d+\.\d{6}$`, 23: `^\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]$`, 24: `^[0-9a-f]{32}$`} {
		if !regexp.MustCompile(re).MatchString(f[i]) {
			t.Errorf("field %d = %q, want %s", i, f[i], re)
		}
	}
}

// TestASGIRequestIDAndSpans: an ASGI request has the request ID gowsgi
// answers with (scope["gowsgi.request_id"], as WSGI's environ has it),
// one OTel server span, and the span's traceparent in its scope headers,
// so the app's own spans join the trace.
func TestASGIRequestIDAndSpans(t *testing.T) {
	t.Parallel()
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	s, _ := startASGI(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + srv.URL, "OTEL_BSP_SCHEDULE_DELAY=50"}, asgiRaw)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp, body := get(t, s, "GET", "/scope", nil, "traceparent", "00-"+traceID+"-"+parentID+"-01")
	var scope struct {
		Headers   [][2]string `json:"headers"`
		RequestID string      `json:"gowsgi.request_id"`
	}
	if err := json.Unmarshal([]byte(body), &scope); err != nil {
		t.Fatalf("/scope: %v: %s", err, body)
	}
	id := resp.Header.Get("X-Request-ID")
	if id == "" || scope.RequestID != id {
		t.Errorf("scope gowsgi.request_id %q, response X-Request-ID %q", scope.RequestID, id)
	}
	tp := ""
	for _, h := range scope.Headers {
		if h[0] == "traceparent" {
			tp = h[1]
		}
	}
	if !waitFor(30*time.Second, func() bool { return recv.count() >= 1 }) {
		t.Fatalf("no span for the ASGI request (errors %v)\n%s", recv.errs, s.Stderr)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	sp := recv.spans[0]
	if got := fmt.Sprintf("%x", sp.TraceId); got != traceID || sp.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("span trace %s kind %v, want the peer's trace, a server span", got, sp.Kind)
	}
	if want := fmt.Sprintf("00-%s-%x-01", traceID, sp.SpanId); tp != want {
		t.Errorf("scope traceparent %q, want %q (the server span)", tp, want)
	}
	if rid, _ := spanAttr(sp, "gowsgi.request_id"); rid != id {
		t.Errorf("span request ID %q, response X-Request-ID %q", rid, id)
	}
}
