package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pidOf asks the probe which worker process served the request.
func pidOf(t *testing.T, s *Server) int {
	t.Helper()
	return int(envOf(t, s, "/env")["_pid"].(float64))
}

// fetch is get without failing the test on transport errors.
func fetch(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// loadResult counts the outcome of each request of a load run: the HTTP
// status, 0 for a transport error before any response, -1 for a response
// cut short, -2 for a request that hung until the client gave up.
type loadResult struct {
	mu     sync.Mutex
	status map[int]int
	errs   []string
}

// runLoad runs n clients in a loop until stop is closed.
func runLoad(s *Server, n int, path func() string, stop <-chan struct{}, perRequest time.Duration) *loadResult {
	r := &loadResult{status: map[int]int{}}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: perRequest}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := fetch(c, s.URL(path()))
				switch {
				case err != nil && strings.Contains(err.Error(), "Client.Timeout"):
					code = -2 // hung
				case err != nil && code != 0:
					code = -1 // response started, then the connection was cut
				}
				r.mu.Lock()
				r.status[code]++
				if err != nil && len(r.errs) < 10 {
					r.errs = append(r.errs, err.Error())
				}
				r.mu.Unlock()
			}
		}()
	}
	go func() { <-stop; wg.Wait(); close(doneOf(r)) }()
	return r
}

var loadDone sync.Map

func doneOf(r *loadResult) chan struct{} {
	ch, _ := loadDone.LoadOrStore(r, make(chan struct{}))
	return ch.(chan struct{})
}

func (r *loadResult) wait() { <-doneOf(r) }

// count is how many requests have ended so far.
func (r *loadResult) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total()
}

// snapshot copies the status counts so far.
func (r *loadResult) snapshot() map[int]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[int]int{}
	for k, v := range r.status {
		m[k] = v
	}
	return m
}

func (r *loadResult) total() int {
	n := 0
	for _, c := range r.status {
		n += c
	}
	return n
}

func TestCrashSignalAndReplacement(t *testing.T) {
	s := StartServer(t, probe, "-w", "1")
	before := pidOf(t, s)
	resp, _ := get(t, s, "GET", "/crash?sig=SEGV", nil)
	if resp.StatusCode != 502 {
		t.Fatalf("segfault: %d, want 502", resp.StatusCode)
	}
	if !waitFor(10*time.Second, func() bool {
		code, _, _ := fetch(client(), s.URL("/"))
		return code == 200
	}) {
		t.Fatal("no replacement after a segfault")
	}
	if pidOf(t, s) == before {
		t.Fatal("same worker after segfault")
	}
	if !strings.Contains(s.Stderr.String(), "signal: segmentation fault") {
		t.Errorf("signal not logged:\n%s", s.Stderr)
	}
}

// A deploy that breaks the import: replacements back off, and with no worker
// left serving gowsgi exits 3 (gunicorn's WORKER_BOOT_ERROR) with the
// traceback instead of spinning.
func TestBootFailureGivesUp(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "flaky.py")
	os.WriteFile(app, []byte("import os\ndef app(e, sr):\n    os._exit(1)\n"), 0o644)
	s := StartServer(t, app, "-w", "1")
	os.WriteFile(app, []byte("raise ImportError('deploy broke the import')\n"), 0o644)
	fetch(client(), s.URL("/")) // kills the only worker
	code := s.Wait(30 * time.Second)
	if code != 3 {
		t.Fatalf("exit code %d, want 3\n%s", code, s.Stderr)
	}
	if !strings.Contains(s.Stderr.String(), "workers keep failing to boot") || !strings.Contains(s.Stderr.String(), "ImportError: deploy broke the import") {
		t.Fatalf("no traceback on giving up:\n%s", s.Stderr)
	}
	if n := strings.Count(s.Stderr.String(), "worker failed to boot; retrying"); n < 2 || n > 10 {
		t.Errorf("%d retries; want a few with backoff", n)
	}
}

