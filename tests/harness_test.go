// Package tests holds gowsgi's integration tests: each starts the real
// binary with real Python workers and talks HTTP to it over loopback.
package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gowsgi: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
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

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartServer runs gowsgi with args (a target and flags), binding a free
// loopback port unless args has a --bind, and waits until it accepts
// connections. The process is stopped when the test ends.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	s := startProcess(t, args...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("gowsgi exited before serving (%v)\nstdout:\n%s\nstderr:\n%s", s.exit, s.Stdout, s.Stderr)
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			return s
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
	s.Cmd = exec.Command(gowsgiBin, args...)
	s.Cmd.Dir = repoRoot
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
		if t.Failed() {
			t.Logf("gowsgi stderr:\n%s", s.Stderr)
		}
	})
	return s
}

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
