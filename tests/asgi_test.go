package tests

// ASGI: the interface chosen by detection, the HTTP scope, request and
// response streaming, http.disconnect, lifespan, supervision of the event
// loop, and real framework apps. The raw app (testdata/apps/asgi_raw.py)
// is standard library only, so these run on any Python the harness picks
// (GOWSGI_TEST_PYTHON=python3.8 included); framework apps need Debian's
// /usr/bin/python3.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	asgiRaw       = "tests/testdata/apps/asgi_raw.py"
	asgiStarlette = "tests/testdata/apps/asgi_starlette.py"
)

// startASGI starts gowsgi on an ASGI app with a marker directory.
func startASGI(t *testing.T, env []string, args ...string) (*Server, *probeState) {
	t.Helper()
	p := newProbeState(t)
	s := StartServerEnv(t, append(p.Env(), env...), args...)
	t.Cleanup(func() { s.Stop() })
	return s, p
}

// debianPython is the interpreter that sees the Debian framework packages.
func debianPython(t *testing.T, modules ...string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	args := []string{"-c", "import " + strings.Join(modules, ", ")}
	if out, err := exec.Command(py, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import %s (tests/apt-packages.txt installs them): %v\n%s", py, strings.Join(modules, ", "), err, out)
	}
	return py
}

func TestASGIDetectedAndScope(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw)
	if !strings.Contains(s.Stderr.String(), "interface=asgi") {
		t.Fatalf("the startup log does not say the interface is ASGI:\n%s", s.Stderr)
	}
	req := "GET /sc%6Fpe?a=1&b=%20x HTTP/1.1\r\nHost: example.com:8080\r\nX-Dup: one\r\nAccept: */*\r\nx-dup: two\r\nX_Under: u\r\nConnection: close\r\n\r\n"
	out := raw(t, s.Addr, req, 5*time.Second)
	resp, body := parseRaw(t, out, "GET")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var scope asgiScope
	if err := json.Unmarshal([]byte(body), &scope); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if scope.Type != "http" || scope.ASGI["version"] != "3.0" || scope.ASGI["spec_version"] < "2.4" {
		t.Errorf("type %q asgi %v", scope.Type, scope.ASGI)
	}
	if scope.HTTPVersion != "1.1" || scope.Method != "GET" || scope.Scheme != "http" {
		t.Errorf("http_version %q method %q scheme %q", scope.HTTPVersion, scope.Method, scope.Scheme)
	}
	if scope.Path != "/scope" || scope.RawPath != "/sc%6Fpe" || scope.Query != "a=1&b=%20x" || scope.RootPath != "" {
		t.Errorf("path %q raw_path %q query_string %q root_path %q", scope.Path, scope.RawPath, scope.Query, scope.RootPath)
	}
	// Lower-cased names, in order, duplicates kept, nothing dropped.
	var got []string
	for _, h := range scope.Headers {
		if h[0] != "x-request-id" {
			got = append(got, h[0]+"="+h[1])
		}
	}
	want := []string{"host=example.com:8080", "x-dup=one", "accept=*/*", "x-dup=two", "x_under=u", "connection=close"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("headers\n got %v\nwant %v", got, want)
	}
	if len(scope.Client) != 2 || scope.Client[0] != "127.0.0.1" {
		t.Errorf("client %v", scope.Client)
	}
	if len(scope.Server) != 2 || scope.Server[0] != "127.0.0.1" || scope.Server[1] != float64(s.port()) {
		t.Errorf("server %v, want the listening address %s (not the Host)", scope.Server, s.Addr)
	}
	if scope.State["greeting"] != "hello from lifespan" {
		t.Errorf("state %v: the lifespan state is not in the request scope", scope.State)
	}
	if _, ok := scope.Extensions["http.response.pathsend"]; !ok {
		t.Errorf("extensions %v lack http.response.pathsend", scope.Extensions)
	}

	// HTTP/1.0.
	out = raw(t, s.Addr, "GET /scope HTTP/1.0\r\n\r\n", 5*time.Second)
	if !strings.Contains(out, `"http_version": "1.0"`) {
		t.Errorf("HTTP/1.0 request: %s", out)
	}
}

