package tests

// Long-lived ASGI requests (SSE, long polls) and the graceful stops of
// their worker: SIGTERM and HUP reload end them after --graceful-timeout
// ("going away"), then the lifespan shutdown runs, within a bound.

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
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
		if res := r.wait(5 * time.Second); res.err == nil && res.status == 0 {
			t.Errorf("a client still waits after the exit")
		}
	}
}

// TestASGIReloadEndsLongLivedRequests: a HUP reload retires the old worker;
// after --graceful-timeout its open stream ends, an unanswered long poll
// gets 503, both apps saw http.disconnect and CancelledError, and the old
// worker ran its lifespan shutdown. Before, it served them forever.
func TestASGIReloadEndsLongLivedRequests(t *testing.T) {
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
