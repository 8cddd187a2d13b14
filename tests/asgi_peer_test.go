package tests

// ASGI HTTP behaviours that uvicorn's tests/protocols/test_http.py and
// tests/test_lifespan.py (and hypercorn's tests/protocol/test_h11.py and
// test_http_stream.py) pin, ported as behaviours (not code) onto the real
// binary, with testdata/apps/asgi_peer.py; and what a careless application
// does, each of which must end as a 500 with a log line naming the fault,
// never a hung worker or a leaked slot. Each test names the peer cases it
// ports; where gowsgi answers differently on purpose, the comment says so.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const asgiPeer = "tests/testdata/apps/asgi_peer.py"

// peerGet is a GET of path as raw HTTP/1.1 with extra header lines.
func peerGet(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: example.org\r\n" + strings.Join(extra, "") + "\r\n"
}

// keepsOpen sends req, reads its response, then sends a second request on
// the same connection: the connection must still serve it. It returns the
// first response.
func keepsOpen(t *testing.T, addr, req, method string) (*http.Response, string) {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.Close()
	io.WriteString(c, req)
	br := bufio.NewReader(c)
	resp, body := readResponse(t, br, method)
	io.WriteString(c, peerGet("/hello"))
	if r2, b2 := readResponse(t, br, "GET"); r2.StatusCode != 200 || b2 != "Hello, world" {
		t.Errorf("after %q: the next request on the connection got %d %q", firstLine(req), r2.StatusCode, b2)
	}
	return resp, body
}

// closesAfter sends req and reads until the server closes the connection
// (within 20 s); it returns everything that came.
func closesAfter(t *testing.T, addr, req string) string {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.Close()
	io.WriteString(c, req)
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%q: the connection was not closed: %v (read %q)", firstLine(req), err, b)
	}
	return string(b)
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

