package http1

import "testing"

// The exported rules are the parser's: each case here is also a request
// line or field the parser refuses or accepts (see vectors_test.go).
func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		method, target string
		status         int
		want           Target
	}{
		{"GET", "/a/b?x=1#frag", 0, Target{Path: "/a/b", RawQuery: "x=1"}},
		{"GET", "/", 0, Target{Path: "/"}},
		{"OPTIONS", "*", 0, Target{Path: "*"}},
		{"GET", "http://example.com:8080?q", 0, Target{Absolute: true, Authority: "example.com:8080", Path: "/", RawQuery: "q"}},
		{"CONNECT", "example.com:443", 0, Target{}},
		{"get", "/", 0, Target{Path: "/"}}, // methods are case-sensitive tokens
		{"GET /admin", "/", 400, Target{}},
		{"GET", "/a b", 400, Target{}},
		{"GET", "/a\tb", 400, Target{}},
		{"GET", "/a\x7f", 400, Target{}},
		{"GET", "", 400, Target{}},
		{"", "/", 400, Target{}},
		{"GE(T", "/", 400, Target{}},
		{"GET", "*", 400, Target{}},
		{"GET", "a/b", 400, Target{}},
		{"GET", "http://us@er/", 400, Target{}},
		{"CONNECT", "/", 400, Target{}},
		{"CONNECT", "example.com", 400, Target{}},
		{"GET", "example.com:443", 400, Target{}},
	} {
		got, st := ParseTarget(c.method, c.target)
		if st != c.status || got != c.want {
			t.Errorf("ParseTarget(%q, %q) = %+v, %d; want %+v, %d", c.method, c.target, got, st, c.want, c.status)
		}
	}
}

func TestValidHostAndValues(t *testing.T) {
	for h, ok := range map[string]bool{
		"example.com": true, "example.com:8080": true, "[::1]:80": true, "127.0.0.1": true,
		"": false, "evil.example/p@x y": false, "a b": false, "u@host": false, "host:80x": false,
		"[::1": false, "host/": false,
	} {
		if ValidHost(h) != ok {
			t.Errorf("ValidHost(%q) = %v", h, !ok)
		}
	}
	for v, ok := range map[string]bool{
		"": true, "a b\tc": true, "caf\xe9": true, "a\x00b": false, "a\rb": false, "a\nb": false, "a\x7f": false,
	} {
		if ValidFieldValue(v) != ok {
			t.Errorf("ValidFieldValue(%q) = %v", v, !ok)
		}
	}
	for n, ok := range map[string]bool{"X-Forwarded-For": true, "": false, "a b": false, "a:b": false, ":path": false} {
		if ValidToken(n) != ok {
			t.Errorf("ValidToken(%q) = %v", n, !ok)
		}
	}
}

func TestRequestContentLength(t *testing.T) {
	cl := func(vs ...string) []Field {
		var f []Field
		for _, v := range vs {
			f = append(f, Field{"Content-Length", v}, Field{"X", "y"})
		}
		return f
	}
	for _, c := range []struct {
		fields []Field
		n      int64
		ok     bool
	}{
		{nil, -1, true},
		{cl("5"), 5, true},
		{cl("007"), 7, true},
		{cl("5", "7"), 0, false},
		{cl("5", "5"), 0, false},
		{cl("5, 5"), 0, false},
		{cl("+5"), 0, false},
		{cl(""), 0, false},
		{cl("99999999999999999999"), 0, false},
		{[]Field{{"content-LENGTH", "3"}}, 3, true},
	} {
		n, ok := RequestContentLength(c.fields)
		if ok != c.ok || ok && n != c.n {
			t.Errorf("RequestContentLength(%v) = %d, %v; want %d, %v", c.fields, n, ok, c.n, c.ok)
		}
	}
}
