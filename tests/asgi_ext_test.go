package tests

// ASGI's response extensions http.response.trailers and
// http.response.early_hint, end to end: what HTTP/1.1, HTTP/1.0 and HTTP/2
// clients get on the wire, and the protocol violations.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const asgiExt = "tests/testdata/apps/asgi_ext.py"

// extBody is what /trailers sends, and extSum its x-checksum trailer.
const extBody = "first piece\nsecond piece\n"

var extSum = func() string { s := sha256.Sum256([]byte(extBody)); return hex.EncodeToString(s[:]) }()

// rawExchange sends request on a new connection and returns all the
// server sends until it closes the connection (the requests ask it to).
func rawExchange(t *testing.T, addr, request string) string {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%q: reading until the server closes: %v (got %q)", request, err, b)
	}
	return string(b)
}

// parseResponses reads the responses in raw, in order: 1xx ones first.
func parseResponses(t *testing.T, raw, method string) []*http.Response {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	var out []*http.Response
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("parsing %q: %v", raw, err)
		}
		out = append(out, resp)
		if resp.StatusCode >= 200 {
			return out
		}
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return string(b)
}

func TestASGIExtensionsAdvertised(t *testing.T) {
	t.Parallel()
	s, _ := startASGI(t, nil, asgiExt)
	_, body := get(t, s, "GET", "/scope-ext", nil)
	for _, ext := range []string{"http.response.trailers", "http.response.early_hint", "http.response.pathsend"} {
		if !strings.Contains(body, `"`+ext+`"`) {
			t.Errorf("the scope's extensions %s lack %s", body, ext)
		}
	}
}