// TestASGIPeerHTTPFraming: how responses are framed and when the
// connection stays open (uvicorn: test_get_request, test_head_request,
// test_keepalive, test_close, test_chunked_encoding*, test_pipelined_requests,
// test_undersized_request, test_oversized_request, test_http10_request,
// test_return_close_header, test_close_connection_with_multiple_requests,
// test_header_value_allowed_characters, test_100_continue_sent_when_body_consumed,
// test_http2_upgrade_request, test_header_upgrade_is_not_websocket*,
// test_invalid_http_request, test_huge_headers_*).
func TestASGIPeerHTTPFraming(t *testing.T) {
	s, _ := startASGI(t, nil, asgiPeer)

	// Field values with a tab, a space, or bytes above 0x7f go out as given.
	for v, want := range map[string]string{"%09": "<\t>", "%20": "< >", "%C2%B5": "<\xc2\xb5>", "c": "<c>"} {
		resp, body := keepsOpen(t, s.Addr, peerGet("/header-value?v="+v), "GET")
		if resp.StatusCode != 200 || body != "Hello, world" || resp.Header.Get("Key") != want {
			t.Errorf("header value %s: %d %q key %q", v, resp.StatusCode, body, resp.Header.Get("Key"))
		}
	}

	// 204 and 304 carry no body, even when the app sends one, and the
	// connection goes on; so does an empty 200.
	for _, c := range []struct{ path, cl string }{
		{"/empty", ""}, {"/empty?body=abc", ""}, {"/empty?status=304&body=abc", ""}, {"/empty?status=200", "0"},
	} {
		resp, body := keepsOpen(t, s.Addr, peerGet(c.path), "GET")
		if body != "" || resp.Header.Get("Content-Length") != c.cl || len(resp.TransferEncoding) > 0 {
			t.Errorf("GET %s: %d body %q Content-Length %q TE %v", c.path, resp.StatusCode, body, resp.Header.Get("Content-Length"), resp.TransferEncoding)
		}
	}

	// The app's own Transfer-Encoding is the server's business: the body
	// is framed once, and a HEAD gets the head alone; the connection goes on.
	resp, body := keepsOpen(t, s.Addr, peerGet("/chunked"), "GET")
	if resp.StatusCode != 200 || body != "Hello, world!" {
		t.Errorf("app's transfer-encoding: %d %q", resp.StatusCode, body)
	}
	resp, body = keepsOpen(t, s.Addr, "HEAD /chunked HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD")
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD with the app's transfer-encoding: %d %q", resp.StatusCode, body)
	}
	resp, body = keepsOpen(t, s.Addr, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 12 {
		t.Errorf("HEAD /hello: %d %q Content-Length %d, want the GET's 12", resp.StatusCode, body, resp.ContentLength)
	}

	// test_close: an app's "Connection: close" closes the connection
	// after its response (the field itself is the server's to write).
	out := closesAfter(t, s.Addr, peerGet("/conn-close")+peerGet("/hello"))
	if strings.Count(out, "HTTP/1.1 ") != 1 || !strings.HasPrefix(out, "HTTP/1.1 204 ") || !strings.Contains(out, "\r\nConnection: close\r\n") {
		t.Errorf("app's Connection: close: %q", out)
	}

	// The client's Connection: close: one response, with Connection:
	// close, and a request pipelined behind it is not answered.
	out = closesAfter(t, s.Addr, peerGet("/hello", "Connection: close\r\n")+peerGet("/hello"))
	if strings.Count(out, "HTTP/1.1 200 OK") != 1 || !strings.Contains(out, "\r\nConnection: close\r\n") || !strings.Contains(out, "\r\nContent-Length: 12\r\n") {
		t.Errorf("client's Connection: close: %q", out)
	}

	// Pipelined requests are answered in order.
	out = closesAfter(t, s.Addr, peerGet("/hello")+peerGet("/version")+peerGet("/hello", "Connection: close\r\n"))
	if strings.Count(out, "HTTP/1.1 200 OK") != 3 || !strings.Contains(out, "Hello, worldHTTP/1.1 200 OK") || !strings.Contains(out, "Version: 1.1") {
		t.Errorf("pipelined: %q", out)
	}

	// HTTP/1.0: served, its version in the scope, the connection closed.
	out = closesAfter(t, s.Addr, "GET /version HTTP/1.0\r\n\r\n")
	if !strings.Contains(out, " 200 OK\r\n") || !strings.HasSuffix(out, "Version: 1.0") {
		t.Errorf("HTTP/1.0: %q", out)
	}

	// A body shorter or longer than the app's Content-Length: the client
	// sees the response cut (the connection closes after what fits).
	for _, path := range []string{"/undersized", "/undersized?stream=1", "/oversized"} {
		out := closesAfter(t, s.Addr, peerGet(path)+peerGet("/hello"))
		if strings.Count(out, "HTTP/1.1 ") != 1 || !strings.HasSuffix(out, "\r\n\r\nxxx") {
			t.Errorf("GET %s: %q", path, out)
		}
	}
	s.WaitLog(t, "response body longer than its Content-Length (10)", 1, 10*time.Second)

	// Expect: 100-continue: the 100 goes out, then the app's answer.
	// (The front reads the body for the app, so it sends the 100 even
	// when the app would not read: uvicorn's test_100_continue_not_sent_
	// when_body_not_consumed differs on purpose.)
	out = closesAfter(t, s.Addr, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{\"hello\": \"world\"}")
	if !strings.HasPrefix(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, `Body: {"hello": "world"}`) {
		t.Errorf("Expect: 100-continue: %q", out)
	}

	// Upgrades that are not a WebSocket are ignored: h2c (on an HTTP/1.1
	// connection), or an unknown protocol.
	for _, up := range []string{"h2c", "not-websocket"} {
		resp, body := keepsOpen(t, s.Addr, peerGet("/hello", "Connection: upgrade\r\nUpgrade: "+up+"\r\nSec-WebSocket-Version: 11\r\n"), "GET")
		if resp.StatusCode != 200 || body != "Hello, world" {
			t.Errorf("Upgrade: %s: %d %q", up, resp.StatusCode, body)
		}
	}
	// A WebSocket upgrade without a key never reaches the app: 400 with
	// the reason (uvicorn: test_invalid_upgrade, test_supported_upgrade_request).
	out = closesAfter(t, s.Addr, peerGet("/hello", "Connection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"))
	if !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, "Sec-WebSocket-Key") {
		t.Errorf("WebSocket upgrade without a key: %q", out)
	}

	// Malformed requests: 400 and the connection closed; headers that are
	// too large: 431.
	for _, line := range []string{"G?T / HTTP/1.1", "GET /?x=y z HTTP/1.1", "GET / HTTP1.1"} {
		out := closesAfter(t, s.Addr, line+"\r\nHost: example.org\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Errorf("%q: %q", line, out)
		}
	}
	out = closesAfter(t, s.Addr, "GET / HTTP/1.1\r\nHost: x\r\nCookie: "+strings.Repeat("x", 64<<10)+"\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 431 ") {
		t.Errorf("64 KiB of headers: %.80q", out)
	}
}

