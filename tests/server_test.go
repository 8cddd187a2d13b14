package tests

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const probe = "tests/testdata/apps/probe.py"

func envOf(t *testing.T, s *Server, path string, hdr ...string) map[string]any {
	t.Helper()
	resp, body := get(t, s, "GET", path, nil, hdr...)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("GET %s: %v in %q", path, err, body)
	}
	return env
}

// The seed's session: curl the playground, see the greeting and a Common Log
// Format line like wsgiref's.
func TestSeedPlayground(t *testing.T) {
	port := freePort(t)
	s := StartServer(t, "examples/cloudacademy/playground.py", "--bind", fmt.Sprintf(":%d", port))
	_ = s
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	resp, body := get(t, s, "GET", "/", nil, "User-Agent", "curl/7.88.1")
	if resp.StatusCode != 200 || body != "Hello, WSGI!\n" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
	// A generator done after one block is a body known whole: it gets a
	// Content-Length, as a one-item list does, not chunked framing.
	if resp.ContentLength != 13 || len(resp.TransferEncoding) > 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %v; want 13 and none", resp.ContentLength, resp.TransferEncoding)
	}
	if resp.Header.Get("Date") == "" || resp.Header.Get("Server") == "" {
		t.Errorf("Date/Server missing: %v", resp.Header)
	}
	line := regexp.MustCompile(`(?m)^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET / HTTP/1\.1" 200 13 "-" "curl/7\.88\.1"$`)
	if !waitFor(5*time.Second, func() bool { return line.MatchString(s.Stdout.String()) }) {
		t.Fatalf("no access log line like the seed's; stdout:\n%s", s.Stdout)
	}
}

func TestLoadTargets(t *testing.T) {
	cases := []struct {
		name string
		args []string
		path string
		want string
	}{
		{"module:callable", []string{"probe:app", "--chdir", "tests/testdata/apps"}, "/", "hello from probe\n"},
		{"module, app", []string{"probe", "--pythonpath", "tests/testdata/apps"}, "/", "hello from probe\n"},
		{"module, application", []string{"only_application", "--pythonpath", "tests/testdata/apps"}, "/", "application found\n"},
		{"file.py", []string{probe}, "/", "hello from probe\n"},
		{"file.py:callable", []string{probe + ":app"}, "/", "hello from probe\n"},
		{"factory()", []string{"probe:create_app()", "--chdir", "tests/testdata/apps"}, "/", "factory pid="},
		{"factory(args)", []string{probe + ":create_app('hi there')"}, "/", "hi there pid="},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := StartServer(t, c.args...)
			resp, body := get(t, s, "GET", c.path, nil)
			if resp.StatusCode != 200 || !strings.HasPrefix(body, c.want) {
				t.Fatalf("got %d %q, want %q", resp.StatusCode, body, c.want)
			}
		})
	}
}

// TestLoadErrors: an app that does not load is a boot failure with the
// reason, and exits as gunicorn's arbiter does (README, "Exit statuses"):
// 4 (APP_LOAD_ERROR) when the module imported but has no such callable,
// 3 (WORKER_BOOT_ERROR) when the module itself did not import.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name   string
		target string
		code   int
		want   []string
	}{
		{"no such module", "no_such_module_xyz", 3, []string{"gowsgi: cannot load no_such_module_xyz: no module named 'no_such_module_xyz'"}},
		{"no such file", "missing/dir/app.py", 3, []string{"file not found: missing/dir/app.py"}},
		{"wrong callable", "tests/testdata/apps/wrong_name.py", 4, []string{"has no callable 'app' or 'application'", "make_wsgi", "helper"}},
		{"named callable missing", "tests/testdata/apps/only_application.py:app", 4, []string{"has no attribute 'app'", "callables it defines: application"}},
		{"seed app vs application", "examples/cloudacademy/playground.py:application", 4, []string{"has no attribute 'application'", "app"}},
		{"import error", "tests/testdata/apps/broken_import.py", 3, []string{"Traceback (most recent call last)", "ModuleNotFoundError: No module named 'this_module_does_not_exist_anywhere'", "broken_import.py\", line 2"}},
		{"not callable", "tests/testdata/apps/not_callable.py", 4, []string{"is a str, not a callable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := freePort(t)
			code, _, stderr := runGowsgi(t, 60*time.Second, c.target, "--bind", fmt.Sprintf("127.0.0.1:%d", port))
			if code != c.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, c.code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "listening") {
				t.Errorf("bound a port before the app loaded:\n%s", stderr)
			}
		})
	}
}

