package tests

// One set of request rules for every protocol, an environ that says what
// the client sent, and logs that cannot be forged (issue 15, items 3, 4
// and 6).

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// h2Result is how a stream ended: a response (status, body), or a reset.
type h2Result struct {
	status, body string
	reset        bool
	code         http2.ErrCode
}

func (r h2Result) String() string {
	if r.reset {
		return "RST_STREAM " + r.code.String()
	}
	return r.status + " " + strings.TrimSpace(r.body)
}

// sendH2 sends one request on stream id with exactly the fields given, in
// order, pseudo-header fields included: net/http's client would refuse to
// send the malformed ones.
func sendH2(t testing.TB, h *rawH2, id uint32, endStream bool, fields ...string) {
	t.Helper()
	h.buf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		h.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.buf.Bytes(), EndStream: endStream, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// readH2 reads frames until stream id ends with a response or a reset.
func readH2(t testing.TB, h *rawH2, id uint32) h2Result {
	t.Helper()
	h.status = ""
	var data bytes.Buffer
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading stream %d: %v (so far: status %q, %q)", id, err, h.status, data.String())
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			h.dec.Write(f.HeaderBlockFragment())
			if f.StreamID == id && f.StreamEnded() {
				return h2Result{status: h.status, body: data.String()}
			}
		case *http2.DataFrame:
			if f.StreamID == id {
				data.Write(f.Data())
				if len(f.Data()) > 0 {
					h.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
					h.fr.WriteWindowUpdate(id, uint32(len(f.Data())))
				}
				if f.StreamEnded() {
					return h2Result{status: h.status, body: data.String()}
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return h2Result{reset: true, code: f.ErrCode}
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY: %v %s", f.ErrCode, f.DebugData())
		}
	}
}

// h2TLSConn opens an HTTP/2 connection over TLS (ALPN h2), presenting
// certs, and returns it ready for requests.
func h2TLSConn(t testing.TB, p *testPKI, addr string, certs ...tls.Certificate) *rawH2 {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"h2"}, Certificates: certs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("ALPN chose %q", c.ConnectionState().NegotiatedProtocol)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	return newRawH2(fr)
}

// h2Env decodes the probe's /env answer.
func h2Env(t testing.TB, r h2Result) map[string]any {
	t.Helper()
	if r.reset || r.status != "200" {
		t.Fatalf("/env over HTTP/2: %v", r)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(r.body), &env); err != nil {
		t.Fatalf("/env: %v: %s", err, r.body)
	}
	return env
}

// badH2Requests are HTTP/2 requests that Go's server lets through and the
// HTTP/1.1 parser refuses: each gets HTTP/1.1's status, from gowsgi, and
// never reaches the app. scheme is the :scheme they are sent with.
func badH2Requests(scheme string) []struct {
	name   string
	fields []string
	body   bool // the stream stays open for a body
	status string
} {
	req := func(method, path string, extra ...string) []string {
		return append([]string{":method", method, ":scheme", scheme, ":path", path, ":authority", "localhost"}, extra...)
	}
	return []struct {
		name   string
		fields []string
		body   bool
		status string
	}{
		{"method with a space and a path", req("GET /admin", "/env"), false, "400"},
		{"method not a token", req("GE{T", "/env"), false, "400"},
		{"path with spaces", req("GET", "/env x y"), false, "400"},
		// Go's server refuses these itself, with RST_STREAM PROTOCOL_ERROR.
		{"path not origin form", req("GET", "env"), false, "RST"},
		{"absolute path", req("GET", "http://evil.example/env"), false, "RST"},
		{"host differs from :authority", req("GET", "/env", "host", "other.example"), false, "RST"},
		{"authority not a host", []string{":method", "GET", ":scheme", scheme, ":path", "/env", ":authority", "evil.example/p@x y"}, false, "RST"},
		// These Go lets through; gowsgi holds them to HTTP/1.1's rules.
		{"asterisk for GET", req("GET", "*"), false, "400"},
		{"path too long", req("GET", "/env?"+strings.Repeat("a", 9000)), false, "414"},
		{"field line of 8,189 bytes", req("GET", "/env", "x-long", strings.Repeat("q", 8189-len("x-long: "))), false, "431"},
		{"leading space in a value", req("GET", "/env", "x-a", " padded"), false, "400"},
		{"trailing tab in a value", req("GET", "/env", "x-a", "padded\t"), false, "400"},
		{"two different content-lengths", req("POST", "/env", "content-length", "5", "content-length", "7"), true, "400"},
		{"two equal content-lengths", req("POST", "/env", "content-length", "5", "content-length", "5"), true, "400"},
		{"content-length list", req("POST", "/env", "content-length", "5, 5"), true, "400"},
		{"content-length with a sign", req("POST", "/env", "content-length", "+5"), true, "400"},
	}
}