// parseRaw reads one response from a raw exchange.
func parseRaw(t *testing.T, out, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading %q: %v", out, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestASGIResponseRules ports the response cases of uvicorn's
// tests/protocols/test_http.py: what a client gets when the app breaks the
// protocol, and the messages it may send.
func TestASGIResponseRules(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw)
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/error-before", 500, ""},                                   // test_app_exception
		{"/no-response", 500, ""},                                    // test_no_response_returned
		{"/start-only", 500, ""},                                     // a start and no body
		{"/double-start", 500, ""},                                   // test_duplicate_start_message
		{"/too-long", 500, ""},                                       // more body than the Content-Length
		{"/stream?n=4", 200, "chunk 0\nchunk 1\nchunk 2\nchunk 3\n"}, // test_chunked_encoding
		{"/value", 200, "value returned"},                            // test_value_returned: logged, served
		{"/executor", 200, "from a thread"},                          // sync code in a thread
		{"/after-complete", 200, "done"},                             // test_message_after_body_complete
	} {
		resp, body := get(t, s, "GET", c.path, nil)
		if resp.StatusCode != c.status || c.body != "" && body != c.body {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, resp.StatusCode, body, c.status, c.body)
		}
	}
	p.WaitFile("after-complete.raised", 10*time.Second)
	s.WaitLog(t, "it should return None", 1, 10*time.Second)
	s.WaitLog(t, "returned without starting the response", 1, 10*time.Second)

	// test_exception_during_response / test_partial_response_returned:
	// the response began, so the connection is cut short.
	for _, path := range []string{"/error-after", "/partial"} {
		resp, err := client().Get(s.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("GET %s: the body ended cleanly (%q); a broken response must not", path, b)
		}
	}

	// Duplicate response headers are kept, the status is the app's.
	resp, body := get(t, s, "GET", "/headers", nil)
	if resp.StatusCode != 201 || body != "created" || len(resp.Header.Values("Set-Cookie")) != 2 {
		t.Errorf("GET /headers: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	// test_head_request: no body, the head as for GET.
	resp, body = get(t, s, "HEAD", "/stream", nil)
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /stream: %d %q", resp.StatusCode, body)
	}

	// test_early_response: the app answers without reading the body;
	// test_read_after_response: receive() then says http.disconnect.
	resp, body = get(t, s, "POST", "/early", bytes.NewReader(make([]byte, 256<<10)))
	if resp.StatusCode != 200 || body != "early" {
		t.Errorf("POST /early: %d %q", resp.StatusCode, body)
	}
	get(t, s, "GET", "/read-after-response", nil)
	p.WaitFile("read-after-response", 10*time.Second)
	if b, _ := os.ReadFile(p.Path("read-after-response")); string(b) != "http.disconnect" {
		t.Errorf("receive() after the response gave %q, want http.disconnect", b)
	}

	// Keep-alive: several requests on one connection (test_keepalive).
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(c, "GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readResponse(t, br, "GET")
		if resp.StatusCode != 200 || body != "chunk 0\nchunk 1\n" {
			t.Fatalf("keep-alive request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// TestASGIRequestBody: bodies reach the app as http.request chunks; a
// large one (spooled to disk by the front) in pieces of at most 64 KiB,
// never whole in Python.
func TestASGIRequestBody(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw, "--body-memory", "256K")
	type echo struct {
		Len      int    `json:"len"`
		SHA      string `json:"sha256"`
		Chunks   int    `json:"chunks"`
		MaxChunk int    `json:"max_chunk"`
	}
	for _, n := range []int{0, 1000, 5 << 20} {
		data := make([]byte, n)
		rand.Read(data)
		sum := sha256.Sum256(data)
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if chunked {
				r = io.MultiReader(r) // no length: the client sends it chunked
			}
			resp, body := get(t, s, "POST", "/echo", r)
			var e echo
			if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != 200 {
				t.Fatalf("POST /echo (%d bytes): %d %s", n, resp.StatusCode, body)
			}
			if e.Len != n || e.SHA != hex.EncodeToString(sum[:]) {
				t.Errorf("POST /echo (%d bytes, chunked %v): got %d bytes, sha %s", n, chunked, e.Len, e.SHA)
			}
			if n > 256<<10 && (e.Chunks < 2 || e.MaxChunk > 64<<10) {
				t.Errorf("a %d-byte spooled body came in %d chunks of up to %d bytes; want pieces of at most 64 KiB", n, e.Chunks, e.MaxChunk)
			}
		}
	}
}

// readEvents reads SSE lines from br until n "data:" lines came.
func readEvents(t *testing.T, br *bufio.Reader, n int) {
	t.Helper()
	for seen := 0; seen < n; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream after %d events: %v", seen, err)
		}
		if strings.HasPrefix(line, "data:") {
			seen++
		}
	}
}

// openStream starts a GET of an endless stream and returns the connection
// and a reader positioned at the body.
func openStream(t *testing.T, s *Server, path string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		c.Close()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != 200 {
		c.Close()
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	return c, bufio.NewReader(resp.Body), resp
}

// TestASGIDisconnectMidStream: a client that cuts an endless stream
// becomes http.disconnect in receive(), and send() then raises OSError.
func TestASGIDisconnectMidStream(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw)
	c, br, _ := openStream(t, s, "/sse?name=s1")
	readEvents(t, br, 5)
	c.Close()
	p.WaitFile("s1.disconnected", 15*time.Second)
	p.WaitFile("s1.send-raised", 15*time.Second)
	// The worker goes on serving.
	if resp, body := get(t, s, "GET", "/stream?n=1", nil); resp.StatusCode != 200 || body != "chunk 0\n" {
		t.Fatalf("after the disconnect: %d %q", resp.StatusCode, body)
	}
}

// TestASGIBackpressure: send() waits while the client does not read: with
// no response spool, a 64 MiB response stops well short of its end in the
// app until the client reads, then arrives whole.
func TestASGIBackpressure(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw, "--response-spool", "0", "--response-buffer", "256K")
	const size = 64 << 20
	c, br, resp := openStream(t, s, fmt.Sprintf("/big?size=%d&name=bp", size))
	defer c.Close()
	if resp.ContentLength != size {
		t.Fatalf("Content-Length %d", resp.ContentLength)
	}
	if _, err := io.CopyN(io.Discard, br, 1<<20); err != nil {
		t.Fatal(err)
	}
	p.WaitFile("bp.progress", 10*time.Second)
	// The client reads nothing more for a second: the app must be held.
	waitFor(time.Second, func() bool { return p.Exists("bp.done") })
	if p.Exists("bp.done") {
		b, _ := os.ReadFile(p.Path("bp.progress"))
		t.Fatalf("the app sent all %d bytes to a client that read 1 MiB (progress %s): no backpressure", size, b)
	}
	n, err := io.Copy(io.Discard, br)
	if err != nil || n != size-(1<<20) {
		t.Fatalf("read %d more bytes (%v), want %d", n, err, size-(1<<20))
	}
	p.WaitFile("bp.done", 10*time.Second)
}