// --python pointing at an interpreter older than 3.8 gives one clear line.
func TestOldPythonRefused(t *testing.T) {
	// A stand-in interpreter that reports Python 3.7 and otherwise runs the
	// real one: it receives "-c LOADER CONFIG" as gowsgi passes them.
	fake := filepath.Join(t.TempDir(), "python3.7")
	script := "#!/bin/sh\nshift\nexec " + pythonBin + " -c 'import sys; sys.version_info = (3, 7, 17); sys.version = \"3.7.17 (fake)\"; code = sys.argv[1]; sys.argv = sys.argv[1:]; exec(code)' \"$@\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runGowsgi(t, 60*time.Second, probe, "--python", fake, "--bind", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if code != 3 || !strings.Contains(stderr, "is Python 3.7.17; gowsgi needs Python 3.8 or newer") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestBindForms(t *testing.T) {
	t.Run("port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		code, _, stderr := runGowsgi(t, 60*time.Second, probe, "--bind", l.Addr().String())
		want := "gowsgi: cannot listen on " + l.Addr().String() + ": address already in use"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("ipv6", func(t *testing.T) {
		l, err := net.Listen("tcp", "[::1]:0")
		if err != nil {
			t.Fatalf("this machine has no IPv6 loopback: %v", err)
		}
		addr := l.Addr().String()
		l.Close()
		s := StartServer(t, probe, "--bind", addr)
		resp, body := get(t, s, "GET", "/", nil)
		if resp.StatusCode != 200 || body != "hello from probe\n" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("unix and tcp together", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "g.sock")
		port := freePort(t)
		s := StartServer(t, probe, "--bind", "unix:"+sock, "-b", fmt.Sprintf("127.0.0.1:%d", port))
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		c := &http.Client{Transport: &http.Transport{DialContext: func(_ context.Context, _, _ string) (net.Conn, error) {
			return net.Dial("unix", sock)
		}}}
		resp, err := c.Get("http://unix/env")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"PATH_INFO": "/env"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if r, body := get(t, s, "GET", "/", nil); r.StatusCode != 200 || body != "hello from probe\n" {
			t.Fatalf("tcp side: %d %q", r.StatusCode, body)
		}
		if code := s.Stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("socket file left behind: %v", err)
		}
	})
	t.Run("bad bind", func(t *testing.T) {
		// A bare host is gunicorn's HOST (port 8000); a bad port is refused.
		code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--bind", "localhost:http")
		if code != 2 || !strings.Contains(stderr, `port "http" is not a number`) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}

func TestWorkersAndThreads(t *testing.T) {
	s := StartServer(t, probe, "-w", "2", "--threads", "3")
	env := envOf(t, s, "/env")
	if env["wsgi.multithread"] != true || env["wsgi.multiprocess"] != true {
		t.Fatalf("multithread %v multiprocess %v", env["wsgi.multithread"], env["wsgi.multiprocess"])
	}
	pids := map[float64]bool{}
	for i := 0; i < 40 && len(pids) < 2; i++ {
		pids[envOf(t, s, "/env")["_pid"].(float64)] = true
	}
	if len(pids) != 2 {
		t.Fatalf("requests reached %d worker processes, want 2", len(pids))
	}
	single, st := StartProbe(t, "-w", "1", "--threads", "1", "--log-level", "debug")
	env = envOf(t, single, "/env")
	if env["wsgi.multithread"] != false || env["wsgi.multiprocess"] != false {
		t.Fatalf("single: multithread %v multiprocess %v", env["wsgi.multithread"], env["wsgi.multiprocess"])
	}
	// With one slot, a second request waits for the first instead of
	// failing. It waits queued or, when the first had only just begun,
	// pipelined behind it.
	first := sendAsync(t, single.Addr, "GET", "/block?name=first")
	st.WaitEntered("first")
	second := sendAsync(t, single.Addr, "GET", "/")
	single.waitRead(t, second)
	if second.answered() {
		t.Fatalf("second request answered while the only slot was held: %+v", second.wait(0))
	}
	st.Release("first")
	if r := second.wait(20 * time.Second); r.status != 200 || r.body != "hello from probe\n" {
		t.Fatalf("queued request: %d %q %v", r.status, r.body, r.err)
	}
	if r := first.wait(20 * time.Second); r.status != 200 {
		t.Fatalf("held request: %d %v", r.status, r.err)
	}
}

// Many keep-alive clients on one worker thread: the front pipelines their
// requests, and the worker holds finished responses while more requests
// are queued (worker.py, Slot.finish). Every response must still come
// whole, to the right client, whatever its frames: Whole, Start/Body/End
// (streams, write(), a large generator), File (sendfile), Error.
func TestLoadPipelinedResponses(t *testing.T) {
	s := StartServer(t, probe, "-w", "1", "--threads", "1")
	file := filepath.Join(t.TempDir(), "f.txt")
	fileData := strings.Repeat("pipelined file ", 200)
	if err := os.WriteFile(file, []byte(fileData), 0o644); err != nil {
		t.Fatal(err)
	}
	const clients, rounds = 40, 60
	errs := make(chan string, clients)
	for c := 0; c < clients; c++ {
		go func() {
			hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer hc.CloseIdleConnections()
			for i := 0; i < rounds; i++ {
				path, wantCode, want := "/", 200, "hello from probe\n"
				var body io.Reader
				switch (c + i) % 8 {
				case 1:
					path, wantCode, want = "/status?s=201+Made", 201, "custom status\n"
				case 2:
					path, want = "/stream?n=3", "chunk 0\nchunk 1\nchunk 2\n"
				case 3:
					path, want = "/write", "written-1 written-2 returned"
				case 4:
					path, want = "/filewrapper?path="+file, fileData
				case 5:
					msg := fmt.Sprintf("client %d round %d", c, i)
					path, want, body = "/echo", `"data": "`+msg+`"`, strings.NewReader(msg)
				case 6:
					path, want = "/big?n=100000", strings.Repeat("0123456789abcdef", 4096)[:65536]
				case 7:
					path, wantCode, want = "/raise-before", 500, ""
				}
				method := "GET"
				if body != nil {
					method = "POST"
				}
				req, _ := http.NewRequest(method, s.URL(path), body)
				resp, err := hc.Do(req)
				if err != nil {
					errs <- fmt.Sprintf("client %d, %s %s: %v", c, method, path, err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				got := string(b)
				ok := err == nil && resp.StatusCode == wantCode
				switch {
				case !ok:
				case (c+i)%8 == 5:
					ok = strings.Contains(got, want)
				case (c+i)%8 == 6:
					ok = len(got) == 100000 && strings.HasPrefix(got, want)
				case wantCode != 500:
					ok = got == want
				}
				if !ok {
					errs <- fmt.Sprintf("client %d, %s %s: %d %.80q %v", c, method, path, resp.StatusCode, got, err)
					return
				}
			}
			errs <- ""
		}()
	}
	for c := 0; c < clients; c++ {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

func TestWorkerCrash(t *testing.T) {
	s := StartServer(t, probe, "-w", "1")
	before := envOf(t, s, "/env")["_pid"]
	resp, _ := get(t, s, "GET", "/crash", nil)
	if resp.StatusCode != 502 {
		t.Fatalf("crash: status %d, want 502", resp.StatusCode)
	}
	var after any
	if !waitFor(10*time.Second, func() bool {
		r, err := client().Get(s.URL("/env"))
		if err != nil {
			return false
		}
		defer r.Body.Close()
		var env map[string]any
		json.NewDecoder(r.Body).Decode(&env)
		after = env["_pid"]
		return r.StatusCode == 200
	}) {
		t.Fatal("no replacement worker served a request")
	}
	if after == before {
		t.Fatalf("same pid %v after crash", after)
	}
	if !strings.Contains(s.Stderr.String(), "worker died while serving a request") ||
		!strings.Contains(s.Stderr.String(), "exit status 7") || !strings.Contains(s.Stderr.String(), "GET /crash") {
		t.Errorf("crash not logged with status and request:\n%s", s.Stderr)
	}
	// Dying after the head went out: the client sees a cut response. (A
	// worker that dies while it still holds a small first block back, to
	// join it with the next, has sent nothing: that client gets a 502.)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /crash?after=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	out := readUntilQuiet(c, 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 200") || strings.HasSuffix(out, "0\r\n\r\n") {
		t.Fatalf("mid-stream crash: %q", out)
	}
}

// A worker that sends a malformed frame is killed and replaced; the server
// itself carries on.
func TestMalformedFrameKillsWorker(t *testing.T) {
	s := StartServer(t, probe, "-w", "1", "--threads", "1")
	before := envOf(t, s, "/env")["_pid"]
	resp, body := get(t, s, "GET", "/garbage", nil)
	if resp.StatusCode != 502 || strings.Contains(body, "never relayed") {
		t.Fatalf("garbage frame: %d %q", resp.StatusCode, body)
	}
	if !waitFor(10*time.Second, func() bool {
		r, err := client().Get(s.URL("/"))
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	}) {
		t.Fatal("server did not recover")
	}
	if after := envOf(t, s, "/env")["_pid"]; after == before {
		t.Fatalf("worker %v was not replaced", before)
	}
	if !strings.Contains(s.Stderr.String(), "protocol error from worker") {
		t.Errorf("protocol error not logged:\n%s", s.Stderr)
	}
}

func TestEnviron(t *testing.T) {
	s := StartServer(t, probe)
	env := envOf(t, s, "/env/caf%C3%A9/a%2Fb?x=1&y=%20z",
		"X-Dup", "one", "X_Spoofed", "evil", "Content-Type", "text/x-test", "User-Agent", "probe-test")
	want := map[string]any{
		"REQUEST_METHOD":        "GET",
		"SCRIPT_NAME":           "",
		"PATH_INFO":             "/env/caf\u00c3\u00a9/a/b",
		"QUERY_STRING":          "x=1&y=%20z",
		"REQUEST_URI":           "/env/caf%C3%A9/a%2Fb?x=1&y=%20z",
		"RAW_URI":               "/env/caf%C3%A9/a%2Fb?x=1&y=%20z",
		"SERVER_PROTOCOL":       "HTTP/1.1",
		"SERVER_NAME":           "127.0.0.1",
		"SERVER_PORT":           strings.Split(s.Addr, ":")[1],
		"REMOTE_ADDR":           "127.0.0.1",
		"CONTENT_TYPE":          "text/x-test",
		"HTTP_USER_AGENT":       "probe-test",
		"HTTP_HOST":             s.Addr,
		"wsgi.url_scheme":       "http",
		"wsgi.input_terminated": true,
		"wsgi.run_once":         false,
		"wsgi.multithread":      false,
		"wsgi.multiprocess":     false,
		"wsgi.input":            "BytesIO",
		"wsgi.errors":           "TextIOWrapper",
		"wsgi.file_wrapper":     "type",
		"_input_hasattrs":       true,
	}
	for k, v := range want {
		if fmt.Sprint(env[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, env[k], v)
		}
	}
	if fmt.Sprint(env["wsgi.version"]) != "[1 0]" {
		t.Errorf("wsgi.version %v", env["wsgi.version"])
	}
	if _, ok := env["REMOTE_PORT"]; !ok {
		t.Error("REMOTE_PORT missing")
	}
	for _, k := range []string{"HTTP_X_SPOOFED", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "CONTENT_LENGTH"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s must not be set: %v", k, env[k])
		}
	}

	// Duplicate headers joined with ",", underscore names dropped (raw socket:
	// Go's client would merge them itself).
	out := raw(t, s.Addr, "GET /env HTTP/1.1\r\nHost: h.example:8080\r\nX-Dup: a\r\nX-Dup: b\r\nX_Dup: spoof\r\nConnection: close\r\n\r\n", 5*time.Second)
	_, body, _ := strings.Cut(out, "\r\n\r\n")
	if i := strings.Index(body, "{"); i >= 0 {
		body = body[i : strings.LastIndex(body, "}")+1]
	}
	var env2 map[string]any
	if err := json.Unmarshal([]byte(body), &env2); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if env2["HTTP_X_DUP"] != "a,b" || env2["SERVER_NAME"] != "h.example" || env2["SERVER_PORT"] != "8080" {
		t.Errorf("HTTP_X_DUP %v SERVER_NAME %v SERVER_PORT %v", env2["HTTP_X_DUP"], env2["SERVER_NAME"], env2["SERVER_PORT"])
	}

	// Latin-1: a raw byte 0xE9 in the path reaches the app as U+00E9.
	env3 := envOf(t, s, "/env/%E9t%E9")
	if env3["PATH_INFO"] != "/env/\u00e9t\u00e9" {
		t.Errorf("PATH_INFO %q", env3["PATH_INFO"])
	}

	rooted := StartServer(t, probe, "--root-path", "/prefix")
	env4 := envOf(t, rooted, "/prefix/env/x")
	if env4["SCRIPT_NAME"] != "/prefix" || env4["PATH_INFO"] != "/env/x" {
		t.Errorf("root path: SCRIPT_NAME %q PATH_INFO %q", env4["SCRIPT_NAME"], env4["PATH_INFO"])
	}
}

func echo(t *testing.T, s *Server, mode string, body string, hdr ...string) map[string]any {
	t.Helper()
	resp, out := get(t, s, "POST", "/echo?mode="+mode, strings.NewReader(body), hdr...)
	if resp.StatusCode != 200 {
		t.Fatalf("echo %s: %d %s", mode, resp.StatusCode, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	return m
}

func TestRequestBodies(t *testing.T) {
	s := StartServer(t, probe, "--body-memory", "64K", "--max-body-size", "1M")
	text := "line one\nline two\nthree\n"
	for mode, want := range map[string]string{
		"read":      text,
		"readn":     text,
		"readline":  "line one\n|line two\n|three\n",
		"readlinen": "line| one|\n|line| two|\n|thre|e\n",
		"readlines": "line one\n|line two\n|three\n",
		"iter":      "line one\n|line two\n|three\n",
	} {
		m := echo(t, s, mode, text)
		if m["data"] != want {
			t.Errorf("%s: got %q want %q", mode, m["data"], want)
		}
	}

	// A body over --body-memory is spooled and read through a real file.
	big := strings.Repeat("0123456789abcdef", 40000) // 640000 bytes
	m := echo(t, s, "read", big)
	sum := sha1.Sum([]byte(big))
	if m["len"] != float64(len(big)) || m["sha1"] != hex.EncodeToString(sum[:]) || m["input_type"] != "BufferedReader" {
		t.Errorf("spooled body: %v", m)
	}
	small := echo(t, s, "read", "abc")
	if small["input_type"] != "BytesIO" || small["content_length"] != "3" {
		t.Errorf("small body: %v", small)
	}

	// Over --max-body-size: 413, whether declared or chunked.
	out := raw(t, s.Addr, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\nxxxx", 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 413 ") {
		t.Errorf("declared too large: %.100q", out)
	}
	out = raw(t, s.Addr, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
		fmt.Sprintf("%x\r\n%s\r\n", 1<<20, strings.Repeat("y", 1<<20))+
		"10\r\n0123456789abcdef\r\n0\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 413 ") {
		t.Errorf("chunked too large: %.100q", out)
	}

	// Chunked: de-chunked, with a real CONTENT_LENGTH.
	out = raw(t, s.Addr, "POST /echo?mode=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n", 5*time.Second)
	if !strings.Contains(out, `"data": "hello world"`) || !strings.Contains(out, `"content_length": "11"`) {
		t.Errorf("chunked body: %q", out)
	}

	// Expect: 100-continue: the interim response comes before the body is sent.
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim: %q %v", line, err)
	}
	br.ReadString('\n')
	fmt.Fprintf(c, "ping")
	resp, body := readResponse(t, br, "POST")
	if resp.StatusCode != 200 || !strings.Contains(body, `"data": "ping"`) {
		t.Fatalf("after 100-continue: %d %q", resp.StatusCode, body)
	}
}

func TestResponses(t *testing.T) {
	s := StartServer(t, probe)

	t.Run("status reason and headers verbatim", func(t *testing.T) {
		out := raw(t, s.Addr, "GET /status?s=299+Quite+Fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 299 Quite Fine\r\n") {
			t.Fatalf("%q", out)
		}
		out = raw(t, s.Addr, "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		for _, w := range []string{"\r\nX-Latin: caf\xe9\r\n", "\r\nx-lower-case: kept\r\n", "\r\nSet-Cookie: a=1\r\n", "\r\nSet-Cookie: b=2\r\n", "\r\nContent-Length: 2\r\n"} {
			if !strings.Contains(out, w) {
				t.Errorf("missing %q in %q", w, out)
			}
		}
		if strings.Count(out, "\r\nDate: ") != 1 || strings.Count(out, "\r\nServer: ") != 1 {
			t.Errorf("Date/Server not exactly once: %q", out)
		}
	})

	t.Run("invalid heads become 500", func(t *testing.T) {
		for _, kind := range []string{"crlf", "nonlatin", "hop", "te", "status", "status1xx", "notlist", "int", "badname", "cl", "statusbytes", "object"} {
			resp, body := get(t, s, "GET", "/headers?kind="+kind, nil)
			if resp.StatusCode != 500 || strings.Contains(body, "should not be seen") || resp.Header.Get("Injected") != "" {
				t.Errorf("%s: %d %q %v", kind, resp.StatusCode, body, resp.Header)
			}
		}
		for _, w := range []string{"control character", "not latin-1", "hop-by-hop", "not of the form '200 OK'", "informational (1xx)", "must be a list, not tuple", "must be str, not int", "not allowed in a header name", "is not a number", "status must be str, not bytes", "'X-Obj'"} {
			if !waitFor(5*time.Second, func() bool { return strings.Contains(s.Stderr.String(), w) }) {
				t.Errorf("error log lacks %q", w)
			}
		}
	})

	t.Run("write callable", func(t *testing.T) {
		_, body := get(t, s, "GET", "/write", nil)
		if body != "written-1 written-2 returned" {
			t.Fatalf("%q", body)
		}
	})

	t.Run("exc_info", func(t *testing.T) {
		resp, body := get(t, s, "GET", "/excinfo", nil)
		if resp.StatusCode != 500 || resp.Status != "500 Oops" || body != "error page" {
			t.Fatalf("before head: %q %q", resp.Status, body)
		}
		out := raw(t, s.Addr, "GET /excinfo-late HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 200 OK") || !strings.Contains(out, "already sent") || strings.Contains(out, "unreachable") || strings.HasSuffix(out, "0\r\n\r\n") {
			t.Fatalf("after head: %q", out)
		}
		if !waitFor(5*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "ValueError: too late") }) {
			t.Errorf("re-raised exc_info not logged:\n%s", s.Stderr)
		}
	})

	t.Run("app errors", func(t *testing.T) {
		resp, _ := get(t, s, "GET", "/raise-before", nil)
		if resp.StatusCode != 500 || !waitFor(5*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "RuntimeError: boom before headers") }) {
			t.Fatalf("raise before: %d\n%s", resp.StatusCode, s.Stderr)
		}
		out := raw(t, s.Addr, "GET /raise-after HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 200 OK") || !strings.Contains(out, "partial") || strings.HasSuffix(out, "0\r\n\r\n") {
			t.Fatalf("raise after: %q", out)
		}
		if !waitFor(5*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "RuntimeError: boom after headers") }) {
			t.Error("traceback after headers not logged")
		}
		resp, _ = get(t, s, "GET", "/nonbytes", nil)
		if resp.StatusCode != 500 || !waitFor(5*time.Second, func() bool {
			return strings.Contains(s.Stderr.String(), "response body items must be bytes, not str")
		}) {
			t.Fatalf("non-bytes: %d", resp.StatusCode)
		}
	})

	t.Run("framing", func(t *testing.T) {
		out := raw(t, s.Addr, "GET /stream?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		head, body, _ := strings.Cut(out, "\r\n\r\n")
		if strings.Contains(head, "Transfer-Encoding: chunked") {
			if !strings.HasSuffix(body, "0\r\n\r\n") {
				t.Errorf("chunked body not terminated: %q", body)
			}
		} else if !strings.Contains(head, "Content-Length: 24") {
			t.Errorf("no framing: %q", head)
		}
		resp, b := get(t, s, "GET", "/stream?n=3&delay=0.2", nil)
		if b != "chunk 0\nchunk 1\nchunk 2\n" || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("streamed: %q %v", b, resp.TransferEncoding)
		}
		out = raw(t, s.Addr, "GET /stream?n=2&delay=0.1 HTTP/1.0\r\n\r\n", 5*time.Second)
		if !strings.HasSuffix(out, "\r\n\r\nchunk 0\nchunk 1\n") {
			t.Errorf("HTTP/1.0 close-delimited: %q", out)
		}

		// A body item far larger than one frame arrives whole and in order.
		_, b = get(t, s, "GET", "/bigone?n=10485760", nil)
		if len(b) != 10485760 || b[:256] != b[len(b)-256:] || b[1] != 1 {
			t.Errorf("10 MiB item: %d bytes", len(b))
		}
		// Content-Length from the app: extra bytes dropped; short body → closed.
		resp, b = get(t, s, "GET", "/cl?declared=5&actual=9", nil)
		if b != "xxxxx" {
			t.Errorf("long body: %q", b)
		}
		out = raw(t, s.Addr, "GET /cl?declared=10&actual=4 HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)
		if !strings.Contains(out, "Content-Length: 10\r\n") || !strings.HasSuffix(out, "\r\n\r\nxxxx") {
			t.Errorf("short body: %q", out)
		}
	})

	t.Run("no body for HEAD 204 304", func(t *testing.T) {
		get := raw(t, s.Addr, "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		head := raw(t, s.Addr, "HEAD /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if !strings.HasSuffix(head, "\r\n\r\n") || !strings.Contains(head, "Content-Length: 2\r\n") || !strings.HasPrefix(get, head[:12]) {
			t.Errorf("HEAD: %q", head)
		}
		for _, st := range []string{"204+No+Content", "304+Not+Modified"} {
			out := raw(t, s.Addr, "GET /nobody?s="+st+" HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
			if strings.Contains(out, "must not be sent") || strings.Count(out, "HTTP/1.1 ") != 2 || strings.Contains(out, "Transfer-Encoding") {
				t.Errorf("%s: %q", st, out)
			}
		}
	})

	t.Run("keep-alive and pipelining", func(t *testing.T) {
		out := raw(t, s.Addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /status?s=201+Made HTTP/1.1\r\nHost: x\r\n\r\nGET /stream?n=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		br := bufio.NewReader(strings.NewReader(out))
		for i, want := range []string{"hello from probe\n", "custom status\n", "chunk 0\n"} {
			resp, body := readResponse(t, br, "GET")
			if body != want {
				t.Errorf("response %d: %d %q", i, resp.StatusCode, body)
			}
		}
	})

	t.Run("file_wrapper", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f.bin")
		data := strings.Repeat("file-wrapper ", 10000)
		os.WriteFile(path, []byte(data), 0o644)
		// A real file goes out with sendfile: the length is known up front.
		resp, body := get(t, s, "GET", "/filewrapper?path="+path, nil)
		if body != data || resp.ContentLength != int64(len(data)) {
			t.Fatalf("file_wrapper: %d bytes, Content-Length %d, want %d", len(body), resp.ContentLength, len(data))
		}
		resp, body = get(t, s, "GET", "/filewrapper?seek=13&path="+path, nil)
		if body != data[13:] || resp.ContentLength != int64(len(data)-13) {
			t.Fatalf("from an offset: %d bytes, Content-Length %d", len(body), resp.ContentLength)
		}
		head := raw(t, s.Addr, "HEAD /filewrapper?path="+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if !strings.Contains(head, fmt.Sprintf("Content-Length: %d\r\n", len(data))) || !strings.HasSuffix(head, "\r\n\r\n") {
			t.Fatalf("HEAD: %q", head)
		}
		// A file-like object without a descriptor is iterated instead.
		resp, body = get(t, s, "GET", "/filewrapper?bytesio=1&path="+path, nil)
		if body != data || resp.ContentLength != -1 {
			t.Fatalf("BytesIO: %d bytes, Content-Length %d", len(body), resp.ContentLength)
		}
	})

	t.Run("wsgi.errors", func(t *testing.T) {
		get(t, s, "GET", "/errors", nil)
		if !waitFor(5*time.Second, func() bool {
			return strings.Contains(s.Stderr.String(), "message to wsgi.errors\nline two\n")
		}) {
			t.Fatalf("wsgi.errors output not on stderr:\n%s", s.Stderr)
		}
	})
}

// close() runs when the client goes away mid-stream, and the slot is reused.
func TestCloseOnClientGone(t *testing.T) {
	s, st := StartProbe(t, "--threads", "1")
	dir := st.Dir
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /tracked?name=gone&chunks=-1&delay=0.01 HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAtLeast(c, buf, 2048); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !waitFor(10*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "gone")); return err == nil }) {
		t.Fatal("close() was not called after the client went away")
	}
	if resp, body := get(t, s, "GET", "/", nil); resp.StatusCode != 200 || body != "hello from probe\n" {
		t.Fatalf("slot not reusable: %d %q", resp.StatusCode, body)
	}
	// And close() runs on a normal finish too.
	get(t, s, "GET", "/tracked?name=normal&chunks=2", nil)
	if !waitFor(5*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "normal")); return err == nil }) {
		t.Fatal("close() not called after a normal response")
	}
}

