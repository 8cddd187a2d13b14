package tests

// Real third-party ASGI apps driven by real clients, under gowsgi and
// under Debian's uvicorn side by side: the same requests must get the same
// answers (status, the headers that matter, body bytes) and have the same
// effects in the app. testdata/apps/asgi_realapp.py is a FastAPI/Starlette
// app as projects write one (multipart uploads, forms, BackgroundTasks,
// dependencies with cleanup, SSE, FileResponse, StaticFiles, GZip, CORS,
// TrustedHost and HTTPS-redirect middleware, cookies, url_for).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

const asgiRealApp = "tests/testdata/apps/asgi_realapp.py"

// startUvicorn runs Debian's uvicorn (py -m uvicorn) on target, a
// module:attribute of tests/testdata/apps, with env added and uvicorn's own
// args; it returns the address once uvicorn accepts connections, and stops
// it when the test ends.
func startUvicorn(t *testing.T, py string, env []string, target string, args ...string) string {
	t.Helper()
	port := freePort(t)
	uv := exec.Command(py, append([]string{"-m", "uvicorn", "--app-dir", filepath.Join(repoRoot, "tests/testdata/apps"),
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--no-access-log"}, append(args, target)...)...)
	uv.Env = append(os.Environ(), env...)
	var uvErr syncBuffer
	uv.Stderr = &uvErr
	if err := uv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uv.Process.Kill(); uv.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if !waitFor(30*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("uvicorn did not start:\n%s", uvErr.String())
	}
	return addr
}

// realAppPair is asgi_realapp.py under gowsgi and under uvicorn, with the
// same files (REALAPP_FILES) and marker directory.
type realAppPair struct {
	gw    *Server
	uv    string // uvicorn's address
	p     *probeState
	files string
	big   []byte // files/big.bin
}

// startRealApps starts the pair; args go to both servers (options they
// share, as uvicorn spells them).
func startRealApps(t *testing.T, gwArgs []string, args ...string) *realAppPair {
	t.Helper()
	py := debianPython(t, "fastapi", "starlette", "multipart", "uvicorn")
	files := t.TempDir()
	big := make([]byte, 3<<20+17)
	rand.Read(big)
	for name, data := range map[string][]byte{"big.bin": big, "hello.txt": []byte("hello static\n"), "site.css": []byte("body{}")} {
		if err := os.WriteFile(filepath.Join(files, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rp := startPair(t, py, "asgi_realapp:app", []string{"REALAPP_FILES=" + files}, gwArgs, args...)
	rp.files, rp.big = files, big
	return rp
}

// startPair starts target (module:attribute of tests/testdata/apps) under
// gowsgi (one worker, with gwArgs) and under uvicorn, both with env and
// args.
func startPair(t *testing.T, py, target string, env, gwArgs []string, args ...string) *realAppPair {
	t.Helper()
	module, attr, _ := strings.Cut(target, ":")
	gw, p := startASGI(t, env, append(append([]string{"tests/testdata/apps/" + module + ".py:" + attr, "--python", py, "-w", "1"}, gwArgs...), args...)...)
	uv := startUvicorn(t, py, append(p.Env(), env...), target, args...)
	return &realAppPair{gw: gw, uv: uv, p: p}
}

// realCase is one request of the differential: build makes it for a base
// URL (a body reader is made afresh each time).
type realCase struct {
	name  string
	build func(base string) *http.Request
}

func newReq(method, url string, body io.Reader, hdr ...string) *http.Request {
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		panic(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

// chunked is a body reader of unknown length: Go's client sends it with
// Transfer-Encoding: chunked, in the pieces given.
type chunked struct{ parts [][]byte }

func (c *chunked) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

// ignoredFields differ between any two servers, or are framing that the
// comparison checks on its own (Content-Length where both sent one).
var ignoredFields = map[string]bool{"Date": true, "Server": true, "X-Request-Id": true, "Transfer-Encoding": true,
	"Content-Length": true, "Connection": true, "Keep-Alive": true}

// answer is what a client sees of a response, with the server's own port
// made "PORT" (URLs in bodies and Location name the address asked).
func answer(t *testing.T, r *http.Request, addr string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(r)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "error reading the body: " + err.Error()
	}
	if resp.ContentLength >= 0 && r.Method != "HEAD" && resp.ContentLength != int64(len(body)) {
		return fmt.Sprintf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		// gzip's header holds the time it was made: compare what it holds.
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return "bad gzip: " + err.Error()
		}
		if body, err = io.ReadAll(zr); err != nil {
			return "bad gzip: " + err.Error()
		}
	}
	var fields []string
	for k, vs := range resp.Header {
		if !ignoredFields[k] {
			fields = append(fields, k+": "+strings.Join(vs, " | "))
		}
	}
	sort.Strings(fields)
	_, port, _ := net.SplitHostPort(addr)
	out := fmt.Sprintf("%d\n%s\n", resp.StatusCode, strings.Join(fields, "\n"))
	if len(body) > 2000 {
		out += fmt.Sprintf("%d bytes, %x", len(body), body[:64])
	} else {
		out += string(body)
	}
	return strings.ReplaceAll(out, ":"+port, ":PORT")
}

// sameAnswers sends each case to both servers and reports every difference.
func (rp *realAppPair) sameAnswers(t *testing.T, cases []realCase) {
	t.Helper()
	for _, c := range cases {
		uv := answer(t, c.build("http://"+rp.uv), rp.uv)
		gw := answer(t, c.build("http://"+rp.gw.Addr), rp.gw.Addr)
		if uv != gw {
			t.Errorf("%s:\n--- uvicorn\n%s\n--- gowsgi\n%s", c.name, uv, gw)
		}
	}
}

// realAppCases are the requests real clients make of the app.
func realAppCases(rp *realAppPair) []realCase {
	get := func(name, path string, hdr ...string) realCase {
		return realCase{name, func(b string) *http.Request { return newReq("GET", b+path, nil, hdr...) }}
	}
	smallBody, small := multipartBody([][2]string{{"note", "small"}},
		[]formFile{{"files", "a.txt", "text/plain", []byte("hello")}, {"files", "b.bin", "application/octet-stream", []byte{0, 1, 2}}})
	bigBody, bigCT := multipartBody([][2]string{{"note", "big"}}, []formFile{{"files", "big.bin", "application/octet-stream", rp.big}})
	return []realCase{
		{"multipart upload, two small files", func(b string) *http.Request {
			return newReq("POST", b+"/upload", bytes.NewReader(smallBody), "Content-Type", small)
		}},
		{"multipart upload, 3 MiB", func(b string) *http.Request {
			return newReq("POST", b+"/upload", bytes.NewReader(bigBody), "Content-Type", bigCT)
		}},
		{"multipart upload, chunked, Expect: 100-continue", func(b string) *http.Request {
			r := newReq("POST", b+"/upload", &chunked{[][]byte{bigBody[:1000], bigBody[1000 : 1<<20], bigBody[1<<20:]}},
				"Content-Type", bigCT, "Expect", "100-continue")
			r.ContentLength = -1
			return r
		}},
		{"multipart without the required field", func(b string) *http.Request {
			body, ct := multipartBody(nil, []formFile{{"files", "a.txt", "text/plain", []byte("x")}})
			return newReq("POST", b+"/upload", bytes.NewReader(body), "Content-Type", ct)
		}},
		{"urlencoded form", func(b string) *http.Request {
			return newReq("POST", b+"/form", strings.NewReader("name=pen&tags=a&tags=b%20c"), "Content-Type", "application/x-www-form-urlencoded")
		}},
		{"urlencoded form, field missing", func(b string) *http.Request {
			return newReq("POST", b+"/form", strings.NewReader("tags=a"), "Content-Type", "application/x-www-form-urlencoded")
		}},
		{"chunked body, streamed", func(b string) *http.Request {
			r := newReq("POST", b+"/raw-sha", &chunked{[][]byte{rp.big[:70000], rp.big[70000:200000]}})
			r.ContentLength = -1
			return r
		}},
		{"empty body", func(b string) *http.Request { return newReq("POST", b+"/raw-sha", nil) }},
		{"3 MiB body", func(b string) *http.Request { return newReq("POST", b+"/raw-sha", bytes.NewReader(rp.big)) }},
		get("dependency with cleanup", "/dep?name=diff"),
		get("SSE, 3 events", "/sse?n=3&name=diff"),
		get("GZip of a stream", "/gz/stream", "Accept-Encoding", "gzip"),
		get("GZip of a body", "/gz/big", "Accept-Encoding", "gzip"),
		get("GZip not asked for", "/gz/big", "Accept-Encoding", "identity"),
		get("FileResponse", "/file/hello.txt"),
		get("FileResponse, attachment", "/file/hello.txt?download=1"),
		get("FileResponse, 3 MiB", "/file/big.bin"),
		{"FileResponse, HEAD", func(b string) *http.Request { return newReq("HEAD", b+"/file/big.bin", nil) }},
		get("FileResponse, Range (not served by this Starlette)", "/file/big.bin", "Range", "bytes=0-9"),
		get("FileResponse, missing", "/file/nope"),
		get("pathsend after a wait (gowsgi), the body (uvicorn)", "/late-pathsend/"),
		get("StaticFiles", "/static/hello.txt"),
		{"StaticFiles, HEAD", func(b string) *http.Request { return newReq("HEAD", b+"/static/site.css", nil) }},
		get("StaticFiles, If-None-Match", "/static/hello.txt", "If-None-Match", etagOf(rp, "hello.txt")),
		get("StaticFiles, If-Modified-Since", "/static/hello.txt", "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)),
		get("StaticFiles, missing", "/static/nope.txt"),
		get("StaticFiles, directory", "/static/"),
		{"StaticFiles, POST", func(b string) *http.Request { return newReq("POST", b+"/static/hello.txt", nil) }},
		get("StaticFiles, ../ in the path", "/static/../asgi_realapp.py"),
		get("StaticFiles, %2e%2e in the path", "/static/%2e%2e/asgi_realapp.py"),
		get("cookies", "/cookies"),
		get("redirect", "/redirect"),
		get("url_for", "/items/3?x=y"),
		get("url_for behind a proxy", "/items/3?x=y", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.7, 198.51.100.1"),
		get("an exception", "/boom"),
		get("HTTPException with headers", "/teapot"),
		get("HTML", "/html"),
		{"request headers, duplicates and a tab", func(b string) *http.Request {
			return newReq("PUT", b+"/echo-headers", strings.NewReader("abc"), "X-Dup", "1", "X-Dup", "2", "X-Weird", "a\tb", "User-Agent", "t")
		}},
		{"CORS preflight", func(b string) *http.Request {
			return newReq("OPTIONS", b+"/items/3", nil, "Origin", "https://ui.example", "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "X-Token")
		}},
		{"CORS preflight from another origin", func(b string) *http.Request {
			return newReq("OPTIONS", b+"/items/3", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
		}},
		get("CORS simple request", "/items/3", "Origin", "https://ui.example"),
		get("HTTPSRedirectMiddleware", "/secure/?a=1"),
		get("HTTPSRedirectMiddleware behind a TLS proxy", "/secure/?a=1", "X-Forwarded-Proto", "https"),
		get("TrustedHostMiddleware, allowed", "/trusted/", "Host", "good.example"),
		get("TrustedHostMiddleware, wildcard with a port", "/trusted/", "Host", "a.good.example:8000"),
		get("TrustedHostMiddleware, refused", "/trusted/", "Host", "evil.example"),
		get("404", "/nowhere"),
		{"405", func(b string) *http.Request { return newReq("DELETE", b+"/dep", nil) }},
		get("OpenAPI schema", "/openapi.json"),
		get("Swagger UI", "/docs"),
	}
}

// etagOf is the ETag StaticFiles gives files/name (asked of uvicorn).
func etagOf(rp *realAppPair, name string) string {
	resp, err := http.Head("http://" + rp.uv + "/static/" + name)
	if err != nil {
		return "none"
	}
	resp.Body.Close()
	return resp.Header.Get("Etag")
}

// TestASGIRealAppsDifferential: FastAPI/Starlette's features, asked by Go's
// HTTP client, answer alike under gowsgi and under uvicorn.
func TestASGIRealAppsDifferential(t *testing.T) {
	t.Parallel()
	rp := startRealApps(t, nil)
	rp.sameAnswers(t, realAppCases(rp))
}

// TestASGIRealAppsRootPath: behind a proxy that strips the prefix
// (uvicorn's --root-path, as FastAPI's "Behind a Proxy" documents it),
// Debian's FastAPI 0.92 on Starlette 0.26 routes on scope["path"] and
// builds URLs from root_path + path: its routes must be found, and its
// URLs must have the prefix once, as under uvicorn 0.17. (Before, gowsgi
// put root_path before path for every app, and every route was a 404.)
func TestASGIRealAppsRootPath(t *testing.T) {
	t.Parallel()
	rp := startRealApps(t, nil, "--root-path", "/api", "--proxy-headers", "--forwarded-allow-ips", "*")
	cases := []realCase{}
	for _, c := range realAppCases(rp) {
		switch c.name {
		case "url_for", "url_for behind a proxy", "HTTPSRedirectMiddleware", "StaticFiles", "multipart upload, two small files",
			"OpenAPI schema", "Swagger UI", "404", "redirect", "CORS preflight":
			cases = append(cases, c)
		}
	}
	get := func(name, path string) realCase {
		return realCase{name, func(b string) *http.Request { return newReq("GET", b+path, nil) }}
	}
	// A target that kept the prefix (a proxy that does not strip it).
	cases = append(cases, get("a target with the prefix", "/api/items/3"), get("the prefix alone", "/api"))
	rp.sameAnswers(t, cases)
	// The route is found, and url_for has the prefix once.
	if resp, body := get2(t, rp.gw.Addr, "/items/3"); resp != 200 || !strings.Contains(body, `"url_for":"http://`+rp.gw.Addr+`/api/items/3"`) {
		t.Errorf("GET /items/3 behind --root-path /api: %d %s", resp, body)
	}
	// A WebSocket route of the same app, likewise: found at the stripped
	// path (403, not found, with the prefix), its URL with the prefix once.
	for _, srv := range []struct{ name, addr string }{{"uvicorn", rp.uv}, {"gowsgi", rp.gw.Addr}} {
		resp, _, _, br := wsDial(t, srv.addr, "/ws")
		if resp.StatusCode != 101 {
			t.Errorf("%s: WebSocket /ws behind --root-path: %d", srv.name, resp.StatusCode)
			continue
		}
		if _, msg := wsNext(t, br); string(msg) != `{"path": "/ws", "root_path": "/api", "url": "ws://example.org/api/ws", "url_for": "ws://example.org/api/ws"}` {
			t.Errorf("%s: WebSocket /ws behind --root-path: %s", srv.name, msg)
		}
		if resp, _, _, _ := wsDial(t, srv.addr, "/api/ws"); resp.StatusCode != 403 {
			t.Errorf("%s: WebSocket /api/ws behind --root-path: %d, want 403 as a route not found", srv.name, resp.StatusCode)
		}
	}
}

func get2(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := client().Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestASGIRealAppsBackgroundTasks: FastAPI's BackgroundTasks run after the
// response, which does not wait for them, and neither does the next
// request on the same keep-alive connection (uvicorn serves it while the
// task runs; gowsgi held it until the task ended). The tasks finish, and
// nothing is left in flight.
func TestASGIRealAppsBackgroundTasks(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rp := startRealApps(t, []string{"--metrics-bind", maddr})
	for _, srv := range []struct{ name, addr string }{{"uvicorn", rp.uv}, {"gowsgi", rp.gw.Addr}} {
		name := "bg-" + srv.name
		c := dialRaw(t, srv.addr)
		br := bufio.NewReader(c)
		io.WriteString(c, "POST /bg?name="+name+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, body := readResponse(t, br, "POST")
		if resp.StatusCode != 200 || body != `{"queued":"`+name+`"}` {
			t.Fatalf("%s: POST /bg: %d %q", srv.name, resp.StatusCode, body)
		}
		// The async task waits for name.go, which only comes once the next
		// request on this connection has been answered.
		io.WriteString(c, "GET /dep?name="+name+" HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if resp, err := http.ReadResponse(br, &http.Request{Method: "GET"}); err != nil {
			t.Errorf("%s: the request after one with a background task was not answered while the task ran: %v", srv.name, err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: the request after the background task's: %d", srv.name, resp.StatusCode)
			}
		}
		if rp.p.Exists(name + ".async-done") {
			t.Errorf("%s: the background task ended before it was let go", srv.name)
		}
		c.Close()
		os.WriteFile(rp.p.Path(name+".go"), nil, 0o644)
		rp.p.WaitFile(name+".async-done", 20*time.Second)
		rp.p.WaitFile(name+".sync-done", 20*time.Second)
		rp.p.WaitFile(name+".closed", 20*time.Second) // the dependency's cleanup ran
	}
	workerUnharmed(t, rp.gw, maddr)

	// A graceful stop still waits for a background task whose slot has
	// served another request since, then runs the lifespan shutdown.
	c := dialRaw(t, rp.gw.Addr)
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /bg?name=bg-stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /dep HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	readResponse(t, br, "POST")
	readResponse(t, br, "GET")
	rp.gw.Signal(syscall.SIGTERM)
	rp.gw.WaitLog(t, "shutting down", 1, 10*time.Second)
	os.WriteFile(rp.p.Path("bg-stop.go"), nil, 0o644)
	if code := rp.gw.Wait(40 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if !rp.p.Exists("bg-stop.async-done") || !rp.p.Exists("realapp.shutdown") {
		t.Errorf("on SIGTERM: the background task ended %v, the lifespan shutdown ran %v\n%s",
			rp.p.Exists("bg-stop.async-done"), rp.p.Exists("realapp.shutdown"), rp.gw.Stderr)
	}
}

// sseEvents reads server-sent events from br until n "tick" events came;
// it returns their data.
func sseEvents(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var got []string
	event := ""
	for len(got) < n {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading events: %v (got %q)", err, got)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: ") && event == "tick":
			got = append(got, line[len("data: "):])
		case line == "":
			event = ""
		}
	}
	return got
}

// TestASGIRealAppsSSEReaderLeaves: an SSE reader reads some events of an
// endless StreamingResponse and goes away; as under uvicorn, the app's
// generator is cancelled and its cleanup runs; a long poll's client that
// goes is seen by request.is_disconnected(); gowsgi's worker has nothing
// left in flight.
func TestASGIRealAppsSSEReaderLeaves(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rp := startRealApps(t, []string{"--metrics-bind", maddr})
	for _, srv := range []struct{ name, addr string }{{"uvicorn", rp.uv}, {"gowsgi", rp.gw.Addr}} {
		name := "sse-" + srv.name
		c := dialRaw(t, srv.addr)
		io.WriteString(c, "GET /sse?name="+name+" HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: %d %v", srv.name, resp.StatusCode, resp.Header)
		}
		if got := sseEvents(t, bufio.NewReader(resp.Body), 5); strings.Join(got, ",") != `{"i": 0},{"i": 1},{"i": 2},{"i": 3},{"i": 4}` {
			t.Errorf("%s: events %q", srv.name, got)
		}
		c.Close()
		rp.p.WaitFile(name+".closed", 20*time.Second)
		if !rp.p.Exists(name + ".cancelled") {
			t.Errorf("%s: the generator was not cancelled when the reader left", srv.name)
		}

		// A long poll asking request.is_disconnected(), with and without a
		// body read first, sees its client leave.
		for _, req := range []string{"GET /longpoll?name=%s HTTP/1.1\r\nHost: x\r\n\r\n",
			"POST /longpoll?name=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"} {
			lp := fmt.Sprintf("lp-%s-%s", srv.name, strings.Fields(req)[0])
			c := dialRaw(t, srv.addr)
			fmt.Fprintf(c, req, lp)
			rp.p.WaitFile(lp+".entered", 20*time.Second)
			c.Close()
			rp.p.WaitFile(lp+".disconnected", 20*time.Second)
		}
	}
	workerUnharmed(t, rp.gw, maddr)
}

// TestASGIRealAppsStreamHeadFirst: a StreamingResponse whose first event
// is not there yet (an SSE stream before anything happened) has its head
// at the client at once, as under uvicorn: a streaming client's wait for
// the headers (httpx's 5 s read timeout, EventSource's open) does not
// depend on the first event. (gowsgi held the head until the first body
// message.)
func TestASGIRealAppsStreamHeadFirst(t *testing.T) {
	t.Parallel()
	rp := startRealApps(t, nil)
	for _, srv := range []struct{ name, addr string }{{"uvicorn", rp.uv}, {"gowsgi", rp.gw.Addr}} {
		name := "idle-" + srv.name
		c := dialRaw(t, srv.addr)
		io.WriteString(c, "GET /sse-idle?name="+name+" HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		rp.p.WaitFile(name+".waiting", 20*time.Second)
		// The app waits for name.go, which is written only once the head came.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Errorf("%s: no head while the stream has no event yet: %v", srv.name, err)
			c.Close()
			continue
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
			t.Errorf("%s: %d %v", srv.name, resp.StatusCode, resp.Header)
		}
		os.WriteFile(rp.p.Path(name+".go"), nil, 0o644)
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "data: first\n\n" {
			t.Errorf("%s: body %q %v", srv.name, b, err)
		}
		c.Close()
	}
}

// TestASGIRealAppsBackpressure: a StreamingResponse of 96 MiB to a client
// that reads nothing for a while: the app's generator is held, as under
// uvicorn (a few MiB in flight), not let run into the response spool
// (it wrote 700 MiB in 4 s to gowsgi's disk spool before); once the
// client reads, all of it arrives.
func TestASGIRealAppsBackpressure(t *testing.T) {
	t.Parallel()
	rp := startRealApps(t, nil)
	const size = 96 << 20
	for _, srv := range []struct{ name, addr string }{{"uvicorn", rp.uv}, {"gowsgi", rp.gw.Addr}} {
		name := "flood-" + srv.name
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		fmt.Fprintf(c, "GET /flood?size=%d&name=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", size, name)
		rp.p.WaitFile(name+".progress", 20*time.Second)
		progress := func() int {
			var n int
			fmt.Sscan(readFile(t, rp.p.Path(name+".progress")), &n)
			return n
		}
		// The client reads nothing: 32 MiB taken from the app within 3 s
		// would be no backpressure.
		if waitFor(3*time.Second, func() bool { return progress() >= 32<<20 }) {
			t.Errorf("%s: the app streamed %d MiB to a client that read nothing: no backpressure", srv.name, progress()>>20)
		}
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
			t.Errorf("%s: read %d bytes (%v), want %d", srv.name, n, err, size)
		}
		c.Close()
		rp.p.WaitFile(name+".done", 20*time.Second)
	}
}

// TestASGIRealAppsBrowserEventSource: Chromium's EventSource reads the SSE
// stream to its end event and reports what it got to the app.
func TestASGIRealAppsBrowserEventSource(t *testing.T) {
	t.Parallel()
	rp := startRealApps(t, nil)
	for _, srv := range []struct{ name, addr string }{{"uvicorn", rp.uv}, {"gowsgi", rp.gw.Addr}} {
		name := "page-" + srv.name
		out := browser(t, "http://"+srv.addr+"/sse-page?n=4&name="+name)
		got := waitBrowserFile(t, rp.p, name+".report", out)
		if got != `{"got":[0,1,2,3],"last":"bye"}` {
			t.Errorf("%s: the browser's EventSource got %s", srv.name, got)
		}
	}
}

// TestASGIRealFrameworksDifferential: Django (its default middleware, a
// CSRF-protected form, uploads through request.FILES, sessions,
// APPEND_SLASH), falcon.asgi (media, SSE, errors), Quart and Channels'
// HTTP consumers answer alike under gowsgi and uvicorn, at the root and
// behind --root-path (where each framework routes as it does under
// uvicorn 0.17: Falcon and Channels' URLRouter on path as received).
func TestASGIRealFrameworksDifferential(t *testing.T) {
	t.Parallel()
	py := debianPython(t, "django", "falcon.asgi", "quart", "channels", "uvicorn")
	big := make([]byte, 2<<20+5)
	rand.Read(big)
	get := func(path string, hdr ...string) realCase {
		return realCase{"GET " + path, func(b string) *http.Request { return newReq("GET", b+path, nil, hdr...) }}
	}
	post := func(path, ctype string, body []byte, hdr ...string) realCase {
		return realCase{"POST " + path + " " + ctype, func(b string) *http.Request {
			return newReq("POST", b+path, bytes.NewReader(body), append([]string{"Content-Type", ctype}, hdr...)...)
		}}
	}
	uploadBody, uploadCT := multipartBody([][2]string{{"note", "n"}},
		[]formFile{{"files", "big.bin", "application/octet-stream", big}, {"files", "c.txt", "text/plain", []byte("c")}})
	csrf := realCase{"Django form POST with its CSRF token", func(b string) *http.Request {
		resp, err := client().Get(b + "/form/")
		if err != nil {
			panic(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		token := regexp.MustCompile(`value="([^"]+)"`).FindSubmatch(page)
		var cookie string
		for _, c := range resp.Cookies() {
			if c.Name == "csrftoken" {
				cookie = c.Value
			}
		}
		if token == nil || cookie == "" {
			return newReq("GET", b+"/no-csrf-token", nil)
		}
		return newReq("POST", b+"/form/", strings.NewReader("name=pen&tags=a&tags=b&csrfmiddlewaretoken="+string(token[1])),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", "csrftoken="+cookie)
	}}
	apps := []struct {
		target string
		cases  []realCase
		rooted []realCase // behind --root-path /api
	}{
		{"asgi_django_real:application", []realCase{
			post("/form/", "application/x-www-form-urlencoded", []byte("name=x")), // no CSRF token: 403
			csrf,
			post("/upload/", uploadCT, uploadBody),
			get("/where?x=1"), // APPEND_SLASH: 301
			get("/where/?a=b"),
			get("/where/", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.7"),
			get("/where/", "Host", "example.org:8080"),
			get("/async/?q=1"),
			get("/stream/"),
			get("/session/", "Cookie", "sessionid=bogus"),
			get("/nope/"),
		}, []realCase{get("/where/"), get("/api/where/"), get("/where")}},
		{"asgi_falcon_real:app", []realCase{
			post("/items", "application/json", []byte(`{"a": [1, 2], "b": "\u00e9"}`)),
			post("/items", "application/json", []byte(`{bad`)),
			get("/items?q=a&q=b"),
			get("/items", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.7"),
			get("/missing"),
			get("/missing", "Accept", "application/xml"),
			get("/events?n=3"),
			{"PUT /upload", func(b string) *http.Request { return newReq("PUT", b+"/upload", bytes.NewReader(big)) }},
			{"PUT /upload chunked", func(b string) *http.Request {
				r := newReq("PUT", b+"/upload", &chunked{[][]byte{big[:100000], big[100000:]}})
				r.ContentLength = -1
				return r
			}},
			{"DELETE /items", func(b string) *http.Request { return newReq("DELETE", b+"/items", nil) }},
		}, []realCase{get("/items"), get("/api/items"), get("/events?n=2")}},
		{"asgi_quart_real:app", []realCase{
			get("/where?x=1"),
			get("/where", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.7"),
			get("/go"),
			post("/form", "application/x-www-form-urlencoded", []byte("name=n&tags=a&tags=b")),
			post("/json", "application/json", []byte(`{"x": 1}`)),
			post("/json", "application/json", []byte(`{`)),
			get("/stream"),
			post("/files", uploadCT, uploadBody),
			get("/nope"),
			{"HEAD /where", func(b string) *http.Request { return newReq("HEAD", b+"/where", nil) }},
		}, []realCase{get("/api/where"), get("/api/go"), get("/api/nope")}},
		{"asgi_channels_http:application", []realCase{
			post("/hello/bob", "text/plain", []byte("hi")),
			get("/poll?n=3"),
			get("/django/"),
			get("/nope"),
		}, []realCase{post("/hello/bob", "text/plain", []byte("hi")), get("/django/"), get("/api/django/"), get("/api/hello/bob")}},
	}
	for _, app := range apps {
		t.Run(strings.Split(app.target, ":")[0], func(t *testing.T) {
			startPair(t, py, app.target, nil, nil).sameAnswers(t, app.cases)
			startPair(t, py, app.target, nil, nil, "--root-path", "/api").sameAnswers(t, app.rooted)
		})
	}
}

// TestASGIRealAppsHTTP2StreamCancelled: an HTTP/2 client that stops
// reading an SSE stream cancels it (RST_STREAM) and keeps its connection:
// the app's generator is cancelled at once, the connection serves on, and
// nothing is left in flight. (uvicorn has no HTTP/2: gowsgi alone.)
func TestASGIRealAppsHTTP2StreamCancelled(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rp := startRealApps(t, []string{"--metrics-bind", maddr, "--http2-cleartext", "prior-knowledge"})
	c := h2Client(nil, "")
	resp, err := c.Get(rp.gw.URL("/sse?name=h2"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
	}
	sseEvents(t, bufio.NewReader(resp.Body), 3)
	resp.Body.Close() // RST_STREAM (CANCEL); the connection stays
	rp.p.WaitFile("h2.closed", 15*time.Second)
	if !rp.p.Exists("h2.cancelled") {
		t.Errorf("the generator was not cancelled")
	}
	if resp, body := do(t, c, "GET", rp.gw.URL("/dep?name=h2dep"), nil); resp.StatusCode != 200 || body != `{"session":"h2dep"}` {
		t.Errorf("the next stream: %d %q", resp.StatusCode, body)
	}
	workerUnharmed(t, rp.gw, maddr)
}