// TestASGIConcurrency: one worker has many requests in flight at once on
// its event loop: 40 requests that each wait until all 40 are there.
func TestASGIConcurrency(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw, "--workers", "1")
	together(t, s, 40)
}

// together sends n requests that each wait until all n are in flight on
// one worker's event loop.
func together(t *testing.T, s *Server, n int) {
	t.Helper()
	getConcurrently(t, s, n, fmt.Sprintf("/barrier?n=%d", n), "together")()
}

// getConcurrently sends n GETs of path at once, each on a connection of
// its own, and returns a function that waits for them all and reports each
// one that did not answer 200 with body want.
func getConcurrently(t *testing.T, s *Server, n int, path, want string) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client().Get(s.URL(path))
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != want {
				errs <- fmt.Sprintf("GET %s: %d %q", path, resp.StatusCode, b)
			}
		}()
	}
	return func() {
		t.Helper()
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
}

// TestASGILifespan: startup runs before the worker serves, its state
// reaches requests, shutdown runs on SIGTERM.
func TestASGILifespan(t *testing.T) {
	p := newProbeState(t)
	s := StartServerEnv(t, p.Env(), asgiRaw)
	if !p.Exists("startup") {
		t.Fatal("the server listens but the lifespan startup has not run")
	}
	if _, body := get(t, s, "GET", "/state", nil); body != "hello from lifespan" {
		t.Errorf("GET /state: %q", body)
	}
	if p.Exists("shutdown") {
		t.Fatal("shutdown ran before the server was stopped")
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit code %d\n%s", code, s.Stderr)
	}
	if !p.Exists("shutdown") {
		t.Fatalf("SIGTERM: the lifespan shutdown did not run\n%s", s.Stderr)
	}
}

// TestASGILifespanStartupFailed: lifespan.startup.failed is a boot failure
// with the app's message, as an import error is: exit 3, uvicorn's
// "Application startup failed" status and gunicorn's WORKER_BOOT_ERROR.
func TestASGILifespanStartupFailed(t *testing.T) {
	p := newProbeState(t)
	s := startProcessEnv(t, append(p.Env(), "ASGI_STARTUP_FAIL=1"), asgiRaw)
	code := s.Wait(60 * time.Second)
	if code != 3 {
		t.Fatalf("exit code %d, want 3\n%s", code, s.Stderr)
	}
	if !strings.Contains(s.Stderr.String(), "cannot reach the database at db:5432") {
		t.Fatalf("the app's startup.failed message is not in the log:\n%s", s.Stderr)
	}
}

// TestASGILifespanUnsupported: with --lifespan auto (the default), an app
// that raises on the lifespan scope is served without it.
func TestASGILifespanUnsupported(t *testing.T) {
	s, _ := startASGI(t, []string{"ASGI_NO_LIFESPAN=1"}, asgiRaw)
	if _, body := get(t, s, "GET", "/state", nil); body != "no state" {
		t.Errorf("GET /state: %q", body)
	}
	s.WaitLog(t, "does not support the ASGI lifespan protocol", 1, 10*time.Second)
}

// TestASGILifespanReturnsAndShutdownFails: an app that returns from the
// lifespan scope at once is served without it; a shutdown.failed is
// logged with the app's message and the exit is still clean.
func TestASGILifespanReturnsAndShutdownFails(t *testing.T) {
	s, _ := startASGI(t, []string{"ASGI_LIFESPAN_RETURN=1"}, asgiRaw)
	if _, body := get(t, s, "GET", "/state", nil); body != "no state" {
		t.Errorf("GET /state: %q", body)
	}
	s2, p := startASGI(t, []string{"ASGI_SHUTDOWN_FAIL=1"}, asgiRaw)
	if code := s2.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !p.Exists("shutdown") || !strings.Contains(s2.Stderr.String(), "lifespan shutdown failed: could not flush the queue") {
		t.Errorf("shutdown.failed not reported:\n%s", s2.Stderr)
	}
}

// TestASGIPreload: with --preload the template imports the app once and
// each forked worker gets its ASGI slots and runs its own lifespan.
func TestASGIPreload(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw, "--preload", "--workers", "2")
	if !strings.Contains(s.Stderr.String(), "interface=asgi") {
		t.Fatalf("not served as ASGI:\n%s", s.Stderr)
	}
	if _, body := get(t, s, "GET", "/state", nil); body != "hello from lifespan" {
		t.Errorf("GET /state: %q", body)
	}
	c, br, _ := openStream(t, s, "/sse?name=pre")
	readEvents(t, br, 2)
	together(t, s, 30) // more than the sockets the template's fork gave: every slot rides on the one data socket
	c.Close()
	p.WaitFile("pre.disconnected", 15*time.Second)
}

