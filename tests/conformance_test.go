package tests

// Side-by-side conformance: every example application in examples/ is served
// by gowsgi, by the standard library's wsgiref server and (when installed) by
// gunicorn; the same corpus of requests goes to each, and gowsgi's answers
// must match the others'. Status line (code and reason), headers and bodies
// byte for byte, after the normalisation described at normalise() below.
//
// Every server runs with PYTHONHASHSEED=0, so that frameworks that build
// headers from sets (Allow) build them in the same order everywhere.
//
// GOWSGI_CONFORMANCE_SERVERS=wsgiref,gunicorn (a comma-separated subset of
// gowsgi,wsgiref,gunicorn) narrows the comparison, e.g. to check the corpus
// itself; the first server listed is the reference the others are compared to.
// With -v, GOWSGI_CONFORMANCE_VERBOSE=1 logs every response's status and size.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------- servers

// confServer is one running server under comparison.
type confServer struct {
	name   string
	addr   string
	client *http.Client
	jar    http.CookieJar
	stderr func() string
	last   *confResponse // the previous response this server gave in the corpus
}

// confApp says how to run one example.
type confApp struct {
	dir      string   // directory the server runs in (--chdir), relative to the repo
	target   string   // module:callable, as gowsgi and gunicorn take it
	rootPath string   // mount point (SCRIPT_NAME), "" for the root
	env      []string // extra environment for the server processes
	// perServerEnv, if set, gives extra environment for one server (a
	// database of its own, say); called once per server before it starts.
	perServerEnv func(t *testing.T, server string) []string
	// inputTerminated: the framework reads a body without CONTENT_LENGTH
	// when wsgi.input_terminated is set (werkzeug, webob).
	inputTerminated bool
}

// confStep is one request of a corpus.
type confStep struct {
	name   string
	method string
	path   string
	header []string // name, value pairs
	body   []byte
	// build, if set, makes the body and extra headers from this server's
	// state (its cookie jar, its previous response): CSRF tokens and ETags.
	build func(s *confServer) ([]byte, []string)
	// chunked sends the body to gowsgi with Transfer-Encoding: chunked, and
	// asserts that the application sees it exactly as a body sent with a
	// Content-Length: gowsgi de-chunks it and sets CONTENT_LENGTH. wsgiref
	// cannot de-chunk, and gunicorn passes chunked bodies without
	// CONTENT_LENGTH, which only frameworks that honour
	// wsgi.input_terminated read (confApp.inputTerminated); those servers get
	// the same body with a Content-Length.
	chunked bool
	// check runs extra assertions on each server's (unnormalised) response.
	check func(t *testing.T, server string, r *confResponse)
}

type confResponse struct {
	status   string // "200 OK"
	header   http.Header
	body     []byte
	chunked  bool // framed by chunked transfer coding
	closeEnd bool // no Content-Length and not chunked: body ended at close
}

func conformanceServers() []string {
	if v := os.Getenv("GOWSGI_CONFORMANCE_SERVERS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"gowsgi", "wsgiref", "gunicorn"}
}

// runConformance starts app under every server, sends the corpus to each in
// lockstep and compares each server's responses with the first server's.
func runConformance(t *testing.T, app confApp, corpus []confStep, normalisers ...func(string) string) {
	deadline := time.Now().Add(50 * time.Second)
	var servers []*confServer
	for _, name := range conformanceServers() {
		if s := startConfServer(t, name, app); s != nil {
			servers = append(servers, s)
		}
	}
	if len(servers) < 2 {
		t.Skipf("need two servers to compare, have %d", len(servers))
	}
	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = s.name
	}
	t.Logf("comparing %s", strings.Join(names, ", "))

	for _, step := range corpus {
		if time.Now().After(deadline) {
			t.Fatalf("corpus not finished within 50s; stopped before %q", step.name)
		}
		ref := (*confResponse)(nil)
		refName := ""
		for _, s := range servers {
			st := step
			st.chunked = step.chunked && (s.name == "gowsgi" || s.name == "gunicorn" && app.inputTerminated)
			r, err := s.do(st, app.rootPath)
			if err != nil {
				t.Errorf("%s: %s %s on %s: %v\nserver stderr:\n%s", step.name, step.method, step.path, s.name, err, tail(s.stderr(), 3000))
				continue
			}
			if step.check != nil {
				step.check(t, s.name, r)
			}
			if testing.Verbose() && os.Getenv("GOWSGI_CONFORMANCE_VERBOSE") != "" {
				t.Logf("%-8s %-28s %s %s -> %s, %d bytes", s.name, step.name, step.method, step.path, r.status, len(r.body))
			}
			n := normalise(r, step.method, s.addr, normalisers)
			if ref == nil {
				ref, refName = n, s.name
				continue
			}
			if diff := compareResponses(ref, n, refName, s.name, step.method); diff != "" {
				t.Errorf("%s: %s %s%s: %s and %s differ:\n%s", step.name, step.method, app.rootPath, step.path, refName, s.name, diff)
			}
		}
	}
}