// TestASGIPeerCarelessApps: an application that breaks the message rules
// gets a 500 (before its head went out) or a cut connection (after), a log
// line that names the fault, and the worker goes on serving with no slot
// held (uvicorn: test_missing_start_message, test_duplicate_start_message,
// test_response_header_splitting, where gowsgi answers 500 instead of
// closing the connection: no head was sent yet).
func TestASGIPeerCarelessApps(t *testing.T) {
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, _ := startASGI(t, nil, asgiPeer, "-w", "1", "--metrics-bind", maddr)
	for _, c := range []struct{ path, log string }{
		{"/missing-start", "ASGI message 'http.response.body' sent before 'http.response.start'"},
		{"/body-str", "http.response.body's body must be bytes, not str"},
		{"/status?s=str", "status must be an int from 100 to 999, not '200'"},
		{"/status?s=none", "status must be an int from 100 to 999, not None"},
		{"/status?s=bool", "status must be an int from 100 to 999, not True"},
		{"/status?s=float", "status must be an int from 100 to 999, not 200.0"},
		{"/status?s=99", "status must be an int from 100 to 999, not 99"},
		{"/status?s=1000", "status must be an int from 100 to 999, not 1000"},
		{"/status?s=101", "an informational (1xx) status cannot be a final response"},
		{"/no-status", "status must be an int from 100 to 999, not None"},
		{"/bad-message?kind=no-type", "an ASGI message must be a dict with a 'type', not {'status': 200}"},
		{"/bad-message?kind=not-dict", "an ASGI message must be a dict with a 'type', not [('type'"},
		{"/bad-message?kind=unknown", "unexpected ASGI message 'http.response.bogus' in an HTTP connection"},
		{"/bad-message?kind=ws-type", "unexpected ASGI message 'websocket.accept' in an HTTP connection"},
		{"/headers-type?kind=dict", "ASGI response headers must be an iterable of [name, value] pairs of bytes, not {b'x-a': b'1'}"},
		{"/headers-type?kind=bytes", "ASGI response headers must be an iterable of [name, value] pairs of bytes, not b'x-a'"},
		{"/headers-type?kind=str-list", "ASGI response header 0 must be a [name, value] pair, not str"},
		{"/headers-type?kind=none-value", `value of ASGI response header \"x-a\" must be bytes, not None`},
	} {
		resp, body := keepsOpen(t, s.Addr, peerGet(c.path), "GET")
		if resp.StatusCode != 500 || body != "500 Internal Server Error\n" {
			t.Errorf("GET %s: %d %q, want a 500", c.path, resp.StatusCode, body)
		}
		s.WaitLog(t, c.log, 1, 10*time.Second)
	}
	// An http.HTTPStatus is an int: served as its number (the first use
	// of a code, before any plain int of it was seen, included).
	for q, want := range map[string]int{"enum": 203, "enum-ok": 200, "600": 600} {
		resp, body := keepsOpen(t, s.Addr, peerGet("/status?s="+q), "GET")
		if resp.StatusCode != want || body != "odd status" {
			t.Errorf("status %s: %d %q, want %d", q, resp.StatusCode, body, want)
		}
	}
	// Nothing is left in flight.
	workerUnharmed(t, s, maddr)
}

