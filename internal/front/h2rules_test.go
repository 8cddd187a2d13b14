package front

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// TestCheckH2 covers the request rules an HTTP/2 request is held to: what
// Go's server lets through and the HTTP/1.1 parser refuses gets the status
// HTTP/1.1 gives it.
func TestCheckH2(t *testing.T) {
	h := &Handler{MaxRequestLine: 100, MaxHeaderFields: 4, MaxFieldBytes: 30}
	req := func(method, uri string, kv ...string) *http.Request {
		r := &http.Request{Method: method, RequestURI: uri, Host: "example.com", Header: http.Header{}, ProtoMajor: 2}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Add(kv[i], kv[i+1])
		}
		return r
	}
	for _, c := range []struct {
		name   string
		r      *http.Request
		status int
		want   http1.Target
	}{
		{"plain", req("GET", "/a?b=c"), 0, http1.Target{Path: "/a", RawQuery: "b=c"}},
		{"fragment dropped", req("GET", "/a#f"), 0, http1.Target{Path: "/a"}},
		{"options star", req("OPTIONS", "*"), 0, http1.Target{Path: "*"}},
		{"connect", &http.Request{Method: "CONNECT", RequestURI: "example.com:443", Host: "example.com:443", Header: http.Header{}, ProtoMajor: 2}, 0, http1.Target{}},
		{"method with a space", req("GET /admin", "/"), 400, http1.Target{}},
		{"method not a token", req("GE\x01T", "/"), 400, http1.Target{}},
		{"path with a space", req("GET", "/a b"), 400, http1.Target{}},
		{"path with a CTL", req("GET", "/a\x01"), 400, http1.Target{}},
		{"path not origin form", req("GET", "a/b"), 400, http1.Target{}},
		{"absolute path in HTTP/2", req("GET", "http://evil/x"), 400, http1.Target{}},
		{"star for GET", req("GET", "*"), 400, http1.Target{}},
		{"path too long", req("GET", "/"+strings.Repeat("a", 100)), 414, http1.Target{}},
		{"too many fields", req("GET", "/", "A", "1", "B", "2", "C", "3", "D", "4", "E", "5"), 431, http1.Target{}},
		{"leading space in value", req("GET", "/", "X-A", " v"), 400, http1.Target{}},
		{"trailing tab in value", req("GET", "/", "X-A", "v\t"), 400, http1.Target{}},
		{"inner space is fine", req("GET", "/", "X-A", "a b"), 0, http1.Target{Path: "/"}},
		{"NUL in value", req("GET", "/", "X-A", "a\x00b"), 400, http1.Target{}},
		{"bad field name", req("GET", "/", "X A", "v"), 400, http1.Target{}},
		{"field line of 31 bytes", req("GET", "/", "X-Abc", strings.Repeat("v", 22)), 431, http1.Target{}},
		{"field line of 30 bytes", req("GET", "/", "X-Abc", strings.Repeat("v", 21)), 0, http1.Target{Path: "/"}},
		{"two content-lengths", req("POST", "/", "Content-Length", "5", "Content-Length", "7"), 400, http1.Target{}},
		{"two equal content-lengths", req("POST", "/", "Content-Length", "5", "Content-Length", "5"), 400, http1.Target{}},
		{"content-length list", req("POST", "/", "Content-Length", "5, 5"), 400, http1.Target{}},
		{"content-length plus", req("POST", "/", "Content-Length", "+5"), 400, http1.Target{}},
		{"content-length", req("POST", "/", "Content-Length", "5"), 0, http1.Target{Path: "/"}},
		{"host differs from authority", req("GET", "/", "Host", "other.example"), 400, http1.Target{}},
		{"host equals authority", req("GET", "/", "Host", "example.com"), 0, http1.Target{Path: "/"}},
		{"two hosts", req("GET", "/", "Host", "example.com", "Host", "example.com"), 400, http1.Target{}},
	} {
		got, st := h.checkH2(c.r)
		if st != c.status || got != c.want {
			t.Errorf("%s: %+v %d, want %+v %d", c.name, got, st, c.want, c.status)
		}
	}
	bad := req("GET", "/")
	for _, host := range []string{"", "evil.example/p@x y", "u@h", "a b"} {
		bad.Host = host
		if _, st := h.checkH2(bad); st != 400 {
			t.Errorf(":authority %q: %d, want 400", host, st)
		}
	}
	// An h2c upgrade request is HTTP/1.1: its absolute form stands.
	up := req("GET", "http://example.com/p?q")
	up.ProtoMajor = 1
	if got, st := h.checkH2(up); st != 0 || got.Path != "/p" || got.RawQuery != "q" {
		t.Errorf("upgrade request in absolute form: %+v %d", got, st)
	}
}