// do sends one step to s.
func (s *confServer) do(step confStep, rootPath string) (*confResponse, error) {
	body, hdr := step.body, step.header
	if step.build != nil {
		b, h := step.build(s)
		if b != nil {
			body = b
		}
		hdr = append(append([]string(nil), hdr...), h...)
	}
	req, err := http.NewRequest(step.method, "http://"+s.addr+rootPath+step.path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	if step.chunked {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body))) // length unknown to the client
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading body: %v", err)
	}
	r := &confResponse{status: resp.Status, header: resp.Header.Clone(), body: b}
	for _, te := range resp.TransferEncoding {
		r.chunked = r.chunked || te == "chunked"
	}
	r.closeEnd = !r.chunked && resp.ContentLength < 0 && step.method != "HEAD"
	s.last = r
	return r, nil
}

// startConfServer starts the named server on app, or returns nil (after
// logging why) when that server is not available here.
func startConfServer(t *testing.T, name string, app confApp) *confServer {
	t.Helper()
	dir := filepath.Join(repoRoot, app.dir)
	// The same hash seed everywhere: frameworks build some headers (Allow)
	// from sets, whose order follows string hashes.
	env := append([]string{"PYTHONHASHSEED=0"}, app.env...)
	if app.perServerEnv != nil {
		env = append(env, app.perServerEnv(t, name)...)
	}
	s := &confServer{name: name}
	switch name {
	case "gowsgi":
		args := []string{app.target, "--chdir", dir, "--no-access-log"}
		if app.rootPath != "" {
			args = append(args, "--root-path", app.rootPath)
		}
		g := StartServerEnv(t, env, args...)
		s.addr, s.stderr = g.Addr, g.Stderr.String
	case "wsgiref":
		s.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		_, port, _ := net.SplitHostPort(s.addr)
		s.stderr = startConfProcess(t, "wsgiref", env, s.addr,
			pythonBin, "-c", wsgirefRunner, app.target, port, dir, app.rootPath)
	case "gunicorn":
		if err := exec.Command(pythonBin, "-c", "import gunicorn").Run(); err != nil {
			t.Logf("gunicorn not importable by %s; comparing without it", pythonBin)
			return nil
		}
		s.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		if app.rootPath != "" {
			env = append(env, "SCRIPT_NAME="+app.rootPath) // gunicorn's way to mount
		}
		s.stderr = startConfProcess(t, "gunicorn", env, s.addr,
			pythonBin, "-m", "gunicorn", "--bind", s.addr, "--workers", "1", "--chdir", dir,
			"--graceful-timeout", "2", "--log-level", "warning", app.target)
	default:
		t.Fatalf("unknown conformance server %q (want gowsgi, wsgiref or gunicorn)", name)
	}
	jar, _ := cookiejar.New(nil) // one jar per server: jars ignore ports
	s.jar = jar
	s.client = &http.Client{
		Timeout:   20 * time.Second,
		Jar:       jar,
		Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // compare redirects themselves
		},
	}
	return s
}

// wsgirefRunner serves TARGET with wsgiref.simple_server. argv: target, port,
// directory, root path. The root path is applied as gowsgi's --root-path
// does: SCRIPT_NAME is set and stripped from the front of PATH_INFO.
const wsgirefRunner = `
import importlib, os, sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
target, port, chdir, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.chdir(chdir)
sys.path.insert(0, os.getcwd())
mod, _, name = target.partition(':')
app = getattr(importlib.import_module(mod), name or 'app')
def mounted(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if prefix:
        environ['SCRIPT_NAME'] = prefix
        if path == prefix or path.startswith(prefix + '/'):
            environ['PATH_INFO'] = path[len(prefix):]
    return app(environ, start_response)
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
make_server('127.0.0.1', port, mounted, WSGIServer, Quiet).serve_forever()
`

