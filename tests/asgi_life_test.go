package tests

// The lifecycle of ASGI workers, checked end to end with a real framework
// app (testdata/apps/asgi_life.py: Starlette with a lifespan context
// manager) and long-lived requests alive at the moment of each event:
// what each client gets, what the app sees, the log, the exit status, and
// that no worker process is left behind.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const asgiLife = "tests/testdata/apps/asgi_life.py"

// startLife starts gowsgi on asgi_life.py with Debian's Python (Starlette)
// and a marker directory; env adds LIFE_* knobs.
func startLife(t *testing.T, env []string, args ...string) (*Server, *probeState) {
	t.Helper()
	py := debianPython(t, "starlette")
	return startASGI(t, env, append([]string{asgiLife, "--python", py}, args...)...)
}

// workerPIDs are the PIDs of the workers the log says are ready.
func workerPIDs(t *testing.T, s *Server) []int {
	t.Helper()
	var pids []int
	for _, m := range regexp.MustCompile(`msg="worker ready" worker=\d+ pid=(\d+)`).FindAllStringSubmatch(s.Stderr.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		t.Fatalf("no worker ready in the log:\n%s", s.Stderr)
	}
	return pids
}

// noOrphans fails the test unless every pid has ended within d.
func noOrphans(t *testing.T, pids []int, d time.Duration) {
	t.Helper()
	for _, pid := range pids {
		if !waitFor(d, func() bool { return processGone(pid) }) {
			t.Errorf("worker pid %d is still running %s after gowsgi exited", pid, d)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// markerPID reads a marker file that holds a worker's PID.
func markerPID(t *testing.T, p *probeState, name string) int {
	t.Helper()
	pid, err := strconv.Atoi(readFile(t, p.Path(name)))
	if err != nil {
		t.Fatalf("marker %s: %v", name, err)
	}
	return pid
}

// TestASGILifeSigtermDrain: SIGTERM with an SSE stream, an unanswered
// long poll and a WebSocket open. After --graceful-timeout (less the
// WebSockets' margin) the worker tells them the server is going away,
// while the front still holds their connections: the long poll gets 503
// (it used to get the connection closed under it with no answer), the
// stream a proper end, the WebSocket 1001 (and the app
// websocket.disconnect with 1001); the lifespan shutdown runs within the
// graceful timeout (it used to start after it), gowsgi exits 0 and no
// worker is left.
func TestASGILifeSigtermDrain(t *testing.T) {
	const graceful = 6 * time.Second
	s, p := startLife(t, nil, "--graceful-timeout", "6")
	sse := sendAsync(t, s.Addr, "GET", "/sse?name=s1")
	poll := sendAsync(t, s.Addr, "GET", "/longpoll?name=l1")
	wsc, wsOut := waitClient(t, wsURL(s, "/ws?name=w1"))
	defer wsc.Process.Kill()
	for _, n := range []string{"s1", "l1", "w1"} {
		p.WaitFile(n+".entered", 30*time.Second)
	}
	pid := markerPID(t, p, "s1.entered")
	// An upload whose body never ends holds the front until the graceful
	// timeout is over, after the worker has gone away.
	up := dialRaw(t, s.Addr)
	defer up.Close()
	fmt.Fprintf(up, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nfirst bytes")
	start := time.Now()
	s.Signal(syscall.SIGTERM)
	if code := s.Wait(graceful + goAwayBound); code != 0 {
		t.Fatalf("SIGTERM: exit %d after %s, want 0\n%s", code, time.Since(start).Round(time.Millisecond), s.Stderr)
	}
	if r := poll.wait(5 * time.Second); r.status != 503 {
		t.Errorf("the unanswered long poll got %d %q %v, want 503", r.status, r.body, r.err)
	}
	if r := sse.wait(5 * time.Second); r.status != 200 || r.err != nil || !strings.HasPrefix(r.body, "data: tick 0\n\n") {
		t.Errorf("the stream got %d %v (%d bytes), want 200 and a proper end", r.status, r.err, len(r.body))
	}
	wsc.Wait()
	if !strings.Contains(wsOut.String(), "1001") {
		t.Errorf("the WebSocket client saw %q, want a close with 1001", wsOut.String())
	}
	if code := readFile(t, p.Path("w1.ws-disconnect")); code != "1001" {
		t.Errorf("the app saw websocket.disconnect with %s, want 1001", code)
	}
	for _, f := range []string{"l1.disconnect", "l1.cancelled", "s1.cancelled"} {
		if !p.Exists(f) {
			t.Errorf("%s did not happen", f)
		}
	}
	fi, err := os.Stat(p.Path(fmt.Sprintf("shutdown.%d", pid)))
	if err != nil {
		t.Fatalf("the lifespan shutdown did not run: %v\n%s", err, s.Stderr)
	}
	if at := fi.ModTime().Sub(start); at > graceful {
		t.Errorf("the lifespan shutdown ended %s after SIGTERM, past --graceful-timeout %s", at.Round(time.Millisecond), graceful)
	}
	// The worker that went away is not replaced: the server is stopping.
	if imported, _ := filepath.Glob(p.Path("imported.*")); len(imported) != 1 {
		t.Errorf("%d workers imported the app, want the first one only:\n%s", len(imported), s.Stderr)
	}
	noOrphans(t, workerPIDs(t, s), 5*time.Second)
}

// TestASGILifeSigquit: SIGQUIT is gunicorn's quick shutdown: gowsgi stops
// at once, whatever is in flight (a stream, a long poll, a WebSocket),
// without waiting for --graceful-timeout: the WebSocket still gets its
// close frame (1001), the workers' requests are told the server is going
// away and cancelled, their lifespan shutdown runs, and gowsgi exits 0
// with no worker left. It used to be Go's default for the signal: a
// goroutine dump, exit 2, and the workers left running on their own.
func TestASGILifeSigquit(t *testing.T) {
	s, p := startLife(t, nil, "--workers", "2")
	sse := sendAsync(t, s.Addr, "GET", "/sse?name=s1")
	poll := sendAsync(t, s.Addr, "GET", "/longpoll?name=l1")
	wsc, wsOut := waitClient(t, wsURL(s, "/ws?name=w1"))
	defer wsc.Process.Kill()
	for _, n := range []string{"s1", "l1", "w1"} {
		p.WaitFile(n+".entered", 30*time.Second)
	}
	pids := workerPIDs(t, s)
	start := time.Now()
	s.Signal(syscall.SIGQUIT)
	code := s.Wait(goAwayBound)
	if code != 0 {
		t.Fatalf("SIGQUIT: exit %d after %s, want 0 at once (the graceful timeout is 30s)\n%s", code, time.Since(start).Round(time.Millisecond), s.Stderr)
	}
	s.WaitLog(t, "shutting down at once", 1, time.Second)
	if strings.Contains(s.Stderr.String(), "graceful timeout reached") {
		t.Errorf("the log speaks of a graceful timeout that was not waited for:\n%s", s.Stderr)
	}
	wsc.Wait()
	if !strings.Contains(wsOut.String(), "1001") {
		t.Errorf("the WebSocket client saw %q, want a close with 1001 (not a dropped connection)", wsOut.String())
	}
	noOrphans(t, pids, 2*time.Second)
	for _, pid := range pids {
		if !p.Exists(fmt.Sprintf("shutdown.%d", pid)) {
			t.Errorf("worker %d did not run its lifespan shutdown\n%s", pid, s.Stderr)
		}
	}
	for _, r := range []*pending{sse, poll} {
		if res := r.wait(5 * time.Second); res.err != nil && strings.HasPrefix(res.err.Error(), "no response within") {
			t.Errorf("a client still waits after the exit")
		}
	}
}

// TestASGILifeStartupTimeout: a lifespan startup that never completes is
// bounded by the boot's time, --boot-timeout (or --timeout when longer, as
// gunicorn bounds a worker's boot; uvicorn waits forever), and gowsgi says
// so and where (it used to say the app "did not load", with no clue where). Whether it awaits forever (its
// task is cancelled: the traceback shows the await) or blocks the event
// loop (a watchdog thread reports the blocking line), it is a boot failure
// that says so and where: gowsgi exits 1 and no worker is left.
func TestASGILifeStartupTimeout(t *testing.T) {
	py := debianPython(t, "starlette")
	for _, c := range []struct{ how, marker, where string }{
		{"hang", "startup-hangs", "await asyncio.Event().wait()"},
		{"block", "startup-blocks", "time.sleep(3600)"},
	} {
		t.Run(c.how, func(t *testing.T) {
			p := newProbeState(t)
			s := startProcessEnv(t, append(p.Env(), "LIFE_STARTUP="+c.how), asgiLife, "--python", py, "--timeout", "2", "--boot-timeout", "4")
			start := time.Now()
			code := s.Wait(60 * time.Second)
			if code != 3 || time.Since(start) > 30*time.Second {
				t.Fatalf("exit %d after %s, want 3 soon after --boot-timeout 4s\n%s", code, time.Since(start).Round(time.Millisecond), s.Stderr)
			}
			out := s.Stderr.String()
			if !strings.Contains(out, "lifespan startup did not complete within the boot time of 4s (--boot-timeout, or --timeout when longer: raise it)\n") ||
				!strings.Contains(out, "asgi_life.py\", line") || !strings.Contains(out, c.where) {
				t.Errorf("the log does not say that the startup ran past --timeout, and where (%q):\n%s", c.where, out)
			}
			matches, _ := filepath.Glob(p.Path(c.marker + ".*"))
			if len(matches) == 0 {
				t.Fatalf("the lifespan startup never began\n%s", out)
			}
			noOrphans(t, []int{markerPID(t, p, filepath.Base(matches[0]))}, 5*time.Second)
		})
	}
}

// TestASGILifeShutdownFaults: a lifespan shutdown that misbehaves still
// ends in a clean exit 0 with no worker left, and one clear log entry:
//   - one that awaits forever is cancelled after its bound, and the log
//     shows where it waited (it used to log two GeneratorExit tracebacks
//     and "Task was destroyed but it is pending!" as the process exited);
//   - one that blocks the event loop is killed after the stop bound, with
//     the Python stack of the blocking line first (it was killed with
//     only "retired worker did not exit");
//   - one that raises is logged once (it was logged twice: the
//     shutdown.failed message, then the same exception again).
func TestASGILifeShutdownFaults(t *testing.T) {
	for _, c := range []struct {
		how   string
		bound time.Duration
		want  []string
		args  []string
	}{
		{"hang", goAwayBound, []string{"lifespan shutdown did not complete within 5s; it was cancelled here", "await asyncio.Event().wait()"}, nil},
		// A --timeout shorter than the stop: the heartbeats end with the
		// control socket, which is no sign of a blocked loop (the worker
		// was killed as blocked, its lifespan shutdown cut short).
		{"hang", goAwayBound, []string{"lifespan shutdown did not complete within 5s; it was cancelled here"}, []string{"--timeout", "1"}},
		{"block", 10*time.Second + goAwayBound, []string{"its event loop is blocked. Its Python stacks follow, then it is killed", `asgi_life.py", line`, "in lifespan"}, nil},
		{"raise", goAwayBound, []string{"lifespan shutdown failed: Traceback", "RuntimeError: could not flush the queue"}, nil},
	} {
		t.Run(strings.Join(append([]string{c.how}, c.args...), " "), func(t *testing.T) {
			s, p := startLife(t, []string{"LIFE_SHUTDOWN=" + c.how}, append([]string{"--graceful-timeout", "1"}, c.args...)...)
			pids := workerPIDs(t, s)
			s.Signal(syscall.SIGTERM)
			if code := s.Wait(time.Second + c.bound); code != 0 {
				t.Fatalf("SIGTERM: exit %d, want 0 within %s\n%s", code, time.Second+c.bound, s.Stderr)
			}
			if !p.Exists(fmt.Sprintf("shutdown-begins.%d", pids[0])) {
				t.Fatalf("the lifespan shutdown did not begin\n%s", s.Stderr)
			}
			out := s.Stderr.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the log lacks %q:\n%s", w, out)
				}
			}
			for _, noise := range []string{"GeneratorExit", "Task was destroyed", "error in the lifespan protocol", "event loop blocked past --timeout"} {
				if strings.Contains(out, noise) {
					t.Errorf("the log has %q:\n%s", noise, out)
				}
			}
			if n := strings.Count(out, "RuntimeError: could not flush the queue"); c.how == "raise" && n != 1 {
				t.Errorf("the failure is logged %d times, want once:\n%s", n, out)
			}
			noOrphans(t, pids, 5*time.Second)
		})
	}
}

// TestASGILifeReloadStartupHangs: a HUP reload whose new generation's
// lifespan startup hangs fails after the boot's time (--boot-timeout), with
// the reason in the log, and the old worker keeps serving,
// its open stream included.
func TestASGILifeReloadStartupHangs(t *testing.T) {
	s, p := startLife(t, nil, "--timeout", "2", "--boot-timeout", "4")
	c, br, resp := openStream(t, s, "/sse?name=s1")
	defer c.Close()
	oldPID := resp.Header.Get("X-Pid")
	readEvents(t, br, 2)
	if err := os.WriteFile(p.Path("startup.how"), []byte("hang"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "reload failed; the previous workers keep serving", 1, 30*time.Second)
	if !strings.Contains(s.Stderr.String(), "lifespan startup did not complete within the boot time of 4s") {
		t.Errorf("the log does not say why the reload failed:\n%s", s.Stderr)
	}
	if _, body := get(t, s, "GET", "/pid", nil); body != oldPID {
		t.Errorf("after the failed reload pid %s serves, want the old worker %s", body, oldPID)
	}
	readEvents(t, br, 5) // the stream still flows
}

// TestASGILifeCrashSiblings: a worker that dies (os._exit in one request)
// while other requests are in flight on its event loop: each of them gets
// 502 (or, a stream that had started, its cut) at once, each is logged
// with its request line, and a replacement serves. uvicorn loses the
// whole server (one process), and gunicorn's UvicornWorker resets every
// connection of the worker with no answer: there the worker owns the
// sockets, here the Go front does.
func TestASGILifeCrashSiblings(t *testing.T) {
	s, p := startLife(t, nil)
	sse := sendAsync(t, s.Addr, "GET", "/sse?name=s1")
	poll := sendAsync(t, s.Addr, "GET", "/longpoll?name=l1")
	held := sendAsync(t, s.Addr, "GET", "/hold?name=h1")
	for _, n := range []string{"s1", "l1", "h1"} {
		p.WaitFile(n+".entered", 30*time.Second)
	}
	pid := markerPID(t, p, "s1.entered")
	if resp, _ := get(t, s, "GET", "/crash", nil); resp.StatusCode != 502 {
		t.Errorf("the crashing request got %d, want 502", resp.StatusCode)
	}
	for name, r := range map[string]*pending{"long poll": poll, "held request": held} {
		if res := r.wait(10 * time.Second); res.status != 502 {
			t.Errorf("the %s got %d %v, want 502", name, res.status, res.err)
		}
	}
	if res := sse.wait(10 * time.Second); res.status != 200 || res.err == nil {
		t.Errorf("the stream got %d %v, want 200 and a cut", res.status, res.err)
	}
	for _, line := range []string{"GET /sse?name=s1", "GET /longpoll?name=l1", "GET /hold?name=h1", "GET /crash"} {
		re := regexp.MustCompile(`msg="worker died while serving a request" worker=1 pid=` + strconv.Itoa(pid) +
			` status="exit status 7" request="` + regexp.QuoteMeta(line) + ` HTTP/1.1"`)
		if !waitFor(10*time.Second, func() bool { return re.MatchString(s.Stderr.String()) }) {
			t.Errorf("no log line for %q:\n%s", line, s.Stderr)
		}
	}
	s.WaitLog(t, `msg="worker ready"`, 2, 30*time.Second)
	if resp, body := get(t, s, "GET", "/state", nil); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from the lifespan of ") {
		t.Errorf("after the crash: %d %q", resp.StatusCode, body)
	}
}

// TestASGILifeUpgrade: a binary upgrade (SIGUSR2) with a WebSocket and a
// long poll open on the old process: once the new process serves, the
// old one drains as on SIGTERM, but its WebSockets close with 1012
// (Service Restart: reconnect) where a shutdown says 1001, and the app
// gets websocket.disconnect with 1012; the long poll gets 503; the old
// process exits 0 with no worker left, and the new one serves.
func TestASGILifeUpgrade(t *testing.T) {
	s, p := startLife(t, nil, "--graceful-timeout", "6")
	poll := sendAsync(t, s.Addr, "GET", "/longpoll?name=l1")
	wsc, wsOut := waitClient(t, wsURL(s, "/ws?name=w1"))
	defer wsc.Process.Kill()
	p.WaitFile("l1.entered", 30*time.Second)
	p.WaitFile("w1.entered", 30*time.Second)
	oldWorkers := workerPIDs(t, s)
	s.Signal(syscall.SIGUSR2)
	s.WaitLog(t, "binary upgrade: the new process serves; draining", 1, 60*time.Second)
	m := regexp.MustCompile(`new_pid=(\d+)`).FindStringSubmatch(s.Stderr.String())
	if m == nil {
		t.Fatalf("no new_pid in the log:\n%s", s.Stderr)
	}
	newPID, _ := strconv.Atoi(m[1])
	stopNew := func() {
		syscall.Kill(newPID, syscall.SIGTERM)
		if !waitFor(15*time.Second, func() bool { return processGone(newPID) }) {
			syscall.Kill(newPID, syscall.SIGKILL)
		}
	}
	t.Cleanup(stopNew)
	// The new process shares the old one's stderr, so the old one's exit
	// status is read once the new one has ended too.
	if !waitFor(6*time.Second+goAwayBound, func() bool { return processGone(s.Cmd.Process.Pid) }) {
		t.Fatalf("the old process did not exit\n%s", s.Stderr)
	}
	wsc.Wait()
	if !strings.Contains(wsOut.String(), "1012") {
		t.Errorf("the WebSocket client saw %q, want a close with 1012", wsOut.String())
	}
	if code := readFile(t, p.Path("w1.ws-disconnect")); code != "1012" {
		t.Errorf("the app saw websocket.disconnect with %s, want 1012", code)
	}
	if r := poll.wait(5 * time.Second); r.status != 503 {
		t.Errorf("the long poll got %d %v, want 503", r.status, r.err)
	}
	noOrphans(t, oldWorkers, 5*time.Second)
	if resp, body := get(t, s, "GET", "/state", nil); resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from the lifespan of ") {
		t.Errorf("the new process: %d %q", resp.StatusCode, body)
	}
	stopNew()
	if code := s.Wait(10 * time.Second); code != 0 {
		t.Errorf("the old process: exit %d, want 0", code)
	}
}

// TestASGILifeRetireDrains: a worker retired by --max-requests, by
// --max-memory or by SIGTTOU, with every kind of long-lived request on
// it: a request that finishes by itself after the retirement began gets
// its 200 from the old worker, an upload whose body was still arriving
// gets its 200, the stream ends properly and the unanswered long poll
// gets 503 near the end of --graceful-timeout, the WebSocket closes with
// 1012 (the app sees websocket.disconnect with 1012), the old worker runs
// its lifespan shutdown within the grace and exits, a new one serves: no
// client gets a 502.
func TestASGILifeRetireDrains(t *testing.T) {
	for _, c := range []struct {
		name, logs string
		args       []string
		trigger    func(t *testing.T, s *Server)
	}{
		{"max-requests", "served 3 requests (--max-requests)", []string{"--max-requests", "3"}, func(t *testing.T, s *Server) {
			for i := 0; i < 3; i++ {
				get(t, s, "GET", "/pid", nil)
			}
		}},
		{"max-memory", "over --max-memory", []string{"--max-memory", "200"}, func(t *testing.T, s *Server) {
			// To 20 MiB past the limit: never near 300 MiB (1.5 times,
			// where the worker is killed at once).
			rss := residentMiB(t, workerPIDs(t, s)[0])
			get(t, s, "GET", fmt.Sprintf("/grow?mib=%d", max(220-rss, 1)), nil)
		}},
		{"scale-down", `msg="removing a worker"`, nil, func(t *testing.T, s *Server) {
			// A second worker first; SIGTTOU then retires the first one,
			// which holds every request.
			s.Signal(syscall.SIGTTIN)
			s.WaitLog(t, `msg="worker ready"`, 2, 30*time.Second)
			s.Signal(syscall.SIGTTOU)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const graceful = 6 * time.Second
			s, p := startLife(t, nil, append([]string{"--graceful-timeout", "6"}, c.args...)...)
			sse := sendAsync(t, s.Addr, "GET", "/sse?name=s1")
			poll := sendAsync(t, s.Addr, "GET", "/longpoll?name=l1")
			held := sendAsync(t, s.Addr, "GET", "/hold?name=h1")
			wsc, wsOut := waitClient(t, wsURL(s, "/ws?name=w1"))
			defer wsc.Process.Kill()
			for _, n := range []string{"s1", "l1", "h1", "w1"} {
				p.WaitFile(n+".entered", 30*time.Second)
			}
			old := markerPID(t, p, "s1.entered")
			up := dialRaw(t, s.Addr)
			defer up.Close()
			fmt.Fprintf(up, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n%s", strings.Repeat("u", 100000))

			c.trigger(t, s)
			s.WaitLog(t, c.logs, 1, 30*time.Second)
			if c.name == "max-requests" {
				// Recycling retires the worker once its replacement serves.
				s.WaitLog(t, `msg="worker ready"`, 2, 30*time.Second)
			}
			retired := time.Now()
			up.Write([]byte(strings.Repeat("u", 100000)))
			os.WriteFile(p.Path("h1.release"), nil, 0o644)

			if r := held.wait(10 * time.Second); r.status != 200 || r.body != fmt.Sprintf("released by %d", old) {
				t.Errorf("the request that finished by itself got %d %q %v, want 200 from pid %d", r.status, r.body, r.err, old)
			}
			if out := readUntilQuiet(up, 10*time.Second); !strings.HasPrefix(out, "HTTP/1.1 200 ") || !strings.Contains(out, "200000 bytes by ") {
				t.Errorf("the upload got %q, want 200 and its whole body", out)
			}
			if r := sse.wait(graceful + goAwayBound); r.status != 200 || r.err != nil {
				t.Errorf("the stream got %d %v, want 200 and a proper end", r.status, r.err)
			}
			if r := poll.wait(5 * time.Second); r.status != 503 {
				t.Errorf("the long poll got %d %q %v, want 503", r.status, r.body, r.err)
			}
			wsc.Wait()
			if !strings.Contains(wsOut.String(), "1012") {
				t.Errorf("the WebSocket client saw %q, want a close with 1012", wsOut.String())
			}
			p.WaitFile(fmt.Sprintf("shutdown.%d", old), 10*time.Second)
			// Within the grace: the worker used to be told to go away a
			// second after it, so its lifespan shutdown came later still.
			fi, err := os.Stat(p.Path(fmt.Sprintf("shutdown.%d", old)))
			if err != nil {
				t.Fatal(err)
			}
			if at := fi.ModTime().Sub(retired); at > graceful+time.Second {
				t.Errorf("the lifespan shutdown ended %s after the retirement, want it within --graceful-timeout %s", at.Round(time.Millisecond), graceful)
			}
			if code := readFile(t, p.Path("w1.ws-disconnect")); code != "1012" {
				t.Errorf("the app saw websocket.disconnect with %s, want 1012", code)
			}
			noOrphans(t, []int{old}, 10*time.Second)
			if _, body := get(t, s, "GET", "/pid", nil); body == strconv.Itoa(old) || body == "" {
				t.Errorf("after the retirement pid %q serves", body)
			}
			if strings.Contains(s.Stderr.String(), "worker died") || strings.Contains(s.Stderr.String(), "killing worker") {
				t.Errorf("a request failed:\n%s", s.Stderr)
			}
		})
	}
}

// residentMiB is a process's resident memory in MiB.
func residentMiB(t *testing.T, pid int) int {
	t.Helper()
	f := strings.Fields(readFile(t, fmt.Sprintf("/proc/%d/statm", pid)))
	pages, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return pages * os.Getpagesize() >> 20
}

// TestSigquitWSGI: SIGQUIT stops a WSGI server at once too: a request
// held in a worker thread is cut rather than waited for (the graceful
// timeout is 60 s), gowsgi exits 0 and the worker is gone.
func TestSigquitWSGI(t *testing.T) {
	s, st := StartProbe(t, "-w", "1", "--threads", "2", "--graceful-timeout", "60")
	a := sendAsync(t, s.Addr, "GET", "/block?name=a")
	st.WaitEntered("a")
	pids := workerPIDs(t, s)
	s.Signal(syscall.SIGQUIT)
	if code := s.Wait(10 * time.Second); code != 0 {
		t.Fatalf("SIGQUIT: exit %d, want 0 at once\n%s", code, s.Stderr)
	}
	if r := a.wait(5 * time.Second); r.status == 200 {
		t.Errorf("the request held got %d after SIGQUIT", r.status)
	}
	noOrphans(t, pids, 5*time.Second)
}

// TestASGIWorkerStopsWhenStartAborts: gowsgi cannot listen after its
// workers are ready (the address is taken: here by its own metrics
// listener), so it stops them at once and exits 1. An ASGI worker whose
// control socket the front closed while a heartbeat of the worker was
// still unread there got a reset, not an end of file: uvloop then stops
// watching the socket without a word, and the worker waited until it was
// killed, 40 s later. It now learns it from its next heartbeat's failed
// send. Several rounds: the reset depends on when the heartbeat went.
func TestASGIWorkerStopsWhenStartAborts(t *testing.T) {
	py := debianPython(t, "fastapi")
	for round := 0; round < 4; round++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		s := startProcessEnv(t, nil, "tests/testdata/apps/asgi_realapp.py", "--python", py, "--bind", addr, "--metrics-bind", addr)
		if code := s.Wait(20 * time.Second); code != 1 {
			t.Fatalf("round %d: exit %d, want 1 within 20 s (the workers stopped at once)\n%s", round, code, s.Stderr)
		}
		if !strings.Contains(s.Stderr.String(), "cannot listen on "+addr) {
			t.Fatalf("round %d: no 'cannot listen' line:\n%s", round, s.Stderr)
		}
	}
}