func TestRequestTimeout(t *testing.T) {
	s, st := StartProbe(t, "-w", "1", "--threads", "2", "--timeout", "1")
	before := pidOf(t, s)
	type res struct{ code int }
	stuck := make(chan res, 1)
	go func() {
		code, _, _ := fetch(client(), s.URL("/sleep?s=60&mark=stuck"))
		stuck <- res{code}
	}()
	// The other slot keeps serving while one is stuck.
	st.WaitEntered("stuck")
	if code, body, _ := fetch(client(), s.URL("/")); code != 200 || body != "hello from probe\n" {
		t.Fatalf("other slot: %d %q", code, body)
	}
	select {
	case r := <-stuck:
		if r.code != 504 {
			t.Fatalf("stuck request: %d, want 504", r.code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stuck request never answered")
	}
	// The stacks come from the worker (its main thread), after gowsgi's line.
	for _, w := range []string{"request timed out", "GET /sleep?s=60", "most recent call first", "in sleep_route"} {
		if !waitFor(10*time.Second, func() bool { return strings.Contains(s.Stderr.String(), w) }) {
			t.Errorf("stderr lacks %q:\n%s", w, s.Stderr)
		}
	}
	if !waitFor(10*time.Second, func() bool {
		code, _, _ := fetch(client(), s.URL("/"))
		return code == 200
	}) || pidOf(t, s) == before {
		t.Fatal("timed-out worker not replaced")
	}
}

func TestMaxRequestsRecyclesWithoutLoss(t *testing.T) {
	s := StartServer(t, probe, "-w", "2", "--threads", "2", "--max-requests", "20", "--max-requests-jitter", "5")
	pids := map[int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed, total atomic.Int32
	deadline := time.Now().Add(20 * time.Second)
	enough := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(pids) >= 4 || time.Now().After(deadline)
	}
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client()
			for !enough() {
				total.Add(1)
				code, body, err := fetch(c, s.URL("/env"))
				if code != 200 || err != nil {
					failed.Add(1)
					continue
				}
				var env map[string]any
				json.Unmarshal([]byte(body), &env)
				mu.Lock()
				pids[int(env["_pid"].(float64))] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across recycling\n%s", failed.Load(), total.Load(), s.Stderr)
	}
	if len(pids) < 4 {
		t.Fatalf("only %d worker pids served %d requests with --max-requests 20", len(pids), total.Load())
	}
	if !strings.Contains(s.Stderr.String(), "--max-requests") {
		t.Errorf("recycling not logged")
	}
}

func TestMaxMemoryRecycles(t *testing.T) {
	s := StartServer(t, probe, "-w", "1", "--max-memory", "100")
	before := pidOf(t, s)
	if code, _, _ := fetch(client(), s.URL("/hog?mb=120")); code != 200 {
		t.Fatalf("hog: %d", code)
	}
	if !waitFor(20*time.Second, func() bool {
		code, body, _ := fetch(client(), s.URL("/env"))
		return code == 200 && !strings.Contains(body, fmt.Sprintf(`"_pid": %d,`, before))
	}) {
		t.Fatalf("worker over --max-memory not replaced\n%s", s.Stderr)
	}
	if !strings.Contains(s.Stderr.String(), "over --max-memory") {
		t.Errorf("reason not logged")
	}
}

func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "versioned.py")
	write := func(v string) {
		os.WriteFile(app, []byte(fmt.Sprintf("import time\nVERSION = %q\ndef app(e, sr):\n    time.sleep(0.002)\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    return [VERSION.encode()]\n", v)), 0o644)
	}
	write("v0")
	s := StartServer(t, app, "-w", "2", "--threads", "4")
	stop := make(chan struct{})
	r := runLoad(s, 16, func() string { return "/" }, stop, 20*time.Second)
	for i := 1; i <= 5; i++ {
		write(fmt.Sprintf("v%d", i))
		s.Signal(syscall.SIGHUP)
		want := fmt.Sprintf("v%d", i)
		if !waitFor(20*time.Second, func() bool { _, body, _ := fetch(client(), s.URL("/")); return body == want }) {
			t.Fatalf("reload %d: new code not served", i)
		}
		// The next reload starts only once this one is complete and the
		// load has run against the new generation for a while.
		s.WaitLog(t, "reload complete", i, 20*time.Second)
		from := r.count()
		if !waitFor(20*time.Second, func() bool { return r.count() >= from+30 }) {
			t.Fatalf("reload %d: the load stalled at %d requests: %v", i, r.count(), r.snapshot())
		}
	}
	// Broken code: the old generation keeps serving.
	os.WriteFile(app, []byte("def broken(:\n"), 0o644)
	s.Signal(syscall.SIGHUP)
	if !waitFor(20*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "reload failed") }) {
		t.Fatalf("failed reload not reported\n%s", s.Stderr)
	}
	close(stop)
	r.wait()
	if r.status[200] != r.total() || r.total() < 100 {
		t.Fatalf("across 5 reloads: %v (errors %v)", r.status, r.errs)
	}
	if _, body, _ := fetch(client(), s.URL("/")); body != "v5" {
		t.Fatalf("after a broken reload: %q, want v5", body)
	}
	if !strings.Contains(s.Stderr.String(), "SyntaxError") {
		t.Errorf("traceback of the broken reload not shown")
	}
}

