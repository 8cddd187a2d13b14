// Package tests holds gowsgi's integration tests: each starts the real
// binary with real Python workers and talks HTTP to it over loopback.
package tests

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	// gowsgiBin is the binary under test, built once by TestMain.
	gowsgiBin string
	// repoRoot is the module root; apps live in testdata/ and examples/.
	repoRoot string
	// pythonBin runs the workers. Debian's python3 sees python3-* packages
	// (flask, django...), so it is preferred when present.
	pythonBin = "python3"
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		pythonBin = "/usr/bin/python3"
	}
	if p := os.Getenv("GOWSGI_TEST_PYTHON"); p != "" {
		pythonBin = p
	}
	dir, err := os.MkdirTemp("", "gowsgi-test-")
	if err != nil {
		panic(err)
	}
	gowsgiBin = filepath.Join(dir, "gowsgi")
	build := exec.Command("go", "build", "-o", gowsgiBin, "./cmd/gowsgi")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if raceBinary {
		// GOWSGI_TEST_RACE=1: every test drives a race-detector build, and
		// a DATA RACE report in any server's stderr fails that test.
		build = exec.Command("go", "build", "-race", "-o", gowsgiBin, "./cmd/gowsgi")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gowsgi: %v\n%s", err, out)
		os.Exit(1)
	}
	defaultParallel()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// minParallel is how many t.Parallel tests run at once unless -parallel
// says otherwise, where GOMAXPROCS (go test's default) is lower. The
// integration tests spend most of their time waiting on processes they
// started (a worker's boot, a graceful timeout, a peer's 10 s deadline),
// so more of them than there are cores keep the cores busy; more than
// this on 2 cores only queues behind the CPU.
const minParallel = 4

// defaultParallel raises -parallel to minParallel unless it was given.
func defaultParallel() {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given && runtime.GOMAXPROCS(0) < minParallel {
		flag.Set("test.parallel", strconv.Itoa(minParallel))
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Server is a running gowsgi process.
type Server struct {
	t      testing.TB
	Cmd    *exec.Cmd
	Addr   string // host:port of the first TCP bind
	Stdout *syncBuffer
	Stderr *syncBuffer
	done   chan struct{}
	exit   error
}

// freePort returns a TCP port, free on 127.0.0.1 and [::1], for a server
// the test starts (gowsgi, uvicorn, a metrics listener), handed out to no
// one else until the test process ends:
//   - it is below the kernel's ephemeral range (ip_local_port_range), so
//     the kernel never gives it to a bind(":0") or to the source side of
//     an outgoing connection, which would make the server's bind fail;
//   - this process hands out each port once (a server stopped leaves its
//     port unused, so a second test cannot find it free meanwhile);
//   - the process holds an flock on a file named after the port in
//     $TMPDIR/gowsgi-test-ports, so another test process (another
//     checkout's, say) skips it too; the kernel drops the lock when the
//     process exits.
//
// Where the ephemeral range leaves no room, it falls back to a port the
// kernel picks, still handed out once.
func freePort(t testing.TB) int {
	t.Helper()
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.lo == 0 {
		ports.lo, ports.hi = portRange()
		if ports.lo > 0 {
			// Processes start at different points: fewer locks to skip.
			ports.next = ports.lo + rand.Intn(ports.hi-ports.lo)
		}
		ports.given = map[int]bool{}
	}
	if ports.lo < 0 {
		for range 100 {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			p := l.Addr().(*net.TCPAddr).Port
			l.Close()
			if !ports.given[p] {
				ports.given[p] = true
				return p
			}
		}
		t.Fatal("freePort: the kernel keeps handing out ports already given")
	}
	for range ports.hi - ports.lo {
		p := ports.next
		if ports.next++; ports.next >= ports.hi {
			ports.next = ports.lo
		}
		if ports.given[p] || !lockPort(p) {
			continue
		}
		ports.given[p] = true // locked: never tried again, free or not
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // someone outside the harness holds it
		}
		l.Close()
		// Free on [::1] too, for a test that binds both loopbacks.
		if l, err := net.Listen("tcp", fmt.Sprintf("[::1]:%d", p)); err == nil {
			l.Close()
		} else if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		return p
	}
	t.Fatalf("freePort: no free port left in %d-%d", ports.lo, ports.hi-1)
	return 0
}

// ports is what freePort has handed out, and the range it hands out from:
// [lo, hi), or lo < 0 where it lets the kernel pick.
var ports struct {
	mu     sync.Mutex
	lo, hi int
	next   int
	given  map[int]bool
	locks  []*os.File // held open until the process exits: the flocks
}

// portRange is the range of ports below the kernel's ephemeral range that
// freePort hands out (at least 1024, and from 10000 up where there is
// room), or (-1, -1) where there is too little room.
func portRange() (int, int) {
	lo := 32768 // Linux's default ip_local_port_range starts here
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				lo = n
			}
		}
	}
	switch {
	case lo >= 12000:
		return 10000, lo
	case lo >= 3048:
		return 1024, lo
	default:
		return -1, -1
	}
}

