package tests

// The ASGI HTTP scope field by field, where the front decides it (it sends
// the scope ready-made): the percent-decoded path, raw_path and
// query_string as received, header bytes as received, root_path, and the
// one trust decision on proxy headers and the PROXY protocol for scheme,
// client and server.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// asgiScope is the scope as asgi_raw.py returns it (/scope, or any path
// with ?dump=scope), bytes as latin-1 text.
type asgiScope struct {
	HTTPVersion string            `json:"http_version"`
	Method      string            `json:"method"`
	Scheme      string            `json:"scheme"`
	Path        string            `json:"path"`
	RawPath     string            `json:"raw_path"`
	Query       string            `json:"query_string"`
	RootPath    string            `json:"root_path"`
	Headers     [][2]string       `json:"headers"`
	Client      []any             `json:"client"`
	Server      []any             `json:"server"`
	Extensions  map[string]any    `json:"extensions"`
	State       map[string]string `json:"state"`
	ASGI        map[string]string `json:"asgi"`
	Type        string            `json:"type"`
}

// rawScope sends one raw request (which must close the connection) and
// decodes the scope the app saw.
func rawScope(t *testing.T, addr, req string) asgiScope {
	t.Helper()
	out := raw(t, addr, req, 5*time.Second)
	resp, body := parseRaw(t, out, "GET")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d for %q: %s", resp.StatusCode, req, body)
	}
	var sc asgiScope
	if err := json.Unmarshal([]byte(body), &sc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return sc
}

// latin1 is s's bytes as code points, as the app's jsonable writes bytes.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func headerList(sc asgiScope) string {
	var hs []string
	for _, h := range sc.Headers {
		if h[0] != "x-request-id" {
			hs = append(hs, h[0]+"="+h[1])
		}
	}
	return strings.Join(hs, " ")
}

func TestASGIScopeFields(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw)

	// The path percent-decoded (%2F too) and read as UTF-8, invalid bytes
	// as U+FFFD; raw_path and query_string exactly as sent; header names
	// lower-cased, values' bytes untouched (non-ASCII included), order and
	// duplicates kept.
	sc := rawScope(t, s.Addr, "GET /a%2Fb/caf%C3%A9/%FF/x%zz?dump=scope&q=%2F%FF HTTP/1.1\r\nHost: example.com\r\n"+
		"X-Bytes: caf\xe9 \xff\r\nX-Dup: 1\r\nAccept: */*\r\nx-DUP: 2\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
	if want := "/a/b/caf\u00e9/\ufffd/x%zz"; sc.Path != want {
		t.Errorf("path %q, want %q", sc.Path, want)
	}
	if sc.RawPath != "/a%2Fb/caf%C3%A9/%FF/x%zz" || sc.Query != "dump=scope&q=%2F%FF" {
		t.Errorf("raw_path %q query_string %q", sc.RawPath, sc.Query)
	}
	want := "host=example.com x-bytes=" + latin1("caf\xe9 \xff") + " x-dup=1 accept=*/* x-dup=2 content-type=text/plain connection=close"
	if got := headerList(sc); got != want {
		t.Errorf("headers\n got %q\nwant %q", got, want)
	}
	if sc.Type != "http" || sc.Method != "GET" || sc.Scheme != "http" || sc.HTTPVersion != "1.1" || sc.RootPath != "" {
		t.Errorf("type %q method %q scheme %q http_version %q root_path %q", sc.Type, sc.Method, sc.Scheme, sc.HTTPVersion, sc.RootPath)
	}
	if len(sc.Client) != 2 || sc.Client[0] != "127.0.0.1" || sc.Client[1].(float64) <= 0 {
		t.Errorf("client %v", sc.Client)
	}
	// server is the listening address, not the Host (TestASGIScopeServer).
	if len(sc.Server) != 2 || sc.Server[0] != "127.0.0.1" || sc.Server[1] != float64(s.port()) {
		t.Errorf("server %v, want the listening address %s", sc.Server, s.Addr)
	}
	if sc.ASGI["version"] != "3.0" || sc.State == nil {
		t.Errorf("asgi %v state %v", sc.ASGI, sc.State)
	}
	if _, tls := sc.Extensions["tls"]; tls || sc.Extensions["http.response.pathsend"] == nil ||
		sc.Extensions["http.response.trailers"] == nil || sc.Extensions["http.response.early_hint"] == nil {
		t.Errorf("extensions %v", sc.Extensions)
	}

	// HEAD and POST keep their method; whatever the Host, and without
	// one (HTTP/1.0), server is the address the request came in on.
	sc = rawScope(t, s.Addr, "POST /p?dump=scope HTTP/1.1\r\nHost: [::1]:8081\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
	if sc.Method != "POST" || len(sc.Server) != 2 || sc.Server[0] != "127.0.0.1" || sc.Server[1] != float64(s.port()) {
		t.Errorf("method %q server %v", sc.Method, sc.Server)
	}
	sc = rawScope(t, s.Addr, "GET /p?dump=scope HTTP/1.0\r\n\r\n")
	if sc.HTTPVersion != "1.0" || len(sc.Server) != 2 || sc.Server[0] != "127.0.0.1" || sc.Server[1] != float64(s.port()) || headerList(sc) != "" {
		t.Errorf("HTTP/1.0 without Host: http_version %q server %v headers %q", sc.HTTPVersion, sc.Server, headerList(sc))
	}
}

// TestASGIScopeRootPathAndProxies: root_path from --root-path, and scheme
// and client from what a trusted proxy says (X-Forwarded-*, the PROXY
// protocol), never from an untrusted peer; server from the PROXY
// protocol's destination, never from X-Forwarded-Host.
func TestASGIScopeRootPathAndProxies(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw, "--root-path", "/api", "--forwarded-allow-ips", "127.0.0.1",
		"--proxy-protocol", "--proxy-allow-from", "127.0.0.1")

	sc := rawScope(t, s.Addr, "GET /api/x%2Fy?dump=scope HTTP/1.1\r\nHost: inner:8000\r\nX-Forwarded-For: 203.0.113.9\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example:8443\r\nConnection: close\r\n\r\n")
	if sc.RootPath != "/api" || sc.Path != "/api/x/y" || sc.RawPath != "/api/x%2Fy" {
		t.Errorf("root_path %q path %q raw_path %q", sc.RootPath, sc.Path, sc.RawPath)
	}
	if sc.Scheme != "https" || len(sc.Client) != 2 || sc.Client[0] != "203.0.113.9" || sc.Client[1] != float64(0) {
		t.Errorf("trusted proxy: scheme %q client %v", sc.Scheme, sc.Client)
	}
	if len(sc.Server) != 2 || sc.Server[0] != "127.0.0.1" || sc.Server[1] != float64(s.port()) {
		t.Errorf("trusted proxy: server %v, want the listening address %s", sc.Server, s.Addr)
	}
	// The headers stay as received: the forwarded host is not put in them.
	if !strings.Contains(headerList(sc), "host=inner:8000") {
		t.Errorf("headers %q", headerList(sc))
	}

	// A path outside the root path: root_path is prefixed, as WSGI's
	// SCRIPT_NAME + PATH_INFO.
	sc = rawScope(t, s.Addr, "GET /other?dump=scope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if sc.RootPath != "/api" || sc.Path != "/api/other" {
		t.Errorf("outside the root path: root_path %q path %q", sc.RootPath, sc.Path)
	}

	// The PROXY protocol's addresses: the client, and the server (the
	// address the client connected to, as the proxy says). Its client is the peer for --forwarded-allow-ips:
	// it is not trusted, so its X-Forwarded-* are not believed.
	sc = rawScope(t, s.Addr, "PROXY TCP4 198.51.100.7 192.0.2.1 4444 80\r\nGET /api/?dump=scope HTTP/1.0\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n")
	if len(sc.Client) != 2 || sc.Client[0] != "198.51.100.7" || sc.Client[1] != float64(4444) || sc.Scheme != "http" {
		t.Errorf("PROXY protocol: client %v scheme %q", sc.Client, sc.Scheme)
	}
	if len(sc.Server) != 2 || sc.Server[0] != "192.0.2.1" || sc.Server[1] != float64(80) {
		t.Errorf("PROXY protocol: server %v", sc.Server)
	}
}