// TestASGI2DoubleCallable: an ASGI 2 class is detected and adapted.
func TestASGI2DoubleCallable(t *testing.T) {
	s, _ := startASGI(t, nil, "tests/testdata/apps/asgi2_app.py")
	if resp, body := get(t, s, "GET", "/x", nil); resp.StatusCode != 200 || body != "asgi2 /x" {
		t.Fatalf("GET /x: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(s.Stderr.String(), "interface=asgi") {
		t.Errorf("not served as ASGI:\n%s", s.Stderr)
	}
}

// TestASGIPathsend: http.response.pathsend hands the file to the front.
func TestASGIPathsend(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	f := filepath.Join(t.TempDir(), "file.bin")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, s, "GET", "/pathsend?file="+f, nil)
	if resp.StatusCode != 200 || body != string(data) || resp.ContentLength != int64(len(data)) {
		t.Fatalf("GET /pathsend: %d, %d bytes (Content-Length %d), want %d", resp.StatusCode, len(body), resp.ContentLength, len(data))
	}
}

// TestASGIBlockedEventLoop: --timeout means the event loop has been
// blocked that long. The blocked worker is killed after its Python stack
// is logged; a long stream on the other worker, far older than the
// timeout, lives on.
func TestASGIBlockedEventLoop(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw, "--workers", "2", "--timeout", "2")
	c, br, resp := openStream(t, s, "/sse?name=long")
	defer c.Close()
	streamPID := resp.Header.Get("X-Pid")
	readEvents(t, br, 3)

	// /block answers 409 on the worker holding the stream: try until it
	// lands on the other one, whose loop it then blocks.
	var status int
	for i := 0; i < 1000; i++ {
		resp, err := client().Get(s.URL("/block?secs=120"))
		if err != nil {
			status = -1
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if status = resp.StatusCode; status != 409 {
			break
		}
	}
	if status != 502 && status != -1 && status != 500 {
		t.Fatalf("the blocking request got %d, want a failure once its worker was killed", status)
	}
	s.WaitLog(t, "event loop blocked past --timeout", 1, 30*time.Second)
	// faulthandler's dump names the blocking line of the app.
	if !waitFor(10*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "asgi_raw.py") }) {
		t.Fatalf("no Python traceback of the blocked code in the log:\n%s", s.Stderr)
	}
	s.WaitLog(t, `msg="worker ready"`, 3, 30*time.Second) // the replacement
	m := regexp.MustCompile(`event loop blocked past --timeout.* pid=(\d+)`).FindStringSubmatch(s.Stderr.String())
	if m == nil || m[1] == streamPID {
		t.Fatalf("the worker killed is not the blocked one (stream on pid %s):\n%s", streamPID, s.Stderr)
	}
	// The stream, older than --timeout by now, still flows.
	readEvents(t, br, 20)
	if n := s.LogCount("event loop blocked"); n != 1 {
		t.Errorf("%d workers killed as blocked, want 1:\n%s", n, s.Stderr)
	}
}

// TestASGIRecycleDrains: --max-requests recycles ASGI workers without a
// failed request, and each retired worker runs its lifespan shutdown.
func TestASGIRecycleDrains(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw, "--workers", "2", "--max-requests", "15")
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				resp, err := client().Get(s.URL("/sleep?secs=0.005"))
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if !ok {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of 150 requests failed while workers recycled\n%s", bad, s.Stderr)
	}
	s.WaitLog(t, "recycling worker", 1, 10*time.Second)
	if !waitFor(20*time.Second, func() bool {
		m, _ := filepath.Glob(p.Path("shutdown.*"))
		return len(m) >= 1
	}) {
		t.Fatalf("no recycled worker ran its lifespan shutdown\n%s", s.Stderr)
	}
}