func TestAccessLogOptions(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "access.log")
	s := StartServer(t, probe, "--access-log", logFile)
	get(t, s, "GET", "/status?s=202+Accepted", nil)
	if !waitFor(5*time.Second, func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), `"GET /status?s=202+Accepted HTTP/1.1" 202 14`)
	}) {
		b, _ := os.ReadFile(logFile)
		t.Fatalf("access log file: %q", b)
	}
	quiet := StartServer(t, probe, "--no-access-log")
	get(t, quiet, "GET", "/", nil)
	// Once gowsgi has exited, everything it would have logged is in Stdout.
	if code := quiet.Stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if quiet.Stdout.String() != "" {
		t.Fatalf("--no-access-log still wrote: %q", quiet.Stdout)
	}
	if strings.Contains(quiet.Stderr.String(), "level=INFO") {
		// info lines are fine at the default level; at error level they go away
	}
	errOnly := StartServer(t, probe, "--log-level", "error")
	get(t, errOnly, "GET", "/", nil)
	errOnly.Stop()
	if strings.Contains(errOnly.Stderr.String(), "level=INFO") {
		t.Fatalf("--log-level error still logs info:\n%s", errOnly.Stderr)
	}
}

func TestGracefulShutdown(t *testing.T) {
	s, st := StartProbe(t, "--threads", "2")
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client().Get(s.URL("/sleep?s=1&mark=inflight"))
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: string(b)}
	}()
	st.WaitEntered("inflight")
	s.Signal(syscall.SIGTERM)
	r := <-done
	if r.err != nil || r.code != 200 || r.body != "slept" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if code := s.Wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.Stderr)
	}
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// The probe behind wsgiref.validate: any PEP 3333 slip on gowsgi's side
// raises an AssertionError in the worker.
func TestValidator(t *testing.T) {
	s := StartServer(t, probe+":validated()")
	for _, m := range []string{"GET", "HEAD", "POST"} {
		resp, body := get(t, s, m, "/v?q=1", strings.NewReader("payload"))
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %q", m, resp.StatusCode, body)
		}
	}
	out := raw(t, s.Addr, "POST /v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.HasSuffix(out, "method=POST len=3") {
		t.Errorf("chunked: %q", out)
	}
	if strings.Contains(s.Stderr.String(), "Traceback") || strings.Contains(s.Stderr.String(), "AssertionError") {
		t.Fatalf("validator complained:\n%s", s.Stderr)
	}
}