// TestASGIResponseHeaderShapes: the response head goes to the front as the
// app gave it (lists or tuples of bytes, bytearray, a generator); the
// front drops hop-by-hop fields, keeps the rest byte for byte, and answers
// 500 with a log line naming the fault for anything else.
func TestASGIResponseHeaderShapes(t *testing.T) {
	s, _ := startASGI(t, nil, asgiRaw)
	c := dialRaw(t, s.Addr)
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ { // the app's "connection: keep-alive" is dropped (its "close" would close: TestASGIPeerHTTPFraming)
		fmt.Fprintf(c, "GET /head-shapes HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readResponse(t, br, "GET")
		if resp.StatusCode != 200 || body != "shapes" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-List"); got != "caf\xe9" {
			t.Errorf("X-List %q, want the bytes caf\\xe9", got)
		}
		if resp.Header.Get("X-Last") != "1" || resp.Header.Get("Keep-Alive") != "" || resp.Close || len(resp.TransferEncoding) > 0 {
			t.Errorf("request %d: hop-by-hop fields not dropped: close %v te %v %v", i, resp.Close, resp.TransferEncoding, resp.Header)
		}
	}
	for _, kind := range []string{"generator", "tuple"} {
		resp, body := get(t, s, "GET", "/head-shapes?kind="+kind, nil)
		if resp.StatusCode != 200 || body != "shapes" {
			t.Errorf("kind %s: %d %q", kind, resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, s, "GET", "/head-shapes?kind=generator", nil); strings.Join(resp.Header.Values("X-Gen"), ",") != "0,1" {
		t.Errorf("generator headers: %v", resp.Header)
	}
	for kind, log := range map[string]string{
		"str":    `ASGI response header name must be bytes, not str`,
		"int":    `must be bytes, not int`,
		"crlf":   `contains the control character`,
		"three":  `ASGI response header 0 must be a [name, value] pair, not 3 items`,
		"object": `ASGI response headers must be [name, value] pairs of bytes`,
	} {
		resp, _ := get(t, s, "GET", "/head-shapes?kind="+kind, nil)
		if resp.StatusCode != 500 {
			t.Errorf("kind %s: status %d, want 500", kind, resp.StatusCode)
		}
		s.WaitLog(t, log, 1, 10*time.Second)
	}
}