// startConfProcess starts a server process in its own process group, waits
// (bounded) until addr accepts connections and stops it at cleanup: SIGTERM
// to its PID, then SIGKILL to its process group if it lingers.
func startConfProcess(t *testing.T, name string, env []string, addr string, argv ...string) func() string {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	ok := waitFor(30*time.Second, func() bool {
		select {
		case <-done:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	select {
	case <-done:
		t.Fatalf("%s exited before serving:\n%s", name, out)
	default:
	}
	if !ok {
		t.Fatalf("%s did not listen on %s within 30s:\n%s", name, addr, out)
	}
	return out.String
}

// ---------------------------------------------------------------- comparison

var (
	// Set-Cookie expiry dates are computed from the clock, like Date.
	cookieExpires = regexp.MustCompile(`(?i)(; *expires=)[^;]+`)
	// Headers that belong to the server or the connection, not the application.
	serverHeaders = []string{"Date", "Server", "Connection", "Keep-Alive", "Transfer-Encoding", "X-Request-Id"}
)

// normalise returns a copy of r with exactly these differences removed:
//   - the Date and Server headers (each server's own), and gowsgi's
//     X-Request-ID (a new ID per request);
//   - the connection-framing headers Connection, Keep-Alive and
//     Transfer-Encoding (wsgiref speaks HTTP/1.0 and closes; gowsgi and
//     gunicorn keep the connection and may chunk);
//   - Content-Length, when one response was streamed without one, and a
//     "Content-Length: 0" on a 204 or 304 that the other server left out
//     (compareResponses skips it then; see there);
//   - the server's own host:port, replaced by {addr} in header values and the
//     body (it appears in absolute URLs);
//   - the expires= date of Set-Cookie headers, and an Expires header within
//     ten minutes of now ("expires now", as never_cache sends): both are
//     computed from the clock;
//   - the order of several Set-Cookie headers (sorted: cookies are
//     independent; the order of other repeated headers is kept);
//   - whatever the example's own normalisers replace: random values (CSRF
//     tokens, session ids) and clock-derived ones (signed-cookie timestamps).
func normalise(r *confResponse, method, addr string, extra []func(string) string) *confResponse {
	fix := func(s string) string {
		s = strings.ReplaceAll(s, addr, "{addr}")
		for _, f := range extra {
			s = f(s)
		}
		return s
	}
	n := &confResponse{status: r.status, header: http.Header{}, chunked: r.chunked, closeEnd: r.closeEnd}
	for k, vs := range r.header {
		skip := false
		for _, h := range serverHeaders {
			skip = skip || k == h
		}
		if skip {
			continue
		}
		for _, v := range vs {
			v = fix(v)
			if k == "Set-Cookie" {
				v = cookieExpires.ReplaceAllString(v, "${1}{expires}")
			}
			if k == "Expires" {
				if at, err := http.ParseTime(v); err == nil && time.Since(at).Abs() < 10*time.Minute {
					v = "{now}"
				}
			}
			n.header[k] = append(n.header[k], v)
		}
	}
	if k := "Set-Cookie"; len(n.header[k]) > 1 {
		sort.Strings(n.header[k]) // cookies are independent of each other
	}
	n.body = []byte(fix(string(r.body)))
	return n
}

// compareResponses describes how b (from server bName) differs from a (from
// aName), or returns "". A Content-Length that only one side has is skipped
// when the other side streamed without one (chunked, ended by closing the
// connection, or a HEAD): that is not wrong, and the bodies are still
// compared byte for byte. Except that gowsgi must not drop a Content-Length
// that gunicorn passed on from the application (wsgiref adds its own).
func compareResponses(a, b *confResponse, aName, bName, method string) string {
	var d []string
	if a.status != b.status {
		d = append(d, fmt.Sprintf("  status: %q vs %q", a.status, b.status))
	}
	keys := map[string]bool{}
	for k := range a.header {
		keys[k] = true
	}
	for k := range b.header {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		av, bv := a.header[k], b.header[k]
		if k == "Content-Length" && (av == nil || bv == nil) {
			lacks, has := aName, bName
			if bv == nil {
				lacks, has = bName, aName
			}
			streamed := (av == nil && (a.chunked || a.closeEnd || method == "HEAD")) ||
				(bv == nil && (b.chunked || b.closeEnd || method == "HEAD"))
			streamed = streamed && (lacks != "gowsgi" || has == "wsgiref")
			// wsgiref adds "Content-Length: 0" even where HTTP forbids one.
			bodiless := strings.HasPrefix(a.status, "204 ") || strings.HasPrefix(a.status, "304 ")
			if streamed || bodiless && strings.Join(append(av, bv...), "") == "0" {
				continue
			}
		}
		if strings.Join(av, "\n") != strings.Join(bv, "\n") {
			d = append(d, fmt.Sprintf("  header %s: %q vs %q", k, av, bv))
		}
	}
	if method != "HEAD" && !bytes.Equal(a.body, b.body) {
		d = append(d, "  body: "+bodyDiff(a.body, b.body))
	}
	return strings.Join(d, "\n")
}

func bodyDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	snip := func(x []byte) string {
		lo, hi := i-40, i+80
		if lo < 0 {
			lo = 0
		}
		if hi > len(x) {
			hi = len(x)
		}
		if lo > len(x) {
			lo = len(x)
		}
		return fmt.Sprintf("%q", x[lo:hi])
	}
	return fmt.Sprintf("%d vs %d bytes, first difference at byte %d:\n    %s\n    %s", len(a), len(b), i, snip(a), snip(b))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// ---------------------------------------------------------------- corpus helpers

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// pattern makes deterministic binary content of n bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

type formFile struct {
	field, name, ctype string
	data               []byte
}

// multipartBody builds a multipart/form-data body with a fixed boundary, so
// every server gets the same bytes.
func multipartBody(fields [][2]string, files []formFile) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary("gowsgi-conformance-boundary-7f3a"); err != nil {
		panic(err)
	}
	for _, f := range fields {
		w.WriteField(f[0], f[1])
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		h.Set("Content-Type", f.ctype)
		p, _ := w.CreatePart(h)
		p.Write(f.data)
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%x", s)
}

func expectHeader(name, want string) func(*testing.T, string, *confResponse) {
	return func(t *testing.T, server string, r *confResponse) {
		t.Helper()
		if got := r.header.Get(name); got != want {
			t.Errorf("%s: header %s = %q, want %q", server, name, got, want)
		}
	}
}

func expectBodyContains(sub string) func(*testing.T, string, *confResponse) {
	return func(t *testing.T, server string, r *confResponse) {
		t.Helper()
		if !bytes.Contains(r.body, []byte(sub)) {
			t.Errorf("%s: body does not contain %q:\n%s", server, sub, tail(string(r.body), 500))
		}
	}
}

const formType = "application/x-www-form-urlencoded"

// ---------------------------------------------------------------- Flask

// Flask signs its session cookie with the time of signing: the payload is
// compared, the timestamp and signature are not.
var flaskSession = regexp.MustCompile(`(session=\.?[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

func TestConformanceFlask(t *testing.T) {
	t.Parallel()
	if err := exec.Command(pythonBin, "-c", "import flask").Run(); err != nil {
		t.Skipf("flask is not importable by %s (Debian: python3-flask)", pythonBin)
	}
	small := []byte("name,qty\napple,3\npear,5\n")
	big := pattern(1_500_000, 1) // above gowsgi's default --body-memory: spooled to a file
	upload, uploadType := multipartBody([][2]string{{"note", "quarterly numbers"}, {"owner", "Zoë"}},
		[]formFile{{"data", "numbers.csv", "text/csv", small}, {"blob", "blob.bin", "application/octet-stream", big}})
	report, err := os.ReadFile(filepath.Join(repoRoot, "examples/flask/files/report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ct := func(v string) []string { return []string{"Content-Type", v} }
	corpus := []confStep{
		{name: "index", method: "GET", path: "/"},
		{name: "index HEAD", method: "HEAD", path: "/"},
		{name: "OPTIONS", method: "OPTIONS", path: "/api/items"},
		{name: "method not allowed", method: "PUT", path: "/", body: []byte("x"), header: ct("text/plain")},
		{name: "empty list", method: "GET", path: "/api/items"},
		{name: "create apple", method: "POST", path: "/api/items", body: jsonBody(map[string]any{"name": "apple", "qty": 3}), header: ct("application/json")},
		{name: "create pear", method: "POST", path: "/api/items", body: jsonBody(map[string]any{"name": "pear"}), header: ct("application/json")},
		{name: "create unicode", method: "POST", path: "/api/items", body: []byte(`{"name": "crème brûlée ☕", "qty": 1}`), header: ct("application/json; charset=utf-8")},
		{name: "create not JSON", method: "POST", path: "/api/items", body: []byte("not json"), header: ct("application/json")},
		{name: "create bad qty", method: "POST", path: "/api/items", body: jsonBody(map[string]any{"name": "x", "qty": -1}), header: ct("application/json")},
		{name: "create chunked", method: "POST", path: "/api/items", body: jsonBody(map[string]any{"name": "chunked plum", "qty": 7}), header: ct("application/json"), chunked: true},
		{name: "list", method: "GET", path: "/api/items?sort=id&q=a%20b"},
		{name: "get one", method: "GET", path: "/api/items/1"},
		{name: "get missing", method: "GET", path: "/api/items/99"},
		{name: "delete", method: "DELETE", path: "/api/items/2"},
		{name: "delete again", method: "DELETE", path: "/api/items/2"},
		{name: "api 404", method: "GET", path: "/api/nothing"},
		{name: "html 404", method: "GET", path: "/nothing/here"},
		{name: "non-ASCII path", method: "GET", path: "/caf%C3%A9"},
		{name: "form", method: "POST", path: "/form", header: ct(formType),
			body: []byte(url.Values{"name": {"Zoë"}, "tag": {"a", "b"}, "empty": {""}}.Encode())},
		{name: "upload", method: "POST", path: "/upload", body: upload, header: ct(uploadType),
			check: expectBodyContains(sha(big))},
		{name: "upload chunked", method: "POST", path: "/upload", body: upload, header: ct(uploadType), chunked: true},
		{name: "upload expecting 100-continue", method: "POST", path: "/upload", body: upload, header: append(ct(uploadType), "Expect", "100-continue")},
		{name: "upload without file", method: "POST", path: "/upload", header: ct(formType), body: []byte("a=1")},
		{name: "stream", method: "GET", path: "/stream?n=3&who=gowsgi"},
		{name: "long stream", method: "GET", path: "/stream?n=4000"},
		{name: "stream HEAD", method: "HEAD", path: "/stream?n=4000"},
		{name: "send_file", method: "GET", path: "/download",
			check: func(t *testing.T, server string, r *confResponse) {
				expectHeader("X-Body-Iterable", "wsgi.file_wrapper")(t, server, r)
				if !bytes.Equal(r.body, report) {
					t.Errorf("%s: /download body is not files/report.csv (%d bytes)", server, len(r.body))
				}
			}},
		{name: "send_file HEAD", method: "HEAD", path: "/download"},
		{name: "send_file range", method: "GET", path: "/download", header: []string{"Range", "bytes=100-299"}},
		{name: "send_file not modified", method: "GET", path: "/download",
			build: func(s *confServer) ([]byte, []string) {
				return nil, []string{"If-None-Match", s.last.header.Get("ETag")}
			}},
		{name: "no session", method: "GET", path: "/session"},
		{name: "login", method: "POST", path: "/session/login", header: ct(formType), body: []byte("user=alice")},
		{name: "session 1", method: "GET", path: "/session"},
		{name: "session 2", method: "GET", path: "/session"},
		{name: "logout", method: "POST", path: "/session/logout"},
		{name: "after logout", method: "GET", path: "/session"},
		{name: "set cookie", method: "GET", path: "/prefs?theme=dark"},
		{name: "read cookie", method: "GET", path: "/prefs"},
		{name: "error handler", method: "GET", path: "/boom"},
		{name: "500 handler", method: "GET", path: "/crash"},
	}
	runConformance(t, confApp{dir: "examples/flask", target: "app:app", inputTerminated: true}, corpus,
		func(s string) string { return flaskSession.ReplaceAllString(s, "${1}.{timestamp}.{signature}") })
}

// ---------------------------------------------------------------- Django

// Django's CSRF tokens and session keys are random; its messages cookie is
// signed with a timestamp (payload:timestamp:signature), so the last two
// parts differ when two servers answer in different seconds.
var (
	djangoCSRFField  = regexp.MustCompile(`(name="csrfmiddlewaretoken" value=")[A-Za-z0-9]+`)
	djangoCookieVals = regexp.MustCompile(`\b(csrftoken|sessionid)=[A-Za-z0-9]+`)
	djangoSigned     = regexp.MustCompile(`\b(messages="?[^:;"]+):[A-Za-z0-9]+:[A-Za-z0-9_-]+`)
)

func djangoNormalise(s string) string {
	s = djangoCSRFField.ReplaceAllString(s, "${1}{csrf}")
	s = djangoSigned.ReplaceAllString(s, "${1}:{timestamp}:{signature}")
	return djangoCookieVals.ReplaceAllString(s, "${1}={random}")
}

// djangoPrepare migrates a template database, creates the admin user and
// collects the static files, once per test; returns the template DB path and
// the static root.
func djangoPrepare(t *testing.T) (string, string) {
	t.Helper()
	if err := exec.Command(pythonBin, "-c", "import django").Run(); err != nil {
		t.Skipf("Django is not importable by %s (Debian: python3-django)", pythonBin)
	}
	tmp := t.TempDir()
	db, static := filepath.Join(tmp, "template.sqlite3"), filepath.Join(tmp, "static")
	env := append(os.Environ(), "DJANGO_DB="+db, "DJANGO_STATIC_ROOT="+static,
		"DJANGO_SUPERUSER_PASSWORD=conformance-pw-1")
	var wg sync.WaitGroup
	run := func(args ...string) {
		defer wg.Done()
		cmd := exec.Command(pythonBin, append([]string{"manage.py"}, args...)...)
		cmd.Dir = filepath.Join(repoRoot, "examples/django")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("manage.py %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	wg.Add(1)
	go run("collectstatic", "--noinput", "--verbosity", "0")
	wg.Add(1)
	run("migrate", "--noinput", "--verbosity", "0")
	wg.Add(1)
	run("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com")
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return db, static
}

func TestConformanceDjango(t *testing.T) {
	t.Parallel()
	templateDB, static := djangoPrepare(t)
	dbDir := t.TempDir()
	app := confApp{
		dir: "examples/django", target: "mysite.wsgi:application", rootPath: "/prefix",
		env: []string{"DJANGO_STATIC_ROOT=" + static},
		perServerEnv: func(t *testing.T, server string) []string {
			// Each server writes to its own copy of the same database.
			b, err := os.ReadFile(templateDB)
			if err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dbDir, server+".sqlite3")
			if err := os.WriteFile(db, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"DJANGO_DB=" + db}
		},
	}
	csrfFrom := func(s *confServer) string {
		m := regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`).FindSubmatch(s.last.body)
		if m == nil {
			return "no-token-in-previous-page"
		}
		return string(m[1])
	}
	cookie := func(s *confServer, name string) string {
		u, _ := url.Parse("http://" + s.addr + "/prefix/")
		for _, c := range s.jar.Cookies(u) {
			if c.Name == name {
				return c.Value
			}
		}
		return ""
	}
	form := func(v url.Values) func(s *confServer) ([]byte, []string) {
		return func(s *confServer) ([]byte, []string) {
			w := url.Values{"csrfmiddlewaretoken": {csrfFrom(s)}}
			for k, vs := range v {
				w[k] = vs
			}
			return []byte(w.Encode()), []string{"Content-Type", formType}
		}
	}
	big := pattern(3_000_000, 2) // above FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
	upload, uploadType := multipartBody([][2]string{{"comment", "big one"}},
		[]formFile{{"file", "big.bin", "application/octet-stream", big}, {"small", "small.txt", "text/plain", []byte("tiny\n")}})
	handbook, err := os.ReadFile(filepath.Join(repoRoot, "examples/django/notes/files/handbook.txt"))
	if err != nil {
		t.Fatal(err)
	}
	baseCSS, err := os.ReadFile(filepath.Join(static, "admin/css/base.css"))
	if err != nil {
		t.Fatal(err)
	}
	corpus := []confStep{
		{name: "index", method: "GET", path: "/"},
		{name: "index HEAD", method: "HEAD", path: "/"},
		{name: "notes JSON (SCRIPT_NAME)", method: "GET", path: "/notes.json",
			check: expectBodyContains(`"script_name": "/prefix", "path": "/prefix/notes.json", "path_info": "/notes.json"`)},
		{name: "admin redirects to login", method: "GET", path: "/admin/"},
		{name: "login page", method: "GET", path: "/admin/login/?next=/prefix/admin/"},
		{name: "login wrong password", method: "POST", path: "/admin/login/?next=/prefix/admin/",
			build: form(url.Values{"username": {"admin"}, "password": {"wrong"}, "next": {"/prefix/admin/"}})},
		{name: "login", method: "POST", path: "/admin/login/?next=/prefix/admin/",
			build: form(url.Values{"username": {"admin"}, "password": {"conformance-pw-1"}, "next": {"/prefix/admin/"}}),
			check: func(t *testing.T, server string, r *confResponse) {
				if r.status != "302 Found" || r.header.Get("Location") != "/prefix/admin/" {
					t.Errorf("%s: login answered %s, Location %q; want a 302 to /prefix/admin/", server, r.status, r.header.Get("Location"))
				}
			}},
		{name: "admin index", method: "GET", path: "/admin/"},
		{name: "add form", method: "GET", path: "/admin/notes/note/add/"},
		{name: "add note", method: "POST", path: "/admin/notes/note/add/",
			build: form(url.Values{"title": {"Ünïcode note ✓"}, "body": {"line one\r\nline two"}, "pinned": {"on"}, "_save": {"Save"}})},
		{name: "changelist", method: "GET", path: "/admin/notes/note/"},
		{name: "add form 2", method: "GET", path: "/admin/notes/note/add/"},
		{name: "add note invalid", method: "POST", path: "/admin/notes/note/add/",
			build: form(url.Values{"title": {""}, "body": {"no title"}, "_save": {"Save"}})},
		{name: "saved to SQLite", method: "GET", path: "/notes.json", check: expectBodyContains(`"title": "\u00dcn\u00efcode note \u2713"`)},
		{name: "index with note", method: "GET", path: "/"},
		{name: "POST without CSRF", method: "POST", path: "/admin/notes/note/add/", header: []string{"Content-Type", formType}, body: []byte("title=x")},
		{name: "static admin css", method: "GET", path: "/static/admin/css/base.css",
			check: func(t *testing.T, server string, r *confResponse) {
				if !bytes.Equal(r.body, baseCSS) {
					t.Errorf("%s: static base.css is not the collected file", server)
				}
			}},
		{name: "static app css", method: "GET", path: "/static/notes/style.css"},
		{name: "static HEAD", method: "HEAD", path: "/static/notes/style.css"},
		{name: "static not modified", method: "GET", path: "/static/notes/style.css",
			build: func(s *confServer) ([]byte, []string) {
				return nil, []string{"If-Modified-Since", s.last.header.Get("Last-Modified")}
			}},
		{name: "static missing", method: "GET", path: "/static/notes/missing.css"},
		{name: "static traversal", method: "GET", path: "/static/..%2f..%2fmanage.py"},
		{name: "StreamingHttpResponse", method: "GET", path: "/stream/?n=50"},
		{name: "FileResponse", method: "GET", path: "/download/",
			check: func(t *testing.T, server string, r *confResponse) {
				if !bytes.Equal(r.body, handbook) {
					t.Errorf("%s: /download/ body is not handbook.txt (%d bytes)", server, len(r.body))
				}
			}},
		{name: "large upload", method: "POST", path: "/upload/", body: upload,
			build: func(s *confServer) ([]byte, []string) {
				return nil, []string{"Content-Type", uploadType, "X-CSRFToken", cookie(s, "csrftoken")}
			},
			check: expectBodyContains(`"handler": "TemporaryUploadedFile", "on_disk": true, "sha256": "` + sha(big) + `"`)},
		{name: "large upload chunked", method: "POST", path: "/upload/", body: upload, chunked: true,
			build: func(s *confServer) ([]byte, []string) {
				return nil, []string{"Content-Type", uploadType, "X-CSRFToken", cookie(s, "csrftoken")}
			}},
		{name: "upload without CSRF", method: "POST", path: "/upload/", body: upload, header: []string{"Content-Type", uploadType}},
		{name: "404", method: "GET", path: "/no/such/page/"},
		{name: "non-ASCII 404", method: "GET", path: "/caf%C3%A9/"},
		{name: "method not allowed", method: "DELETE", path: "/notes.json",
			build: func(s *confServer) ([]byte, []string) { return nil, []string{"X-CSRFToken", cookie(s, "csrftoken")} }},
		{name: "logout", method: "GET", path: "/admin/logout/"},
		{name: "admin after logout", method: "GET", path: "/admin/"},
	}
	runConformance(t, app, corpus, djangoNormalise)
}

// ---------------------------------------------------------------- Falcon, Bottle, Pyramid

func TestConformanceFalcon(t *testing.T) {
	t.Parallel()
	if err := exec.Command(pythonBin, "-c", "import falcon").Run(); err != nil {
		t.Skipf("falcon is not importable by %s (Debian: python3-falcon)", pythonBin)
	}
	js := []string{"Content-Type", "application/json"}
	blob := pattern(200_000, 3)
	corpus := []confStep{
		{name: "root", method: "GET", path: "/"},
		{name: "root HEAD", method: "HEAD", path: "/"},
		{name: "empty", method: "GET", path: "/books"},
		{name: "add", method: "POST", path: "/books", header: js, body: jsonBody(map[string]any{"title": "Dune", "year": 1965})},
		{name: "add unicode", method: "POST", path: "/books", header: js, body: []byte(`{"title": "Le Petit Prince — édition ✓"}`)},
		{name: "add chunked", method: "POST", path: "/books", header: js, body: jsonBody(map[string]any{"title": "Chunky"}), chunked: true},
		{name: "add not JSON", method: "POST", path: "/books", header: js, body: []byte("{nope")},
		{name: "add empty body", method: "POST", path: "/books", header: js},
		{name: "add invalid", method: "POST", path: "/books", header: js, body: jsonBody(map[string]any{"title": ""})},
		{name: "get", method: "GET", path: "/books/1"},
		{name: "get missing", method: "GET", path: "/books/42"},
		{name: "get bad id", method: "GET", path: "/books/abc"},
		{name: "put", method: "PUT", path: "/books/1", header: js, body: jsonBody(map[string]any{"title": "Dune Messiah", "year": 1969})},
		{name: "delete", method: "DELETE", path: "/books/2"},
		{name: "list", method: "GET", path: "/books"},
		{name: "method not allowed", method: "PATCH", path: "/books", header: js, body: []byte("{}")},
		{name: "echo binary", method: "POST", path: "/echo", header: []string{"Content-Type", "application/octet-stream"}, body: blob},
		{name: "echo text chunked", method: "POST", path: "/echo", header: []string{"Content-Type", "text/plain; charset=utf-8"}, body: []byte("héllo\n"), chunked: true},
		// Always with a Content-Type: without one wsgiref puts CONTENT_TYPE=text/plain in the environ.
		{name: "echo empty", method: "POST", path: "/echo", header: []string{"Content-Type", "application/x-empty"}},
		{name: "custom error", method: "GET", path: "/teapot"},
		{name: "divide", method: "GET", path: "/divide?a=7&b=2"},
		{name: "error handler", method: "GET", path: "/divide?a=1&b=0"},
		{name: "missing param", method: "GET", path: "/divide?a=1"},
		{name: "404", method: "GET", path: "/nowhere"},
		{name: "non-ASCII 404", method: "GET", path: "/%E2%9C%93"},
	}
	runConformance(t, confApp{dir: "examples/falcon", target: "app:app"}, corpus)
}

func TestConformanceBottle(t *testing.T) {
	t.Parallel()
	if err := exec.Command(pythonBin, "-c", "import bottle").Run(); err != nil {
		t.Skipf("bottle is not importable by %s (Debian: python3-bottle)", pythonBin)
	}
	js := []string{"Content-Type", "application/json"}
	blob := pattern(300_000, 4)
	corpus := []confStep{
		{name: "index", method: "GET", path: "/"},
		{name: "hello", method: "GET", path: "/hello/world"},
		{name: "hello non-ASCII", method: "GET", path: "/hello/Zo%C3%AB"},
		{name: "empty", method: "GET", path: "/api/todos"},
		{name: "add", method: "POST", path: "/api/todos", header: js, body: jsonBody(map[string]any{"text": "buy milk"})},
		{name: "add chunked", method: "POST", path: "/api/todos", header: js, body: jsonBody(map[string]any{"text": "chunked"}), chunked: true},
		{name: "add invalid", method: "POST", path: "/api/todos", header: js, body: jsonBody([]int{1, 2})},
		{name: "add not JSON", method: "POST", path: "/api/todos", header: js, body: []byte("{oops")},
		{name: "get", method: "GET", path: "/api/todos/1"},
		{name: "get missing", method: "GET", path: "/api/todos/9"},
		{name: "index with todos", method: "GET", path: "/"},
		{name: "index HEAD", method: "HEAD", path: "/"},
		{name: "guestbook", method: "POST", path: "/guestbook", header: []string{"Content-Type", formType}, body: []byte(url.Values{"name": {"Zoë"}, "message": {"hello there"}}.Encode())},
		{name: "guestbook no name", method: "POST", path: "/guestbook", header: []string{"Content-Type", formType}, body: []byte("message=hi")},
		{name: "upload", method: "POST", path: "/upload", header: []string{"Content-Type", "application/octet-stream"}, body: blob},
		{name: "500", method: "GET", path: "/fail"},
		{name: "405", method: "DELETE", path: "/"},
		{name: "404", method: "GET", path: "/missing"},
	}
	runConformance(t, confApp{dir: "examples/bottle", target: "app:app"}, corpus)
}

func TestConformancePyramid(t *testing.T) {
	t.Parallel()
	if err := exec.Command(pythonBin, "-c", "import pyramid").Run(); err != nil {
		t.Skipf("pyramid is not importable by %s (Debian: python3-pyramid)", pythonBin)
	}
	js := []string{"Content-Type", "application/json"}
	corpus := []confStep{
		{name: "home", method: "GET", path: "/"},
		{name: "home HEAD", method: "HEAD", path: "/"},
		{name: "greet", method: "GET", path: "/greet/Zo%C3%AB?lang=fr"},
		{name: "greet query", method: "GET", path: "/greet/a%20b?lang=pt+BR&lang=x&%C3%A9=1"},
		{name: "encoded slash", method: "GET", path: "/greet/a%2Fb"},
		{name: "order", method: "POST", path: "/api/orders", header: js, body: jsonBody(map[string]any{"item": "tea", "qty": 2})},
		{name: "order chunked", method: "POST", path: "/api/orders", header: js, body: jsonBody(map[string]any{"item": "scone"}), chunked: true},
		{name: "order not JSON", method: "POST", path: "/api/orders", header: js, body: []byte("tea please")},
		{name: "order bad qty", method: "POST", path: "/api/orders", header: js, body: jsonBody(map[string]any{"item": "tea", "qty": 0})},
		{name: "get order", method: "GET", path: "/api/orders/1"},
		{name: "missing order", method: "GET", path: "/api/orders/7"},
		{name: "contact", method: "POST", path: "/contact", header: []string{"Content-Type", formType}, body: []byte("email=a%40example.com&msg=hi")},
		{name: "contact no email", method: "POST", path: "/contact", header: []string{"Content-Type", formType}, body: []byte("msg=hi")},
		{name: "exception view", method: "GET", path: "/broken"},
		{name: "notfound view", method: "GET", path: "/no/such/thing"},
		{name: "non-ASCII notfound", method: "GET", path: "/%C3%A9t%C3%A9"},
	}
	runConformance(t, confApp{dir: "examples/pyramid", target: "app:app", inputTerminated: true}, corpus)
}