// lockPort takes an exclusive flock, for the rest of the process, on the
// file that stands for port p among the test processes on this machine;
// false if another process holds it.
func lockPort(p int) bool {
	dir := filepath.Join(os.TempDir(), "gowsgi-test-ports")
	os.MkdirAll(dir, 0o777)
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return true // no place to lock in: the process's own record still holds
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	ports.locks = append(ports.locks, f)
	return true
}

// StartServer runs gowsgi with args (a target and flags), binding a free
// loopback port unless args has a --bind, and waits until it accepts
// connections. The process is stopped when the test ends.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	return StartServerEnv(t, nil, args...)
}

// StartServerEnv is StartServer with extra environment variables
// ("KEY=VALUE") for gowsgi and, through it, its workers. Unless the log level
// hides info lines, it also waits for the "listening" line, which gowsgi
// logs once its signal handlers are in place, so a test may signal at once.
func StartServerEnv(t testing.TB, env []string, args ...string) *Server {
	t.Helper()
	return startServerBin(t, gowsgiBin, env, args...)
}

// startServerBin is StartServerEnv running the gowsgi binary bin (a race
// build, say) instead of the one TestMain built.
func startServerBin(t testing.TB, bin string, env []string, args ...string) *Server {
	t.Helper()
	s := startProcessBin(t, bin, env, args...)
	level := os.Getenv("GOWSGI_LOG_LEVEL")
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GOWSGI_LOG_LEVEL="); ok {
			level = v
		}
	}
	for i, a := range args {
		if a == "--log-level" && i+1 < len(args) {
			level = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--log-level="); ok {
			level = v
		}
	}
	quiet := level != "" && level != "info" && level != "debug"
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("gowsgi exited before serving (%v)\nstdout:\n%s\nstderr:\n%s", s.exit, s.Stdout, s.Stderr)
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			if quiet || strings.Contains(s.Stderr.String(), `msg=listening`) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gowsgi did not start listening on %s within 60s\nstderr:\n%s", s.Addr, s.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startProcess starts gowsgi without waiting for it to listen.
func startProcess(t testing.TB, args ...string) *Server {
	t.Helper()
	return startProcessEnv(t, nil, args...)
}

// startProcessEnv is startProcess with extra environment variables.
func startProcessEnv(t testing.TB, env []string, args ...string) *Server {
	t.Helper()
	return startProcessBin(t, gowsgiBin, env, args...)
}

func startProcessBin(t testing.TB, bin string, env []string, args ...string) *Server {
	t.Helper()
	hasBind, hasPython, hasWorkers := false, false, false
	s := &Server{t: t, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	for i, a := range args {
		if (a == "-b" || a == "--bind") && i+1 < len(args) && s.Addr == "" && !strings.HasPrefix(args[i+1], "unix:") {
			s.Addr = args[i+1]
			if strings.HasPrefix(s.Addr, ":") {
				s.Addr = "127.0.0.1" + s.Addr
			}
		}
		hasBind = hasBind || a == "-b" || a == "--bind" || strings.HasPrefix(a, "--bind=")
		hasPython = hasPython || a == "--python" || strings.HasPrefix(a, "--python=")
		hasWorkers = hasWorkers || a == "-w" || a == "--workers" || strings.HasPrefix(a, "--workers=")
	}
	if !hasBind {
		s.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args = append(args, "--bind", s.Addr)
	}
	if !hasPython {
		args = append(args, "--python", pythonBin)
	}
	if !hasWorkers {
		args = append(args, "--workers", "1")
	}
	s.Cmd = exec.Command(bin, args...)
	s.Cmd.Dir = repoRoot
	if len(env) > 0 {
		s.Cmd.Env = append(os.Environ(), env...)
	}
	s.Cmd.Stdout = s.Stdout
	s.Cmd.Stderr = s.Stderr
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.exit = s.Cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Stop()
		if raceBinary && strings.Contains(s.Stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("the race detector reported a data race in gowsgi")
		}
		if t.Failed() {
			t.Logf("gowsgi stderr:\n%s", s.Stderr)
		}
	})
	return s
}

