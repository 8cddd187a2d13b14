package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const busyApp = "tests/testdata/apps/busy.py"

// mainThreadDump heads the stacks a worker's main thread writes
// (wire.py's dump_stacks); faulthandler's have no such line.
const mainThreadDump = "] Python stacks of its threads:"

// --timeout dumps the stacks of a worker whose other threads keep running
// Python: the dump must not crash it (faulthandler walking the frames of
// running threads without the GIL did), so the siblings' requests all get
// their 200 and the stuck thread's stack is in the log. Several rounds,
// since a crash during a dump is a matter of luck. With --preload the
// workers are forked from a template, and set up for the dump there.
func TestStackDumpBusyWorker(t *testing.T) {
	t.Parallel()
	t.Run("exec", func(t *testing.T) { testStackDumpBusyWorker(t) })
	t.Run("preload", func(t *testing.T) { testStackDumpBusyWorker(t, "--preload") })
}

func testStackDumpBusyWorker(t *testing.T, flags ...string) {
	st := newProbeState(t)
	s := StartServerEnv(t, st.Env(), append([]string{busyApp, "-w", "1", "--threads", "4", "--timeout", "1"}, flags...)...)
	t.Cleanup(func() { os.WriteFile(st.Path("ALL.release"), nil, 0o644) })
	h := startHammer(s, 3, "/spin?ms=20")
	ended := false
	defer func() {
		if !ended {
			h.end()
		}
	}()
	const rounds = 3
	for i := 1; i <= rounds; i++ {
		h.advance(t, 3)
		name := fmt.Sprintf("stuck%d", i)
		stuck := sendAsync(t, s.Addr, "GET", "/stuck?name="+name)
		st.WaitEntered(name)
		if r := stuck.wait(30 * time.Second); r.status != 504 {
			t.Fatalf("round %d: stuck request: %d %v, want 504", i, r.status, r.err)
		}
		// The replacement serves; the timed-out worker was killed after
		// its dump, while its siblings were busy.
		s.WaitLog(t, "worker ready", i+1, 30*time.Second)
		h.advance(t, 3)
	}
	status, errs := h.end()
	ended = true
	if len(errs) > 0 || status[200] == 0 {
		t.Errorf("the busy threads' requests across %d dumps: %v, failures %v", rounds, status, errs)
	}
	log := s.Stderr.String()
	if strings.Contains(log, "worker died") {
		t.Errorf("a worker died during a stack dump:\n%s", log)
	}
	// The worker's main thread wrote each dump, not faulthandler.
	if n := strings.Count(log, mainThreadDump); n != rounds {
		t.Errorf("%d dumps by the main thread, want %d:\n%s", n, rounds, log)
	}
	// A sibling's stack shows spin_route; whether its top frame is churn
	// or spin_route's own loop depends on where that thread let go of the
	// GIL, which is chance (all of them were at the loop once, under load).
	for _, w := range []string{"request timed out", "most recent call first", "in stuck_in_python", "in spin_route"} {
		if !strings.Contains(log, w) {
			t.Errorf("the dump lacks %q:\n%s", w, log)
		}
	}
}

// A thread stuck in one C call that holds the GIL keeps the main thread
// from writing the stacks; faulthandler writes them instead.
func TestStackDumpGILHeldInC(t *testing.T) {
	t.Parallel()
	st := newProbeState(t)
	s := StartServerEnv(t, st.Env(), busyApp, "-w", "1", "--threads", "2", "--timeout", "1")
	stuck := sendAsync(t, s.Addr, "GET", "/stuck?name=c&c=1")
	st.WaitEntered("c")
	if r := stuck.wait(30 * time.Second); r.status != 504 {
		t.Fatalf("stuck request: %d %v, want 504", r.status, r.err)
	}
	s.WaitLog(t, "worker ready", 2, 30*time.Second)
	for _, w := range []string{"request timed out", "most recent call first", "in stuck_in_c", "in stuck_route"} {
		s.WaitLog(t, w, 1, 10*time.Second)
	}
	if strings.Contains(s.Stderr.String(), mainThreadDump) {
		t.Errorf("the main thread wrote the stacks while another held the GIL?\n%s", s.Stderr)
	}
	if code, body, err := fetch(client(), s.URL("/spin?ms=1")); code != 200 || !strings.HasPrefix(body, "spun") {
		t.Fatalf("after the replacement: %d %q %v", code, body, err)
	}
}