// TestASGIStarletteFastAPI: real framework apps from Debian's packages.
func TestASGIStarletteFastAPI(t *testing.T) {
	py := debianPython(t, "starlette", "fastapi", "uvloop")
	s, p := startASGI(t, nil, asgiStarlette, "--python", py)
	if !strings.Contains(s.Stderr.String(), "loop=uvloop") {
		t.Errorf("uvloop imports but is not the loop:\n%s", s.Stderr)
	}
	if !p.Exists("startup") {
		t.Fatal("the Starlette lifespan did not run before serving")
	}
	resp, body := get(t, s, "GET", "/", nil)
	if resp.StatusCode != 200 || body != `{"hello":"world","greeting":"hello from the lifespan"}` {
		t.Errorf("GET /: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, s, "GET", "/api/items/5?q=x", nil)
	if resp.StatusCode != 200 || body != `{"item_id":5,"q":"x"}` {
		t.Errorf("FastAPI GET: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, s, "POST", "/api/items", strings.NewReader(`{"name":"pen","price":2.5}`), "Content-Type", "application/json")
	if resp.StatusCode != 200 || body != `{"name":"pen","price_with_tax":3.0}` {
		t.Errorf("FastAPI POST: %d %s", resp.StatusCode, body)
	}
	resp, _ = get(t, s, "POST", "/api/items", strings.NewReader(`{"name":"pen"}`), "Content-Type", "application/json")
	if resp.StatusCode != 422 {
		t.Errorf("FastAPI POST without a price: %d, want 422", resp.StatusCode)
	}
	resp, body = get(t, s, "GET", "/stream", nil)
	if resp.StatusCode != 200 || body != "line 0\nline 1\nline 2\nline 3\nline 4\n" {
		t.Errorf("StreamingResponse: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, s, "POST", "/upload", bytes.NewReader(make([]byte, 3<<20)))
	if resp.StatusCode != 200 || body != fmt.Sprint(3<<20) {
		t.Errorf("POST /upload: %d %q", resp.StatusCode, body)
	}
	// An endless StreamingResponse cut by the client: Starlette 0.26
	// stops it on http.disconnect.
	c, br, _ := openStream(t, s, "/events?name=ev")
	readEvents(t, br, 3)
	c.Close()
	p.WaitFile("ev.closed", 15*time.Second)

	if code := s.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !p.Exists("shutdown") {
		t.Errorf("the Starlette lifespan shutdown did not run on SIGTERM\n%s", s.Stderr)
	}
}

// TestASGIDjango: Django's asgi.py entry point, an async view on the
// event loop and a sync view in asgiref's thread executor. Django refuses
// the lifespan scope: with --lifespan auto it is served without it.
func TestASGIDjango(t *testing.T) {
	py := debianPython(t, "django")
	s, _ := startASGI(t, nil, "tests/testdata/apps/asgi_django.py:application", "--python", py)
	resp, body := get(t, s, "GET", "/async?q=ok", nil)
	if resp.StatusCode != 200 || body != `{"view": "async", "thread": true, "q": "ok"}` {
		t.Errorf("async view: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, s, "GET", "/sync", nil)
	if resp.StatusCode != 200 || body != `{"view": "sync", "main_thread": false}` {
		t.Errorf("sync view: %d %s", resp.StatusCode, body)
	}
	data := bytes.Repeat([]byte("django "), 200000)
	resp, body = get(t, s, "POST", "/echo", bytes.NewReader(data))
	if resp.StatusCode != 200 || body != string(data) {
		t.Errorf("POST /echo: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(t, s, "GET", "/stream", nil)
	if resp.StatusCode != 200 || body != "part 0\npart 1\npart 2\n" {
		t.Errorf("StreamingHttpResponse: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(s.Stderr.String(), "does not support the ASGI lifespan protocol") {
		t.Errorf("no notice that the lifespan is off:\n%s", s.Stderr)
	}
}

// TestASGIQuart: a Quart app, with its before/after_serving lifespan.
func TestASGIQuart(t *testing.T) {
	py := debianPython(t, "quart")
	s, p := startASGI(t, nil, "tests/testdata/apps/asgi_quart.py:app", "--python", py)
	if !p.Exists("quart.startup") {
		t.Fatal("before_serving did not run before the server listened")
	}
	resp, body := get(t, s, "GET", "/?x=1", nil)
	if resp.StatusCode != 200 || body != `{"args":"1","framework":"quart"}` {
		t.Errorf("GET /: %d %s", resp.StatusCode, body)
	}
	data := bytes.Repeat([]byte("q"), 2<<20)
	resp, body = get(t, s, "POST", "/echo", bytes.NewReader(data))
	if resp.StatusCode != 200 || body != string(data) {
		t.Errorf("POST /echo: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(t, s, "GET", "/stream", nil)
	if resp.StatusCode != 200 || body != "quart 0\nquart 1\nquart 2\n" {
		t.Errorf("GET /stream: %d %q", resp.StatusCode, body)
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !p.Exists("quart.shutdown") {
		t.Errorf("after_serving did not run on SIGTERM\n%s", s.Stderr)
	}
}

// TestASGIFalcon: a falcon.asgi app.
func TestASGIFalcon(t *testing.T) {
	py := debianPython(t, "falcon.asgi")
	s, _ := startASGI(t, nil, "tests/testdata/apps/asgi_falcon.py:app", "--python", py)
	resp, body := get(t, s, "GET", "/things/pen?q=blue", nil)
	if resp.StatusCode != 200 || body != `{"framework": "falcon.asgi", "name": "pen", "q": "blue"}` {
		t.Errorf("GET: %d %s", resp.StatusCode, body)
	}
	data := bytes.Repeat([]byte("f"), 1<<20+3)
	resp, body = get(t, s, "POST", "/things/pen", bytes.NewReader(data))
	if resp.StatusCode != 200 || body != string(data) {
		t.Errorf("POST: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(t, s, "GET", "/stream", nil)
	if resp.StatusCode != 200 || body != "falcon 0\nfalcon 1\nfalcon 2\n" {
		t.Errorf("GET /stream: %d %q", resp.StatusCode, body)
	}
}

// TestASGIReloadDrains: a HUP reload lets the old worker finish the
// request it holds (no 502), then runs its lifespan shutdown.
func TestASGIReloadDrains(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw)
	held := sendAsync(t, s.Addr, "GET", "/hold?name=h1")
	p.WaitEntered("h1")
	oldPID, _ := os.ReadFile(p.Path("h1.entered"))
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "reload complete", 1, 60*time.Second)
	// New requests go to the new generation while the old one drains.
	_, body := get(t, s, "GET", "/pid", nil)
	if body == string(oldPID) {
		t.Fatalf("a request went to the draining worker %s", oldPID)
	}
	if p.Exists("shutdown." + string(oldPID)) {
		t.Fatal("the old worker shut down with a request in flight")
	}
	p.Release("h1")
	r := held.wait(30 * time.Second)
	if r.status != 200 || r.body != "released by "+string(oldPID) {
		t.Fatalf("the held request got %d %q, want 200 from the old worker", r.status, r.body)
	}
	p.WaitFile("shutdown."+string(oldPID), 30*time.Second)
}

// TestASGIExampleStarlette: examples/starlette serves as its docstring says.
func TestASGIExampleStarlette(t *testing.T) {
	py := debianPython(t, "starlette", "fastapi")
	s, _ := startASGI(t, nil, "examples/starlette/app.py", "--python", py)
	resp, body := get(t, s, "POST", "/api/todos", strings.NewReader(`{"title":"try gowsgi"}`), "Content-Type", "application/json")
	if resp.StatusCode != 201 || body != `{"title":"try gowsgi","done":false}` {
		t.Errorf("POST /api/todos: %d %s", resp.StatusCode, body)
	}
	if _, body = get(t, s, "GET", "/api/todos", nil); body != `[{"title":"try gowsgi","done":false}]` {
		t.Errorf("GET /api/todos: %s", body)
	}
	if _, body = get(t, s, "POST", "/upload", bytes.NewReader(make([]byte, 100000))); body != "100000 bytes\n" {
		t.Errorf("POST /upload: %q", body)
	}
	c, br, _ := openStream(t, s, "/events")
	defer c.Close()
	readEvents(t, br, 1)
}

// TestASGIOverHTTP2: an h2c stream is an ASGI request with http_version
// "2", a host header from :authority, and streams both ways.
func TestASGIOverHTTP2(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw, "--http2-cleartext", "prior-knowledge")
	c := h2Client(nil, "")
	resp, body := do(t, c, "GET", s.URL("/scope"), nil, "X-Dup", "a")
	if resp.ProtoMajor != 2 || !strings.Contains(body, `"http_version": "2"`) || !strings.Contains(body, `["host", "`+s.Addr+`"]`) {
		t.Errorf("h2c: %s %s", resp.Proto, body)
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	sum := sha256.Sum256(data)
	resp, body = do(t, c, "POST", s.URL("/echo"), bytes.NewReader(data))
	if resp.StatusCode != 200 || !strings.Contains(body, hex.EncodeToString(sum[:])) {
		t.Errorf("h2c POST /echo: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, c, "GET", s.URL("/stream?n=3"), nil)
	if resp.StatusCode != 200 || body != "chunk 0\nchunk 1\nchunk 2\n" {
		t.Errorf("h2c GET /stream: %d %q", resp.StatusCode, body)
	}
}

// TestASGIServerHooks: gunicorn's worker-side hooks run for ASGI requests
// and at the worker's graceful exit.
func TestASGIServerHooks(t *testing.T) {
	p := newProbeState(t)
	conf := p.Path("hooks.py")
	hooks := `import os
D = os.environ['PROBE_STATE_DIR']
def mark(name, text):
    with open(os.path.join(D, name + '.tmp'), 'w') as f:
        f.write(text)
    os.replace(os.path.join(D, name + '.tmp'), os.path.join(D, name))
def pre_request(worker, req):
    mark('pre' + req.path.replace('/', '.'), req.method)
def post_request(worker, req, environ, resp):
    mark('post' + req.path.replace('/', '.'), str(resp.status_code))
    mark('server' + req.path.replace('/', '.'), environ['SERVER_NAME'] + ' ' + environ['SERVER_PORT'])
def worker_exit(server, worker):
    mark('worker_exit', '')
`
	if err := os.WriteFile(conf, []byte(hooks), 0o644); err != nil {
		t.Fatal(err)
	}
	s := StartServerEnv(t, p.Env(), asgiRaw, "-c", conf)
	get(t, s, "GET", "/headers", nil)
	get(t, s, "GET", "/error-before", nil)
	p.WaitFile("post.headers", 10*time.Second)
	p.WaitFile("post.error-before", 10*time.Second)
	// A head the front refuses (a str header name) still ends with post_request.
	if resp, _ := get(t, s, "GET", "/head-shapes?kind=str", nil); resp.StatusCode != 500 {
		t.Errorf("a str header name: status %d, want 500", resp.StatusCode)
	}
	p.WaitFile("post.head-shapes", 10*time.Second)
	if b, _ := os.ReadFile(p.Path("pre.headers")); string(b) != "GET" {
		t.Errorf("pre_request saw method %q", b)
	}
	if b, _ := os.ReadFile(p.Path("post.headers")); string(b) != "201" {
		t.Errorf("post_request saw status %q, want 201", b)
	}
	if b, _ := os.ReadFile(p.Path("post.head-shapes")); string(b) != "500" {
		t.Errorf("post_request saw status %q for a head the front refused, want 500", b)
	}
	// The hooks' environ is WSGI's: SERVER_NAME and SERVER_PORT are the
	// Host's (PEP 3333), where the scope's server is the listening address.
	if b, _ := os.ReadFile(p.Path("server.headers")); string(b) != "127.0.0.1 "+strconv.Itoa(s.port()) {
		t.Errorf("post_request's environ: SERVER_NAME SERVER_PORT %q, want the Host's %s", b, s.Addr)
	}
	raw(t, s.Addr, "GET /headers HTTP/1.1\r\nHost: example.com:8443\r\nConnection: close\r\n\r\n", 5*time.Second)
	if !waitFor(10*time.Second, func() bool { b, _ := os.ReadFile(p.Path("server.headers")); return string(b) == "example.com 8443" }) {
		b, _ := os.ReadFile(p.Path("server.headers"))
		t.Errorf("post_request's environ with Host example.com:8443: SERVER_NAME SERVER_PORT %q", b)
	}
	if b, _ := os.ReadFile(p.Path("post.error-before")); string(b) != "500" {
		t.Errorf("post_request saw status %q for a failed request, want 500", b)
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !p.Exists("worker_exit") || !p.Exists("shutdown") {
		t.Errorf("worker_exit %v, lifespan shutdown %v: both must run at a graceful exit\n%s", p.Exists("worker_exit"), p.Exists("shutdown"), s.Stderr)
	}
}

// TestASGITLS: over TLS the scope's scheme is https and its tls extension
// has the session's version and cipher suite and the client's certificate.
func TestASGITLS(t *testing.T) {
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	_, _, alice := p.issue("alice", "alice", nil, true)
	s, _ := startASGI(t, nil, asgiRaw, "--certfile", cf, "--keyfile", kf, "--ca-certs", p.file, "--cert-reqs", "1")
	resp, err := p.tlsClient("localhost", alice).Get("https://" + s.Addr + "/scope")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var scope struct {
		Scheme     string `json:"scheme"`
		Extensions struct {
			TLS *struct {
				Version int      `json:"tls_version"`
				Cipher  int      `json:"cipher_suite"`
				Name    string   `json:"client_cert_name"`
				Chain   []string `json:"client_cert_chain"`
			} `json:"tls"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(body, &scope); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	x := scope.Extensions.TLS
	if scope.Scheme != "https" || x == nil {
		t.Fatalf("scheme %q, tls extension %v: %s", scope.Scheme, x, body)
	}
	if x.Version != 0x0304 || x.Cipher == 0 || x.Name != "CN=alice,O=Example Org" ||
		len(x.Chain) != 1 || !strings.HasPrefix(x.Chain[0], "-----BEGIN CERTIFICATE-----\n") {
		t.Errorf("tls extension: %+v", x)
	}
	// Without TLS, no tls extension.
	s2, _ := startASGI(t, nil, asgiRaw)
	if _, body := get(t, s2, "GET", "/scope", nil); strings.Contains(body, `"tls"`) {
		t.Errorf("a plain connection's scope has a tls extension: %s", body)
	}
}

// TestASGIOptions: --lifespan on makes an app that raises on the lifespan
// scope a boot failure; --lifespan off never sends it; --loop asyncio is
// honoured; --interface asgi starts workers in the ASGI shape at once;
// --limit-concurrency bounds the requests in flight (the next one waits).
func TestASGIOptions(t *testing.T) {
	p := newProbeState(t)
	s := startProcessEnv(t, append(p.Env(), "ASGI_NO_LIFESPAN=1"), asgiRaw, "--lifespan", "on")
	if code := s.Wait(60 * time.Second); code != 3 {
		t.Fatalf("--lifespan on, app raising on lifespan: exit %d, want 3\n%s", code, s.Stderr)
	}
	if !strings.Contains(s.Stderr.String(), "this app does not do lifespan") {
		t.Errorf("the app's exception is not in the log:\n%s", s.Stderr)
	}

	s2, p2 := startASGI(t, nil, asgiRaw, "--lifespan", "off", "--loop", "asyncio", "--interface", "asgi",
		"--limit-concurrency", "3", "--log-level", "debug")
	if p2.Exists("startup") {
		t.Error("--lifespan off: the startup ran")
	}
	for _, want := range []string{"loop=asyncio", "limit_concurrency=3", "interface=asgi"} {
		if !strings.Contains(s2.Stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, s2.Stderr)
		}
	}
	var held []*pending
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("c%d", i)
		held = append(held, sendAsync(t, s2.Addr, "GET", "/hold?name="+name))
		p2.WaitEntered(name)
	}
	fourth := sendAsync(t, s2.Addr, "GET", "/hold?name=c3")
	s2.waitQueued(t, 0, 1, fourth)
	if p2.Exists("c3.entered") {
		t.Fatal("a fourth request ran beside three with --limit-concurrency 3")
	}
	p2.Release("c0")
	p2.WaitEntered("c3")
	for i := 1; i < 4; i++ {
		p2.Release(fmt.Sprintf("c%d", i))
	}
	for i, h := range append(held, fourth) {
		if r := h.wait(20 * time.Second); r.status != 200 {
			t.Errorf("request %d: %d %v", i, r.status, r.err)
		}
	}
}

// TestASGIScaleDownDrains: SIGTTOU retires a worker (the lowest-numbered)
// only once its request in flight has finished, then runs its lifespan
// shutdown; with --limit-concurrency 1 each worker holds one request, and
// past both, with --max-queue 1, one waits and the next gets 503
// (uvicorn's test_max_concurrency, with gowsgi's queue in between).
func TestASGIScaleDownDrains(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw, "--workers", "2", "--limit-concurrency", "1", "--max-queue", "1")
	a := sendAsync(t, s.Addr, "GET", "/hold?name=a")
	p.WaitEntered("a")
	b := sendAsync(t, s.Addr, "GET", "/hold?name=b")
	p.WaitEntered("b")
	pidA, _ := os.ReadFile(p.Path("a.entered"))
	pidB, _ := os.ReadFile(p.Path("b.entered"))
	if string(pidA) == string(pidB) {
		t.Fatalf("two requests on one worker with --limit-concurrency 1 (pid %s)", pidA)
	}
	queued := sendAsync(t, s.Addr, "GET", "/stream?n=1")
	s.waitRead(t, queued)
	if resp, _ := get(t, s, "GET", "/stream?n=1", nil); resp.StatusCode != 503 {
		t.Errorf("past the slots and the queue: %d, want 503", resp.StatusCode)
	}
	p.Release("a") // the queued request runs where a was
	if r := queued.wait(20 * time.Second); r.status != 200 {
		t.Fatalf("the queued request: %d %v", r.status, r.err)
	}

	held := sendAsync(t, s.Addr, "GET", "/hold?name=c")
	p.WaitEntered("c")
	s.Signal(syscall.SIGTTOU)
	s.WaitLog(t, "removing a worker", 1, 10*time.Second)
	for _, h := range []struct {
		name string
		pend *pending
	}{{"b", b}, {"c", held}} {
		pid, _ := os.ReadFile(p.Path(h.name + ".entered"))
		if p.Exists("shutdown." + string(pid)) {
			t.Fatalf("worker %s shut down with request %s in flight", pid, h.name)
		}
		p.Release(h.name)
		if r := h.pend.wait(20 * time.Second); r.status != 200 {
			t.Errorf("request %s during scale-down: %d %v", h.name, r.status, r.err)
		}
	}
	if r := a.wait(20 * time.Second); r.status != 200 {
		t.Errorf("request a: %d %v", r.status, r.err)
	}
	s.WaitLog(t, "worker retired", 1, 30*time.Second)
	if !waitFor(20*time.Second, func() bool {
		m, _ := filepath.Glob(p.Path("shutdown.*"))
		return len(m) == 1
	}) {
		t.Fatalf("the retired worker did not run its lifespan shutdown\n%s", s.Stderr)
	}
}

// TestASGIDifferentialUvicorn: the Starlette/FastAPI app answers the same
// requests alike under gowsgi and under Debian's uvicorn: status, body and
// content type. (asgi_realapps_test.go compares more apps, and more of
// each answer, with the same uvicorn: startUvicorn.)
func TestASGIDifferentialUvicorn(t *testing.T) {
	py := debianPython(t, "starlette", "fastapi", "uvicorn")
	s, p := startASGI(t, []string{"NO_LIFESPAN_STATE=1"}, asgiStarlette, "--python", py)
	uvAddr := startUvicorn(t, py, append(p.Env(), "NO_LIFESPAN_STATE=1"), "asgi_starlette:app")
	type req struct{ method, path, ctype, body string }
	for _, r := range []req{
		{"GET", "/", "", ""},
		{"GET", "/api/items/5?q=x", "", ""},
		{"GET", "/api/items/abc", "", ""},
		{"GET", "/api/nowhere", "", ""},
		{"POST", "/api/items", "application/json", `{"name":"pen","price":2.5}`},
		{"POST", "/api/items", "application/json", `{"name":`},
		{"GET", "/stream", "", ""},
		{"HEAD", "/", "", ""},
		{"POST", "/upload", "application/octet-stream", strings.Repeat("u", 300000)},
		{"PUT", "/upload", "", ""},
	} {
		var got [2]string
		for i, addr := range []string{s.Addr, uvAddr} {
			hr, err := http.NewRequest(r.method, "http://"+addr+r.path, strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			if r.ctype != "" {
				hr.Header.Set("Content-Type", r.ctype)
			}
			resp, err := client().Do(hr)
			if err != nil {
				t.Fatalf("%s %s: %v", r.method, r.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[i] = fmt.Sprintf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if got[0] != got[1] {
			t.Errorf("%s %s:\n gowsgi  %s\n uvicorn %s", r.method, r.path, got[0], got[1])
		}
	}
}

// TestASGIDisconnectBeforeResponse: a client that closes (FIN) or resets
// its connection while the app has not answered yet is http.disconnect in
// receive() at once, and the worker serves on.
func TestASGIDisconnectBeforeResponse(t *testing.T) {
	s, p := startASGI(t, nil, asgiRaw)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
	p.WaitFile("wait-disconnect.entered", 15*time.Second)
	c.Close()
	p.WaitFile("wait-disconnect.http.disconnect", 15*time.Second)
	os.Remove(p.Path("wait-disconnect.entered"))
	os.Remove(p.Path("wait-disconnect.http.disconnect"))

	c, err = net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
	p.WaitFile("wait-disconnect.entered", 15*time.Second)
	c.(*net.TCPConn).SetLinger(0) // Close resets the connection
	c.Close()
	p.WaitFile("wait-disconnect.http.disconnect", 15*time.Second)
	if resp, body := get(t, s, "GET", "/stream?n=1", nil); resp.StatusCode != 200 || body != "chunk 0\n" {
		t.Fatalf("after the disconnect: %d %q", resp.StatusCode, body)
	}
}