// raceBinary: the binary under test is a -race build (GOWSGI_TEST_RACE=1).
var raceBinary = os.Getenv("GOWSGI_TEST_RACE") != ""

// URL returns http://addr + path.
func (s *Server) URL(path string) string { return "http://" + s.Addr + path }

// Signal sends sig to the gowsgi process.
func (s *Server) Signal(sig syscall.Signal) { s.Cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and returns its exit code
// (-1 if it is still running).
func (s *Server) Wait(d time.Duration) int {
	select {
	case <-s.done:
		return s.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

// Stop sends SIGTERM and waits (bounded); SIGKILL if it will not go.
func (s *Server) Stop() int {
	select {
	case <-s.done:
		return s.Cmd.ProcessState.ExitCode()
	default:
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(15 * time.Second); code != -1 {
		return code
	}
	s.t.Errorf("gowsgi did not stop within 15s of SIGTERM; killing it")
	s.Cmd.Process.Kill()
	<-s.done
	return s.Cmd.ProcessState.ExitCode()
}

// runGowsgi runs gowsgi to completion (bounded) and returns its exit code
// and output; for tests of failures before serving.
func runGowsgi(t testing.TB, timeout time.Duration, args ...string) (int, string, string) {
	t.Helper()
	s := startProcess(t, args...)
	code := s.Wait(timeout)
	if code == -1 {
		t.Fatalf("gowsgi %v still running after %s\nstderr:\n%s", args, timeout, s.Stderr)
	}
	return code, s.Stdout.String(), s.Stderr.String()
}

// client does not follow redirects or pool too cleverly; each test gets
// fresh connections.
func client() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableCompression: true}}
}

// get fetches path and returns status, headers and body.
func get(t testing.TB, s *Server, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL(path), body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", method, path, err, s.Stderr)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

// raw sends raw bytes on a new connection and returns everything the server
// sends back until it closes the connection or goes quiet for idle.
func raw(t testing.TB, addr, request string, idle time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	return readUntilQuiet(c, idle)
}

func readUntilQuiet(c net.Conn, idle time.Duration) string {
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// readResponse reads one response from br (for keep-alive tests).
func readResponse(t testing.TB, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(b)
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// LogCount is how many times substr occurs in gowsgi's error log so far.
func (s *Server) LogCount(substr string) int { return strings.Count(s.Stderr.String(), substr) }

// WaitLog waits up to d until substr occurs at least n times in the error
// log, and fails the test if it does not.
func (s *Server) WaitLog(t testing.TB, substr string, n int, d time.Duration) {
	t.Helper()
	if !waitFor(d, func() bool { return s.LogCount(substr) >= n }) {
		t.Fatalf("waited %s for %d× %q in the error log, saw %d:\n%s", d, n, substr, s.LogCount(substr), s.Stderr)
	}
}

// probeState is the directory the probe app (PROBE_STATE_DIR) leaves its
// marker files in and reads release files from: the test's view of what a
// request is doing inside the worker.
type probeState struct {
	t   testing.TB
	Dir string
}

// newProbeState gives the test its own state directory.
func newProbeState(t testing.TB) *probeState { return &probeState{t: t, Dir: t.TempDir()} }

// Env is the environment that points the probe at the directory.
func (p *probeState) Env() []string { return []string{"PROBE_STATE_DIR=" + p.Dir} }

// Path is the path of a file in the directory.
func (p *probeState) Path(name string) string { return filepath.Join(p.Dir, name) }

// Exists reports whether the probe (or the test) has written name.
func (p *probeState) Exists(name string) bool {
	_, err := os.Stat(p.Path(name))
	return err == nil
}

// WaitFile waits up to d for name to appear, and fails the test if it does not.
func (p *probeState) WaitFile(name string, d time.Duration) {
	p.t.Helper()
	if !waitFor(d, func() bool { return p.Exists(name) }) {
		p.t.Fatalf("%s did not appear within %s", name, d)
	}
}

// WaitEntered waits until the probe's /block or /sleep?mark= request NAME
// is running in a worker thread.
func (p *probeState) WaitEntered(name string) {
	p.t.Helper()
	p.WaitFile(name+".entered", 30*time.Second)
}

// Release lets /block?name=NAME answer.
func (p *probeState) Release(name string) {
	p.t.Helper()
	if err := os.WriteFile(p.Path(name+".release"), nil, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// StartProbe starts gowsgi on the probe app with its own state directory.
// Every /block request still held is released when the test ends, before
// the server is stopped.
func StartProbe(t testing.TB, args ...string) (*Server, *probeState) {
	t.Helper()
	p := newProbeState(t)
	s := StartServerEnv(t, p.Env(), append([]string{probe}, args...)...)
	t.Cleanup(func() { os.WriteFile(p.Path("ALL.release"), nil, 0o644) })
	return s, p
}

// pending is one request sent on its own raw connection, its response read
// in the background.
type pending struct {
	c    net.Conn
	done chan pendingResult
}

type pendingResult struct {
	status int
	header http.Header
	body   string
	err    error
}

// sendAsync sends "METHOD PATH HTTP/1.1" (with Connection: close) and reads
// the response in the background.
func sendAsync(t testing.TB, addr, method, path string) *pending {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", method, path); err != nil {
		t.Fatal(err)
	}
	p := &pending{c: c, done: make(chan pendingResult, 1)}
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
		if err != nil {
			p.done <- pendingResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		p.done <- pendingResult{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
	}()
	return p
}

// port is the client side's port of the connection.
func (p *pending) port() int { return p.c.LocalAddr().(*net.TCPAddr).Port }

// wait waits up to d for the response; status 0 and err set if none came.
func (p *pending) wait(d time.Duration) pendingResult {
	select {
	case r := <-p.done:
		p.done <- r
		return r
	default:
	}
	select {
	case r := <-p.done:
		p.done <- r // later waits see it too
		return r
	case <-time.After(d):
		return pendingResult{err: fmt.Errorf("no response within %s", d)}
	}
}

// answered reports whether the response has arrived (or the connection
// failed) already.
func (p *pending) answered() bool {
	select {
	case r := <-p.done:
		p.done <- r
		return true
	default:
		return false
	}
}

// binaryLogs reports whether the binary under test contains msg, i.e.
// whether that build can log it.
func binaryLogs(msg string) bool {
	b, err := os.ReadFile(gowsgiBin)
	return err == nil && bytes.Contains(b, []byte(msg))
}

// waitQueued waits until the requests ps, sent while every worker slot is
// busy, wait in gowsgi for a free slot: it counts n more `msg="request
// queued"` debug lines (--log-level debug) than before, base being the count
// taken before they were sent. A build that cannot log that line (the binary
// lacks it) is waited on by what the kernel shows instead: gowsgi has read
// every byte the requests sent (their sockets' receive queues are empty).
func (s *Server) waitQueued(t testing.TB, base, n int, ps ...*pending) {
	t.Helper()
	const msg = `msg="request queued"`
	if binaryLogs("request queued") {
		s.WaitLog(t, msg, base+n, 30*time.Second)
		return
	}
	s.waitRead(t, ps...)
}

// waitRead waits until gowsgi has read the requests of ps off their
// connections: they are queued, or pipelined to a busy worker.
func (s *Server) waitRead(t testing.TB, ps ...*pending) {
	t.Helper()
	ports := map[int]bool{}
	for _, p := range ps {
		ports[p.port()] = true
	}
	if !waitFor(30*time.Second, func() bool { return unreadBytes(s.port(), ports) == 0 }) {
		t.Fatalf("gowsgi did not read the %d requests within 30s", len(ps))
	}
}

// port is the TCP port of the server's first bind.
func (s *Server) port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// unreadBytes sums, over the established server-side sockets on local port
// serverPort whose peer port is in peers (every peer when peers is nil), the
// bytes the kernel holds that gowsgi has not read yet (rx_queue of
// /proc/net/tcp). A peer with no such socket yet (not accepted by the
// kernel) counts as unread.
func unreadBytes(serverPort int, peers map[int]bool) int {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return -1
	}
	seen := map[int]bool{}
	total := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 || f[3] != "01" {
			continue
		}
		_, lp, _ := strings.Cut(f[1], ":")
		_, rp, _ := strings.Cut(f[2], ":")
		l, _ := strconv.ParseInt(lp, 16, 32)
		r, _ := strconv.ParseInt(rp, 16, 32)
		if int(l) != serverPort || (peers != nil && !peers[int(r)]) {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		q, _ := strconv.ParseInt(rx, 16, 64)
		total += int(q)
		seen[int(r)] = true
	}
	for p := range peers {
		if !seen[p] {
			total++
		}
	}
	return total
}

// dialRaw opens a TCP connection to addr for a test that speaks raw
// HTTP on it, with a 20 s deadline on everything it does; the caller
// closes it.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}