// TestASGIPeerReceive: receive() after the body waits for the disconnect
// (it never returns at once in a loop that would spin the event loop);
// after the disconnect it says so again at once; an app that never reads
// the body answers and the connection goes on (uvicorn: test_early_response,
// test_read_after_response, test_early_disconnect; a client sending more
// than its Content-Length: the rest is the next request).
func TestASGIPeerReceive(t *testing.T) {
	s, p := startASGI(t, nil, asgiPeer)
	resp, body := keepsOpen(t, s.Addr, "POST /receive-after-body?name=rab HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST")
	if resp.StatusCode != 200 || body != "receive waited" || readFile(t, p.Path("rab")) != "waited" {
		t.Errorf("receive() after the body: %d %q", resp.StatusCode, body)
	}

	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /receive-after-disconnect?name=rad HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	p.WaitFile("rad.entered", 10*time.Second)
	c.Close()
	p.WaitFile("rad", 10*time.Second)
	if got := readFile(t, p.Path("rad")); got != "http.disconnect" {
		t.Errorf("receive() after http.disconnect: %q", got)
	}

	resp, body = keepsOpen(t, s.Addr, "POST /no-read HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST")
	if resp.StatusCode != 200 || body != "did not read" {
		t.Errorf("an app that does not read the body: %d %q", resp.StatusCode, body)
	}
	// More bytes than the Content-Length: they are the next request, a
	// bad one here, which gets a 400 and the connection closed.
	out := closesAfter(t, s.Addr, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloEXTRA\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK") || !strings.Contains(out, "Body: hello") || !strings.Contains(out, "HTTP/1.1 400 ") {
		t.Errorf("a body longer than its Content-Length: %q", out)
	}
}

// TestASGIPeerStateAndPaths: each request gets a shallow copy of the
// lifespan state (a key set by one request is not seen by the next; a
// mutated value is), the lifespan scope is uvicorn's, and root_path is
// prefixed to path and raw_path (uvicorn: test_lifespan_state (http and
// lifespan), test_lifespan_scope_asgi3app, test_root_path, test_raw_path).
func TestASGIPeerStateAndPaths(t *testing.T) {
	s, p := startASGI(t, nil, asgiPeer, "-w", "1", "--root-path", "/app")
	var sc map[string]any
	if err := json.Unmarshal([]byte(readFile(t, p.Path("lifespan-scope"))), &sc); err != nil {
		t.Fatal(err)
	}
	if sc["type"] != "lifespan" || fmt.Sprint(sc["asgi"]) != "map[spec_version:2.4 version:3.0]" || fmt.Sprint(sc["state"]) != "map[]" || len(sc) != 3 {
		t.Errorf("lifespan scope %v", sc)
	}
	for i, want := range []string{`{"name": "peer", "counter": [1]}`, `{"name": "peer", "counter": [1, 2]}`} {
		if _, body := get(t, s, "GET", "/app/state", nil); body != want {
			t.Errorf("request %d: state %s, want %s", i, body, want)
		}
	}
	// A target outside the root path gets it prefixed, raw_path too;
	// raw_path is the path of an absolute-form target.
	for _, target := range []string{"/one%2Ftwo/paths", "/app/one%2Ftwo/paths", "http://example.org/one%2Ftwo/paths"} {
		resp, body := keepsOpen(t, s.Addr, peerGet(target), "GET")
		if want := `{"root_path": "/app", "path": "/app/one/two/paths", "raw_path": "/app/one%2Ftwo/paths"}`; resp.StatusCode != 200 || body != want {
			t.Errorf("GET %s: %d %s, want %s", target, resp.StatusCode, body, want)
		}
	}
}