// checkBadH2 sends badH2Requests on h and checks each refusal, then that a
// good request on the same connection still reaches the app.
func checkBadH2(t *testing.T, h *rawH2, scheme string) {
	t.Helper()
	id := uint32(1)
	for _, c := range badH2Requests(scheme) {
		sendH2(t, h, id, !c.body, c.fields...)
		got := readH2(t, h, id)
		if c.status == "RST" {
			if !got.reset || got.code != http2.ErrCodeProtocol {
				t.Errorf("%s (:scheme %s): %v, want Go's RST_STREAM PROTOCOL_ERROR", c.name, scheme, got)
			}
		} else if got.reset || got.status != c.status || got.body != c.status+" "+http.StatusText(atoi(c.status))+"\n" {
			t.Errorf("%s (:scheme %s): %v, want %s from gowsgi", c.name, scheme, got, c.status)
		}
		id += 2
	}
	sendH2(t, h, id, true, ":method", "GET", ":scheme", scheme, ":path", "/env?a=b", ":authority", "localhost", "x-a", "in ner",
		"x-long", strings.Repeat("q", 8188-len("x-long: ")))
	env := h2Env(t, readH2(t, h, id))
	if env["PATH_INFO"] != "/env" || env["QUERY_STRING"] != "a=b" || env["HTTP_X_A"] != "in ner" || env["REQUEST_METHOD"] != "GET" || len(fmt.Sprint(env["HTTP_X_LONG"])) != 8180 {
		t.Errorf("a good request after the refusals: %v", env)
	}
}

// TestH2RequestRules: over h2c, HTTP/2 requests pass the HTTP/1.1 request
// rules: a method that is not a token, a :path with spaces, padded values,
// two content-lengths... get HTTP/1.1's status and never reach the app.
func TestH2RequestRules(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t, "--http2-cleartext", "both")
	fr, _ := h2cConn(t, s.Addr)
	checkBadH2(t, newRawH2(fr), "http")

	// The same requests over HTTP/1.1 get the same statuses.
	for _, c := range []struct{ line, extra, status string }{
		{"GET /admin /env HTTP/1.1", "", "400"},
		{"GET /env x y HTTP/1.1", "", "400"},
		{"POST /env HTTP/1.1", "Content-Length: 5\r\nContent-Length: 7\r\n", "400"},
		{"GET /env?" + strings.Repeat("a", 9000) + " HTTP/1.1", "", "414"},
	} {
		out := raw(t, s.Addr, c.line+"\r\nHost: localhost\r\n"+c.extra+"\r\n", 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 "+c.status+" ") {
			t.Errorf("HTTP/1.1 %q: %.40q, want %s", c.line, out, c.status)
		}
	}
}

// TestH2TLSSchemeHTTP: on a TLS connection, the TLS variables come from
// the connection: ":scheme http" neither drops HTTPS nor SSL_CLIENT_*, and
// the request rules hold over TLS too.
func TestH2TLSSchemeHTTP(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	_, _, alice := p.issue("alice", "alice", nil, true)
	s, _ := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--ca-certs", p.file, "--cert-reqs", "1")

	h := h2TLSConn(t, p, s.Addr, alice)
	for i, scheme := range []string{"https", "http"} {
		id := uint32(1 + 2*i)
		sendH2(t, h, id, true, ":method", "GET", ":scheme", scheme, ":path", "/env", ":authority", "localhost")
		env := h2Env(t, readH2(t, h, id))
		if env["HTTPS"] != "on" || env["SSL_PROTOCOL"] != "TLSv1.3" || env["SSL_CLIENT_VERIFY"] != "SUCCESS" ||
			env["SSL_CLIENT_S_DN_CN"] != "alice" || env["wsgi.url_scheme"] != "https" || env["SERVER_PROTOCOL"] != "HTTP/2.0" {
			t.Errorf(":scheme %s on TLS: HTTPS %v SSL_PROTOCOL %v SSL_CLIENT_VERIFY %v SSL_CLIENT_S_DN_CN %v wsgi.url_scheme %v %v",
				scheme, env["HTTPS"], env["SSL_PROTOCOL"], env["SSL_CLIENT_VERIFY"], env["SSL_CLIENT_S_DN_CN"], env["wsgi.url_scheme"], env["SERVER_PROTOCOL"])
		}
	}
	checkBadH2(t, h2TLSConn(t, p, s.Addr), "http")
}