func TestScaleWithSignals(t *testing.T) {
	s := StartServer(t, probe, "-w", "1", "--threads", "1")
	// gowsgi's handlers are in place once it logs "listening" (StartServer
	// waits for it); before that, SIGTTIN's default action stops the process.
	s.WaitLog(t, "msg=listening", 1, 10*time.Second)
	s.Signal(syscall.SIGTTIN)
	if !waitFor(20*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "added a worker") }) {
		t.Fatal("SIGTTIN did not add a worker")
	}
	pids := map[int]bool{}
	for i := 0; i < 40 && len(pids) < 2; i++ {
		pids[pidOf(t, s)] = true
	}
	if len(pids) != 2 {
		t.Fatalf("after SIGTTIN requests reached %d workers", len(pids))
	}
	s.Signal(syscall.SIGTTOU)
	if !waitFor(20*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "worker retired") }) {
		t.Fatal("SIGTTOU did not retire a worker")
	}
	pids = map[int]bool{}
	for i := 0; i < 20; i++ {
		pids[pidOf(t, s)] = true
	}
	if len(pids) != 1 {
		t.Fatalf("after SIGTTOU requests reached %d workers", len(pids))
	}
	s.Signal(syscall.SIGTTOU)
	if !waitFor(10*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "already at one worker") }) {
		t.Fatal("removing the last worker was not refused")
	}
}

// Requests accepted before SIGTERM, in flight or queued, all get their
// answer before gowsgi exits. No pipelining, so that both wait in the
// queue (see TestCancelHTTP1Queued).
func TestShutdownFinishesQueued(t *testing.T) {
	s, st := StartProbe(t, "-w", "1", "--threads", "1", "--pipeline-depth", "1", "--log-level", "debug")
	first := sendAsync(t, s.Addr, "GET", "/block?name=first")
	st.WaitEntered("first")
	base := s.LogCount(`msg="request queued"`)
	queued := []*pending{sendAsync(t, s.Addr, "GET", "/"), sendAsync(t, s.Addr, "GET", "/sleep?s=0.01")}
	s.waitQueued(t, base, 2, queued...)
	s.Signal(syscall.SIGTERM)
	s.WaitLog(t, "shutting down", 1, 10*time.Second)
	st.Release("first")
	for i, p := range append([]*pending{first}, queued...) {
		if r := p.wait(20 * time.Second); r.status != 200 {
			t.Fatalf("request %d, accepted before SIGTERM: %d %v", i, r.status, r.err)
		}
	}
	if code := s.Wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// The first SIGINT lets in-flight requests finish; the second stops gowsgi
// at once, without waiting for the rest.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	s, st := StartProbe(t, "-w", "1", "--threads", "2", "--graceful-timeout", "60")
	a := sendAsync(t, s.Addr, "GET", "/block?name=a")
	b := sendAsync(t, s.Addr, "GET", "/block?name=b")
	st.WaitEntered("a")
	st.WaitEntered("b")
	s.Signal(syscall.SIGINT)
	s.WaitLog(t, "shutting down", 1, 10*time.Second)
	// Still serving after the first signal: a finishes...
	st.Release("a")
	if r := a.wait(20 * time.Second); r.status != 200 || r.body != "released a" {
		t.Fatalf("in-flight request after the first SIGINT: %d %q %v", r.status, r.body, r.err)
	}
	// ...and, b being still in flight, gowsgi has not exited.
	if code := s.Wait(0); code != -1 {
		t.Fatalf("exited (%d) with a request in flight", code)
	}
	s.Signal(syscall.SIGINT)
	if code := s.Wait(10 * time.Second); code == -1 {
		t.Fatal("second SIGINT did not stop gowsgi")
	}
	if r := b.wait(10 * time.Second); r.status == 200 {
		t.Fatalf("the request still held got %d after the second SIGINT", r.status)
	}
}