// TestASGIPeerLifespanFailures: uvicorn's test_lifespan_with_failed_startup
// with an app that re-raises after startup.failed (a boot failure with the
// app's message, in auto and on modes), test_lifespan_on_with_error (on:
// a boot failure; auto: served without lifespan, covered by
// TestASGILifespanUnsupported), and test_lifespan_with_failed_shutdown
// with a re-raise (logged, a clean exit).
func TestASGIPeerLifespanFailures(t *testing.T) {
	for _, c := range []struct{ mode, lifespan, want string }{
		{"fail-raise", "auto", "lifespan startup failed: the lifespan event failed"},
		{"fail-raise", "on", "lifespan startup failed: the lifespan event failed"},
		{"raise", "on", "RuntimeError: startup blew up"},
	} {
		p := newProbeState(t)
		s := startProcessEnv(t, append(p.Env(), "PEER_LIFESPAN="+c.mode), asgiPeer, "--lifespan", c.lifespan)
		code := s.Wait(60 * time.Second)
		if code != 3 || !strings.Contains(s.Stderr.String(), c.want) {
			t.Errorf("%s with --lifespan %s: exit %d, want 3 with %q:\n%s", c.mode, c.lifespan, code, c.want, s.Stderr)
		}
		// An app that said startup.failed and raised has not shown that it
		// lacks the lifespan protocol: no notice says so.
		if strings.Contains(s.Stderr.String(), "does not support the ASGI lifespan protocol") {
			t.Errorf("%s with --lifespan %s: logged as lacking the lifespan protocol:\n%s", c.mode, c.lifespan, s.Stderr)
		}
	}
	s, p := startASGI(t, []string{"PEER_LIFESPAN=shutdown-fail-raise"}, asgiPeer)
	if code := s.Stop(); code != 0 {
		t.Errorf("shutdown.failed and a raise: exit %d", code)
	}
	if !p.Exists("lifespan-shutdown") || !strings.Contains(s.Stderr.String(), "the shutdown event failed") {
		t.Errorf("shutdown.failed not reported:\n%s", s.Stderr)
	}
}

// TestASGIPeerLifespanOff: with --lifespan off the app never sees a
// lifespan scope, and requests get an empty state (uvicorn:
// test_lifespan_off).
func TestASGIPeerLifespanOff(t *testing.T) {
	s, p := startASGI(t, nil, asgiPeer, "--lifespan", "off")
	if _, body := get(t, s, "GET", "/state", nil); body != `{"name": null, "counter": null}` {
		t.Errorf("state with --lifespan off: %s", body)
	}
	if code := s.Stop(); code != 0 || p.Exists("lifespan-scope") || p.Exists("lifespan-shutdown") {
		t.Errorf("--lifespan off: exit %d, lifespan ran: %v", code, p.Exists("lifespan-scope"))
	}
}

// workerUnharmed checks that the careless apps a test ran cost their
// worker (worker 1, whose metrics are at maddr) nothing: it neither died
// nor saw a protocol error, and no request is left in flight.
func workerUnharmed(t *testing.T, s *Server, maddr string) {
	t.Helper()
	if n := s.LogCount("worker died") + s.LogCount("protocol error"); n != 0 {
		t.Errorf("a careless app broke its worker:\n%s", s.Stderr)
	}
	if !waitFor(10*time.Second, func() bool {
		v, n := metricValue(scrapeMetrics(t, maddr), "gowsgi_worker_requests_in_flight", "worker", "1")
		return n == 1 && v == 0
	}) {
		t.Errorf("requests still in flight:\n%v", scrapeMetrics(t, maddr)["gowsgi_worker_requests_in_flight"])
	}
}