// TestForwardedHostValidated: a trusted proxy's X-Forwarded-Host and
// Forwarded host= must pass the Host rule; a forged one is ignored (the
// request keeps its own Host) and stays a plain header.
func TestForwardedHostValidated(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t) // loopback is trusted by default
	env := func(hdr ...string) map[string]any {
		t.Helper()
		_, body := get(t, s, "GET", "/env", nil, hdr...)
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("/env: %v: %s", err, body)
		}
		return m
	}
	own := strings.Split(s.Addr, ":")
	for _, hdr := range [][]string{
		{"X-Forwarded-Host", "evil.example/p@x y"},
		{"X-Forwarded-Host", "user@evil.example"},
		{"Forwarded", `for=127.0.0.1;host="evil.example/p@x y"`},
	} {
		e := env(hdr...)
		if e["HTTP_HOST"] != s.Addr || e["SERVER_NAME"] != own[0] || e["SERVER_PORT"] != own[1] {
			t.Errorf("%s: %q: HTTP_HOST %v SERVER_NAME %v SERVER_PORT %v, want the request's own %s",
				hdr[0], hdr[1], e["HTTP_HOST"], e["SERVER_NAME"], e["SERVER_PORT"], s.Addr)
		}
	}
	if e := env("X-Forwarded-Host", "evil.example/p@x y"); e["HTTP_X_FORWARDED_HOST"] != "evil.example/p@x y" {
		t.Errorf("HTTP_X_FORWARDED_HOST %v: the header itself reaches the app as sent", e["HTTP_X_FORWARDED_HOST"])
	}
	// A valid one still stands.
	if e := env("X-Forwarded-Host", "app.example:8443"); e["HTTP_HOST"] != "app.example:8443" || e["SERVER_NAME"] != "app.example" || e["SERVER_PORT"] != "8443" {
		t.Errorf("valid X-Forwarded-Host: HTTP_HOST %v SERVER_NAME %v SERVER_PORT %v", e["HTTP_HOST"], e["SERVER_NAME"], e["SERVER_PORT"])
	}
}

// TestJSONLogNotForgeable: with --log-format json --capture-output, an app
// that prints request data holding a fake JSON record after a newline
// forges nothing: every line of the error log is a record of gowsgi's
// own, and the app's output is a string inside one.
func TestJSONLogNotForgeable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	errLog := filepath.Join(dir, "error.log")
	s := startLogged(t, errLog, probe, "--capture-output", "--log-format", "json")
	forged := `{"time":"2026-01-01T00:00:00Z","level":"ERROR","msg":"admin logged in","user":"root"}`
	// print() writes "bad input x", then the fake record on a line of its
	// own; the stderr line closes a quote first, and ends in CRLF.
	get(t, s, "GET", "/pylog?print="+url.QueryEscape("bad input x\n"+forged)+"&stderr="+url.QueryEscape(`"}`+"\n"+forged+"\r"), nil)
	var b []byte
	outputs := map[string]int{}
	read := func() {
		b, _ = os.ReadFile(errLog)
		clear(outputs)
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "worker output" {
				if o, ok := rec["output"].(string); ok {
					outputs[o]++
				}
			}
		}
	}
	if !waitFor(15*time.Second, func() bool { read(); return outputs[forged] == 2 && outputs["bad input x"] == 1 && outputs[`"}`] == 1 }) {
		t.Fatalf("the app's lines are not output strings of gowsgi's records: %v\n%s", outputs, b)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("error log line is not a record of gowsgi's: %q", l)
			continue
		}
		if rec["msg"] == "admin logged in" || rec["user"] != nil {
			t.Errorf("a forged record: %q", l)
		}
		if _, ok := rec["output"]; ok && rec["msg"] != "worker output" {
			t.Errorf("captured output in a record %q", l)
		}
	}
}