// Overload: past --max-queue a request is refused at once, and one queued
// past --queue-timeout gets 503 too; both with Retry-After, both logged.
func TestOverload(t *testing.T) {
	t.Run("queue full", func(t *testing.T) {
		s, st := StartProbe(t, "-w", "1", "--threads", "1", "--max-queue", "1", "--queue-timeout", "60")
		held := sendAsync(t, s.Addr, "GET", "/block?name=held")
		st.WaitEntered("held")
		// Two more: whichever arrives first takes the one queue place, the
		// other is refused at once.
		b, c := sendAsync(t, s.Addr, "GET", "/"), sendAsync(t, s.Addr, "GET", "/")
		var refused, waiting *pending
		if !waitFor(20*time.Second, func() bool { return b.answered() || c.answered() }) {
			t.Fatal("neither request was refused with the queue full")
		}
		refused, waiting = b, c
		if c.answered() {
			refused, waiting = c, b
		}
		r := refused.wait(0)
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Fatalf("queue full: %d Retry-After=%q %v", r.status, r.header.Get("Retry-After"), r.err)
		}
		if waiting.answered() {
			t.Fatalf("both refused with one queue place: %+v", waiting.wait(0))
		}
		st.Release("held")
		for _, p := range []*pending{held, waiting} {
			if r := p.wait(20 * time.Second); r.status != 200 {
				t.Fatalf("after the slot freed: %d %v", r.status, r.err)
			}
		}
		s.WaitLog(t, "queue is full", 1, 10*time.Second)
	})
	t.Run("queue timeout", func(t *testing.T) {
		s, st := StartProbe(t, "-w", "1", "--threads", "1", "--max-queue", "1", "--queue-timeout", "0.5")
		sendAsync(t, s.Addr, "GET", "/block?name=held")
		st.WaitEntered("held")
		r := sendAsync(t, s.Addr, "GET", "/").wait(20 * time.Second)
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Fatalf("queued past --queue-timeout: %d Retry-After=%q %v", r.status, r.header.Get("Retry-After"), r.err)
		}
		s.WaitLog(t, "timed out waiting for a free worker", 1, 10*time.Second)
	})
}

func TestDevReload(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "devapp.py")
	helper := filepath.Join(dir, "helper.py")
	os.WriteFile(helper, []byte("MSG = 'one'\n"), 0o644)
	os.WriteFile(app, []byte("import helper\ndef app(e, sr):\n    sr('200 OK', [])\n    return [helper.MSG.encode()]\n"), 0o644)
	s := StartServer(t, app, "-w", "1", "--reload")
	if _, body, _ := fetch(client(), s.URL("/")); body != "one" {
		t.Fatalf("initial: %q", body)
	}
	os.WriteFile(helper, []byte("MSG = 'two'\n"), 0o644)
	if !waitFor(20*time.Second, func() bool { _, body, _ := fetch(client(), s.URL("/")); return body == "two" }) {
		t.Fatalf("change to an imported module not picked up\n%s", s.Stderr)
	}
	if !strings.Contains(s.Stderr.String(), "helper.py changed; reloading") {
		t.Errorf("changed file not named:\n%s", s.Stderr)
	}
	os.WriteFile(helper, []byte("MSG = 'three\n"), 0o644) // syntax error
	if !waitFor(20*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "SyntaxError") }) {
		t.Fatalf("syntax error not shown\n%s", s.Stderr)
	}
	if _, body, _ := fetch(client(), s.URL("/")); body != "two" {
		t.Fatalf("after a syntax error: %q, want the old code still serving", body)
	}
	os.WriteFile(helper, []byte("MSG = 'four'\n"), 0o644)
	if !waitFor(20*time.Second, func() bool { _, body, _ := fetch(client(), s.URL("/")); return body == "four" }) {
		t.Fatalf("fix after a syntax error not picked up\n%s", s.Stderr)
	}
}