// TestASGITrailersHTTP1: trailers reach an HTTP/1.1 client that sent "TE:
// trailers", after the last chunk of a chunked body (the app's
// Content-Length is not sent: it would forbid them), with the Trailer
// field the app declared; a client without TE, and an HTTP/1.0 client,
// get the whole body and no trailers. Keep-alive holds across them.
func TestASGITrailersHTTP1(t *testing.T) {
	t.Parallel()
	s, _ := startASGI(t, nil, asgiExt)

	raw := rawExchange(t, s.Addr, "GET /trailers?cl=1&declare=1 HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
	resp := parseResponses(t, raw, "GET")[0]
	body := readBody(t, resp)
	if body != extBody || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("TE: trailers: body %q, transfer-encoding %v; want the body, chunked\n%s", body, resp.TransferEncoding, raw)
	}
	if resp.Header.Get("Content-Length") != "" || strings.Contains(strings.ToLower(raw), "content-length") {
		t.Errorf("TE: trailers: a Content-Length went out with a chunked body\n%s", raw)
	}
	if !strings.Contains(raw, "\r\nTrailer: x-checksum, x-count\r\n") { // (ReadResponse moves it into resp.Trailer's keys)
		t.Errorf("TE: trailers: no Trailer field with the app's declaration\n%s", raw)
	}
	if resp.Trailer.Get("X-Checksum") != extSum || resp.Trailer.Get("X-Count") != "2" {
		t.Errorf("TE: trailers: trailers %v, want x-checksum %s and x-count 2\n%s", resp.Trailer, extSum, raw)
	}
	if !strings.HasSuffix(raw, "\r\n0\r\nx-checksum: "+extSum+"\r\nx-count: 2\r\n\r\n") {
		t.Errorf("TE: trailers: the body does not end with the trailer section\n%q", raw)
	}

	// Without Content-Length nor declaration: chunked, trailers, no Trailer field.
	raw = rawExchange(t, s.Addr, "GET /trailers HTTP/1.1\r\nHost: x\r\nTE: deflate;q=0.5, trailers\r\nConnection: close\r\n\r\n")
	resp = parseResponses(t, raw, "GET")[0]
	if body := readBody(t, resp); body != extBody || resp.Trailer.Get("X-Count") != "2" || strings.Contains(raw, "\r\nTrailer:") {
		t.Errorf("TE listing trailers among others: body %q, trailers %v; want no Trailer field\n%s", body, resp.Trailer, raw)
	}

	// No TE: the app's Content-Length frames the body; no trailers, no Trailer field.
	raw = rawExchange(t, s.Addr, "GET /trailers?cl=1&declare=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp = parseResponses(t, raw, "GET")[0]
	body = readBody(t, resp)
	if body != extBody || resp.ContentLength != int64(len(extBody)) || len(resp.Trailer) != 0 || strings.Contains(raw, "\r\nTrailer:") ||
		strings.Contains(raw, "x-checksum") {
		t.Errorf("no TE: body %q, length %d, trailers %v; want the body framed by its length, no Trailer field and no trailers\n%s",
			body, resp.ContentLength, resp.Trailer, raw)
	}
	// No TE, no length: the chunked body ends with an empty trailer section.
	raw = rawExchange(t, s.Addr, "GET /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp = parseResponses(t, raw, "GET")[0]
	if body := readBody(t, resp); body != extBody || len(resp.Trailer) != 0 || strings.Contains(raw, "x-checksum") {
		t.Errorf("no TE, no length: body %q, trailers %v\n%s", body, resp.Trailer, raw)
	}

	// HTTP/1.0 has no chunked bodies, hence no trailers, TE or not.
	raw = rawExchange(t, s.Addr, "GET /trailers?declare=1 HTTP/1.0\r\nTE: trailers\r\n\r\n")
	resp = parseResponses(t, raw, "GET")[0]
	if body := readBody(t, resp); body != extBody || len(resp.TransferEncoding) != 0 || strings.Contains(raw, "x-checksum") ||
		strings.Contains(raw, "\r\nTrailer:") {
		t.Errorf("HTTP/1.0: body %q, transfer-encoding %v; want the body alone\n%s", body, resp.TransferEncoding, raw)
	}

	// One keep-alive connection: responses with and without trailers in a
	// row stay in step.
	c := dialRaw(t, s.Addr)
	defer c.Close()
	br := bufio.NewReader(c)
	for i, req := range []string{
		"GET /trailers?cl=1 HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n",
		"GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /trailers?declare=1 HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n",
	} {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, body := readResponse(t, br, "GET")
		wantTrailers := strings.Contains(req, "TE:")
		if body != extBody || (resp.Trailer.Get("X-Count") == "2") != wantTrailers {
			t.Errorf("keep-alive request %d: body %q, trailers %v (want trailers: %v)", i, body, resp.Trailer, wantTrailers)
		}
	}
}

// TestASGIEarlyHintsHTTP1: each http.response.early_hint is a 103 with one
// Link field per link, before the final response, which does not repeat
// them; an HTTP/1.0 client gets no 103 (it would take it for the answer).
func TestASGIEarlyHintsHTTP1(t *testing.T) {
	t.Parallel()
	s, _ := startASGI(t, nil, asgiExt)
	raw := rawExchange(t, s.Addr, "GET /hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	rs := parseResponses(t, raw, "GET")
	if len(rs) != 3 || rs[0].StatusCode != 103 || rs[1].StatusCode != 103 || rs[2].StatusCode != 200 {
		t.Fatalf("want 103, 103, 200; got %d responses\n%s", len(rs), raw)
	}
	if got := rs[0].Header.Values("Link"); len(got) != 2 || got[0] != "</style.css>; rel=preload; as=style" || got[1] != "</app.js>; rel=preload; as=script" {
		t.Errorf("first 103: Link %q\n%s", got, raw)
	}
	if got := rs[1].Header.Values("Link"); len(got) != 1 || got[0] != "</font.woff2>; rel=preload; as=font; crossorigin" {
		t.Errorf("second 103: Link %q\n%s", got, raw)
	}
	if body := readBody(t, rs[2]); body != "ok\n" || rs[2].Header.Get("Link") != "" {
		t.Errorf("final response: body %q, Link %q\n%s", body, rs[2].Header.Get("Link"), raw)
	}
	if !strings.HasPrefix(raw, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>") {
		t.Errorf("the 103 is not the first thing on the wire\n%q", raw)
	}

	raw = rawExchange(t, s.Addr, "GET /hints HTTP/1.0\r\n\r\n")
	rs = parseResponses(t, raw, "GET")
	if len(rs) != 1 || rs[0].StatusCode != 200 || strings.Contains(raw, " 103 Early Hints") || strings.Contains(raw, "\r\nLink:") {
		t.Errorf("HTTP/1.0: want the 200 alone\n%s", raw)
	}
	if body := readBody(t, rs[0]); body != "ok\n" {
		t.Errorf("HTTP/1.0: body %q", body)
	}
}

// TestASGIExtensionsHTTP2: over h2c, trailers arrive as a trailing HEADERS
// frame whatever the request's TE, and early hints as 103 HEADERS frames
// before the final head (which does not carry their Link fields).
func TestASGIExtensionsHTTP2(t *testing.T) {
	t.Parallel()
	s, _ := startASGI(t, nil, asgiExt, "--http2-cleartext", "prior-knowledge")
	c := h2Client(nil, "")

	for _, path := range []string{"/trailers?cl=1&declare=1", "/trailers"} {
		resp, body := do(t, c, "GET", s.URL(path), nil)
		if resp.ProtoMajor != 2 || body != extBody || resp.Trailer.Get("X-Checksum") != extSum || resp.Trailer.Get("X-Count") != "2" {
			t.Errorf("h2 %s: %s body %q trailers %v; want the body and x-checksum, x-count", path, resp.Proto, body, resp.Trailer)
		}
	}

	var mu sync.Mutex
	var hints []textproto.MIMEHeader
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		if code == 103 {
			hints = append(hints, h)
		}
		return nil
	}}
	req, _ := http.NewRequest("GET", s.URL("/hints"), nil)
	resp, err := c.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 200 || body != "ok\n" || resp.Header.Get("Link") != "" {
		t.Errorf("h2 /hints: %d %q Link %q; want 200 ok without the hints' fields", resp.StatusCode, body, resp.Header.Get("Link"))
	}
	if len(hints) != 2 || len(hints[0]["Link"]) != 2 || hints[1].Get("Link") != "</font.woff2>; rel=preload; as=font; crossorigin" {
		t.Errorf("h2 /hints: 103s %v; want two, with two links then one", hints)
	}
}

// TestASGIExtensionsProtocolErrors: what breaks the extensions' rules is an
// ASGI protocol error in the app's send() (logged, handled as the other
// violations), and what the front's header rules refuse never reaches the
// client: a bad hint becomes a 500, a bad trailer cuts the response.
func TestASGIExtensionsProtocolErrors(t *testing.T) {
	t.Parallel()
	s, p := startASGI(t, nil, asgiExt)
	marker := func(name, want string) {
		t.Helper()
		p.WaitFile(name, 20*time.Second)
		b, _ := os.ReadFile(p.Path(name))
		if !strings.Contains(string(b), want) {
			t.Errorf("/bad/%s: send() raised %q; want %q", name, b, want)
		}
	}
	request := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n"
	}

	// Trailers without trailers: True: the response went out whole already.
	raw := rawExchange(t, s.Addr, request("/bad/trailers-unannounced"))
	resp := parseResponses(t, raw, "GET")[0]
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "ok\n" || len(resp.Trailer) != 0 {
		t.Errorf("trailers-unannounced: %d %q %v\n%s", resp.StatusCode, body, resp.Trailer, raw)
	}
	marker("trailers-unannounced", "ASGIProtocolError: ASGI message 'http.response.trailers' sent without 'trailers': True")

	// Trailers before the body's end: the response is cut (no last chunk).
	raw = rawExchange(t, s.Addr, request("/bad/trailers-before-end"))
	if !strings.Contains(raw, "part\n") || strings.Contains(raw, "\r\n0\r\n") {
		t.Errorf("trailers-before-end: want the start of the body, then the connection cut\n%q", raw)
	}
	marker("trailers-before-end", "sent before the body ended")

	// A body after the last trailers: the response was complete.
	raw = rawExchange(t, s.Addr, request("/bad/after-trailers"))
	resp = parseResponses(t, raw, "GET")[0]
	if body := readBody(t, resp); body != "ok\n" || resp.Trailer.Get("X-A") != "1" {
		t.Errorf("after-trailers: body %q trailers %v; want the whole response\n%s", body, resp.Trailer, raw)
	}
	marker("after-trailers", "sent after the response completed")

	// An early hint after the start: nothing went out yet, so 500.
	raw = rawExchange(t, s.Addr, request("/bad/hint-after-start"))
	if rs := parseResponses(t, raw, "GET"); len(rs) != 1 || rs[0].StatusCode != 500 {
		t.Errorf("hint-after-start: want a 500 alone\n%s", raw)
	}
	marker("hint-after-start", "ASGIProtocolError: ASGI message 'http.response.early_hint' sent after 'http.response.start'")

	// A trailer that may not be one (Content-Length): the response is cut.
	raw = rawExchange(t, s.Addr, request("/bad/bad-trailer"))
	if !strings.Contains(raw, "ok\n") || strings.Contains(raw, "\r\n0\r\n") || strings.Contains(strings.ToLower(raw), "content-length: 3") {
		t.Errorf("bad-trailer: want the body, then the connection cut before any trailer\n%q", raw)
	}
	s.WaitLog(t, `invalid trailers from the application; the response is cut off`, 1, 20*time.Second)

	// A link with CR LF: refused by the header rules, 500, no 103.
	raw = rawExchange(t, s.Addr, request("/bad/bad-hint"))
	if rs := parseResponses(t, raw, "GET"); len(rs) != 1 || rs[0].StatusCode != 500 || strings.Contains(raw, "Set-Cookie") {
		t.Errorf("bad-hint: want a 500 alone\n%s", raw)
	}
	s.WaitLog(t, `invalid early hint from the application; answering 500`, 1, 20*time.Second)
}