// TestRequestIDEnviron: the environ holds the X-Request-ID the client
// sent, and only that; the request's ID is gowsgi.request_id, over
// HTTP/1.1 and HTTP/2 alike.
func TestRequestIDEnviron(t *testing.T) {
	t.Parallel()
	// 10.9.9.9 is the only trusted proxy: the test client is untrusted.
	access := filepath.Join(t.TempDir(), "access.log")
	s, _ := StartProbe(t, "--forwarded-allow-ips", "10.9.9.9", "--access-logfile", access,
		"--access-logformat", "%({x-request-id}i)s|%({gowsgi.request_id}e)s|%({HTTP_X_REQUEST_ID}e)s|")
	env := func(s *Server, hdr ...string) (string, map[string]any) {
		t.Helper()
		resp, body := get(t, s, "GET", "/env", nil, hdr...)
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("/env: %v: %s", err, body)
		}
		return resp.Header.Get("X-Request-ID"), m
	}
	id, e := env(s)
	if _, ok := e["HTTP_X_REQUEST_ID"]; ok || !hex32.MatchString(id) || e["gowsgi.request_id"] != id {
		t.Errorf("no X-Request-ID sent: HTTP_X_REQUEST_ID %v, gowsgi.request_id %v, response %q", e["HTTP_X_REQUEST_ID"], e["gowsgi.request_id"], id)
	}
	// The access log shows the ID, and the header only as the client sent it.
	fileHas(t, access, id+"|"+id+"|-|\n")
	id, e = env(s, "X-Request-ID", "client-chosen-7")
	if e["HTTP_X_REQUEST_ID"] != "client-chosen-7" || id == "client-chosen-7" || e["gowsgi.request_id"] != id || !hex32.MatchString(id) {
		t.Errorf("untrusted X-Request-ID: HTTP_X_REQUEST_ID %v, gowsgi.request_id %v, response %q", e["HTTP_X_REQUEST_ID"], e["gowsgi.request_id"], id)
	}
	fileHas(t, access, id+"|"+id+"|client-chosen-7|\n")

	// A trusted (loopback) peer's own ID is the request's ID, and its
	// header stays as sent.
	local, _ := StartProbe(t, "--http2-cleartext", "both")
	id, e = env(local, "X-Request-ID", "from-proxy-9")
	if id != "from-proxy-9" || e["HTTP_X_REQUEST_ID"] != "from-proxy-9" || e["gowsgi.request_id"] != "from-proxy-9" {
		t.Errorf("trusted X-Request-ID: response %q, HTTP_X_REQUEST_ID %v, gowsgi.request_id %v", id, e["HTTP_X_REQUEST_ID"], e["gowsgi.request_id"])
	}
	id, e = env(local)
	if _, ok := e["HTTP_X_REQUEST_ID"]; ok || e["gowsgi.request_id"] != id || !hex32.MatchString(id) {
		t.Errorf("trusted peer, no X-Request-ID: HTTP_X_REQUEST_ID %v, gowsgi.request_id %v, response %q", e["HTTP_X_REQUEST_ID"], e["gowsgi.request_id"], id)
	}

	// HTTP/2 alike.
	fr, _ := h2cConn(t, local.Addr)
	h := newRawH2(fr)
	sendH2(t, h, 1, true, ":method", "GET", ":scheme", "http", ":path", "/env", ":authority", "localhost")
	e = h2Env(t, readH2(t, h, 1))
	if _, ok := e["HTTP_X_REQUEST_ID"]; ok || !hex32.MatchString(fmt.Sprint(e["gowsgi.request_id"])) {
		t.Errorf("HTTP/2: HTTP_X_REQUEST_ID %v, gowsgi.request_id %v", e["HTTP_X_REQUEST_ID"], e["gowsgi.request_id"])
	}
}

// TestFieldLineLimitCountsCRLF: gunicorn's request vector invalid/008, a
// field line of 8,189 bytes against the default limit_request_field_size
// of 8190, gets 431: the line counts with its CRLF.
func TestFieldLineLimitCountsCRLF(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t)
	line := func(n int) string {
		const name = "Someheader: "
		return name + strings.Repeat("q", n-len(name)) + "\r\n"
	}
	for _, c := range []struct {
		n      int
		status string
	}{{8189, "431"}, {8188, "200"}} {
		req := "PUT /env?foo=bar HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n" + line(c.n) + "\r\n"
		if out := raw(t, s.Addr, req, 5*time.Second); !strings.HasPrefix(out, "HTTP/1.1 "+c.status+" ") {
			t.Errorf("a field line of %d bytes: %.40q, want %s", c.n, out, c.status)
		}
	}
}

// TestUnknownLogLevelWarns: an unknown --log-level (a script's "'info'"
// with its quotes) is a one-line warning and info, as in gunicorn; the
// server runs.
func TestUnknownLogLevelWarns(t *testing.T) {
	t.Parallel()
	s := StartServer(t, probe, "--log-level", "'info'")
	if resp, body := get(t, s, "GET", "/", nil); resp.StatusCode != 200 {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	s.WaitLog(t, "msg=listening", 1, 15*time.Second) // info lines are logged
	var warn []string
	for _, l := range strings.Split(s.Stderr.String(), "\n") {
		if strings.Contains(l, "--log-level") {
			warn = append(warn, l)
		}
	}
	if len(warn) != 1 || !strings.Contains(warn[0], `unknown level "'info'"`) || !strings.HasSuffix(warn[0], "using info") {
		t.Errorf("want one warning line about the level, got %q", warn)
	}
	if code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--log-level", "verbose", "--check-config"); code != 0 || !strings.Contains(stderr, "using info") {
		t.Errorf("--log-level verbose --check-config: exit %d, %s", code, stderr)
	}
}

// TestMetricsIdleTimeout: the metrics port closes an idle keep-alive
// connection instead of keeping it for ever.
func TestMetricsIdleTimeout(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	StartProbe(t, "--metrics-bind", maddr)
	c, err := net.Dial("tcp", maddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(40 * time.Second))
	br := bufio.NewReader(c)
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("/healthz: %d, close %v", resp.StatusCode, resp.Close)
	}
	start := time.Now()
	if n, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read %v %v after %v, want EOF", n, err, time.Since(start))
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
}