// Chaos: under steady load, workers are killed, hung past the timeout and
// recycled. Every request must end, with 200, 502, 503 or 504, and the
// server must be healthy afterwards.
//
// The run is random: its seed is logged, and GOWSGI_CHAOS_SEED=N replays the
// same choices (the timing of the server's reactions still varies).
func TestChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("GOWSGI_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GOWSGI_CHAOS_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("chaos seed %d (rerun with GOWSGI_CHAOS_SEED=%d)", seed, seed)
	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	intn := func(n int) int {
		rmu.Lock()
		defer rmu.Unlock()
		return rng.IntN(n)
	}
	s := StartServer(t, probe, "-w", "2", "--threads", "4", "--timeout", "1", "--max-requests", "40", "--queue-timeout", "5")
	stop := make(chan struct{})
	r := runLoad(s, 8, func() string {
		switch n := intn(100); {
		case n < 3:
			return "/crash"
		case n < 5:
			return "/sleep?s=30"
		case n < 10:
			return "/stream?n=20"
		default:
			return "/env"
		}
	}, stop, 15*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		// And from outside: SIGKILL a live worker now and then.
		if code, body, _ := fetch(client(), s.URL("/env")); code == 200 {
			var env map[string]any
			if json.Unmarshal([]byte(body), &env) == nil {
				syscall.Kill(int(env["_pid"].(float64)), syscall.SIGKILL)
			}
		}
		// Pacing, not ordering: the kills are spread over the run at random
		// intervals; nothing below depends on when they happen.
		time.Sleep(time.Duration(500+intn(1000)) * time.Millisecond)
	}
	close(stop)
	r.wait()
	for code, n := range r.status {
		switch code {
		case 200, 502, 503, 504:
		case -1:
			// A worker killed mid-stream: the client saw the connection
			// close on a partial response, which is all it can see.
		default:
			t.Errorf("%d requests ended with %d (errors: %v)", n, code, r.errs)
		}
	}
	if r.status[200] < 50 {
		t.Errorf("only %d successful requests: %v", r.status[200], r.status)
	}
	if !waitFor(15*time.Second, func() bool {
		code, body, _ := fetch(client(), s.URL("/"))
		return code == 200 && body == "hello from probe\n"
	}) {
		t.Fatal("server unhealthy after chaos")
	}
	t.Logf("chaos: %v", r.status)
}

// A request that waits for a busy worker is never queued behind a slow
// request: it goes to whichever thread frees first.
func TestNoPipeliningBehindSlowRequests(t *testing.T) {
	s, st := StartProbe(t, "-w", "1", "--threads", "2", "--pipeline-depth", "32", "--log-level", "debug")
	// Teach both slots that this app is slow: two requests at once, one on
	// each thread, each held until both are running.
	teach := []*pending{sendAsync(t, s.Addr, "GET", "/block?name=teach1"), sendAsync(t, s.Addr, "GET", "/block?name=teach2")}
	st.WaitEntered("teach1")
	st.WaitEntered("teach2")
	st.Release("teach1")
	st.Release("teach2")
	for _, p := range teach {
		if r := p.wait(20 * time.Second); r.status != 200 {
			t.Fatalf("teaching request: %d %v", r.status, r.err)
		}
	}
	// Both threads busy: slow stays held to the end, medium is released once
	// the fast requests wait.
	slow := sendAsync(t, s.Addr, "GET", "/block?name=slow")
	medium := sendAsync(t, s.Addr, "GET", "/block?name=medium")
	st.WaitEntered("slow")
	st.WaitEntered("medium")
	base := s.LogCount(`msg="request queued"`)
	var fast []*pending
	for i := 0; i < 6; i++ {
		fast = append(fast, sendAsync(t, s.Addr, "GET", "/"))
	}
	s.waitQueued(t, base, len(fast), fast...)
	st.Release("medium")
	if r := medium.wait(20 * time.Second); r.status != 200 {
		t.Fatalf("medium: %d %v", r.status, r.err)
	}
	for i, p := range fast {
		if r := p.wait(15 * time.Second); r.status != 200 {
			t.Fatalf("fast request %d, queued while both threads were busy, did not finish while the slow one was held: %d %v", i, r.status, r.err)
		}
	}
	if slow.answered() {
		t.Fatalf("slow request answered before its release: %+v", slow.wait(0))
	}
	st.Release("slow")
	if r := slow.wait(20 * time.Second); r.status != 200 {
		t.Fatalf("slow: %d %v", r.status, r.err)
	}
}
