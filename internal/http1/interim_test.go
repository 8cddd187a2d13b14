package http1

import (
	"io"
	"strings"
	"testing"
)

// exchangeRaw sends request on a new connection and returns what the
// server sends until it closes it.
func exchangeRaw(t *testing.T, addr, request string) string {
	t.Helper()
	c := dial(t, addr)
	c.send(request)
	b, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		t.Fatalf("%q: %v", request, err)
	}
	return string(b)
}

// TestWriteInterim: interim responses go out before the final one, to
// HTTP/1.1 clients only; a field that could split the response is
// refused; after WriteHeader nothing more is sent.
func TestWriteInterim(t *testing.T) {
	errs := make(chan error, 4)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		errs <- w.WriteInterim(103, "Early Hints", []Field{{"Link", "</a.css>; rel=preload"}, {"Link", "</b.js>; rel=preload"}})
		errs <- w.WriteInterim(103, "Early Hints", []Field{{"Link", "</c>\r\nX-Injected: 1"}})
		errs <- w.WriteInterim(200, "OK", nil)
		w.WriteHeader(200, "OK", []Field{{"Content-Type", "text/plain"}})
		errs <- w.WriteInterim(103, "Early Hints", []Field{{"Link", "</late>"}})
		w.Write([]byte("ok"))
	})
	raw := exchangeRaw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(raw, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n") {
		t.Errorf("want one 103 with both links, then the 200:\n%q", raw)
	}
	if strings.Contains(raw, "X-Injected") || strings.Contains(raw, "</late>") || !strings.HasSuffix(raw, "\r\n\r\nok") {
		t.Errorf("a refused or late interim response went out:\n%q", raw)
	}
	for i, want := range []bool{false, true, true, false} {
		if err := <-errs; (err != nil) != want {
			t.Errorf("WriteInterim %d: error %v, want one: %v", i, err, want)
		}
	}

	raw = exchangeRaw(t, addr, "GET / HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(raw, "HTTP/1.1 200 OK\r\n") || strings.Contains(raw, "103") {
		t.Errorf("an HTTP/1.0 client got an interim response:\n%q", raw)
	}
	for range 4 {
		<-errs
	}
}

// TestTrailers: with DeclareTrailers accepted (HTTP/1.1, TE: trailers) the
// body is chunked whatever its length, the handler's Content-Length is
// left out, the declared Trailer field goes out, and FinishTrailers ends
// the body with the trailer section; otherwise nothing changes and the
// trailers are dropped.
func TestTrailers(t *testing.T) {
	declared := make(chan bool, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		declared <- w.DeclareTrailers("x-sum")
		w.WriteHeader(200, "OK", []Field{{"Content-Length", "2"}})
		w.Write([]byte("ok"))
		trailer := []Field{{"x-sum", "abc"}}
		if r.Path == "/bad" {
			trailer = []Field{{"x-sum", "a\r\nb"}}
		}
		w.FinishTrailers(trailer)
	})
	for _, tc := range []struct {
		req, want string
		declared  bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n",
			"Trailer: x-sum\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nok\r\n0\r\nx-sum: abc\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nTE: gzip, Trailers\r\nConnection: close\r\n\r\n",
			"\r\n0\r\nx-sum: abc\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"Content-Length: 2\r\nConnection: close\r\n\r\nok", false},
		{"GET / HTTP/1.0\r\nTE: trailers\r\n\r\n",
			"Content-Length: 2\r\nConnection: close\r\n\r\nok", false},
		{"HEAD / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n",
			"Connection: close\r\n\r\n", true},
	} {
		raw := exchangeRaw(t, addr, tc.req)
		if d := <-declared; d != tc.declared {
			t.Errorf("%q: DeclareTrailers %v, want %v", tc.req, d, tc.declared)
		}
		if !strings.HasSuffix(raw, tc.want) {
			t.Errorf("%q: got\n%q\nwant it to end with %q", tc.req, raw, tc.want)
		}
		if tc.declared && strings.Contains(raw, "Content-Length") {
			t.Errorf("%q: a Content-Length went out with trailers:\n%q", tc.req, raw)
		}
	}
	// A trailer that could split the response: the body is cut instead.
	raw := exchangeRaw(t, addr, "GET /bad HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
	<-declared
	if strings.Contains(raw, "\r\n0\r\n") || strings.Contains(raw, "x-sum: a") {
		t.Errorf("an invalid trailer went out, or the body ended as if complete:\n%q", raw)
	}
}
