package http1

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// seen is what a handler observed of a request.
type seen struct {
	Method, Target, Path, RawQuery, Host string
	ProtoMinor                           int
	Header                               []Field
	ContentLength                        int64
	Chunked                              bool
	Close                                bool
	Expect                               bool
	Body                                 string
	BodyErr                              error
}

func snapshot(r *Request) *seen {
	s := &seen{
		Method: r.Method, Target: r.Target, Path: r.Path, RawQuery: r.RawQuery, Host: r.Host,
		ProtoMinor: r.ProtoMinor, ContentLength: r.ContentLength, Chunked: r.Chunked,
		Close: r.Close, Expect: r.ExpectContinue(),
		Header: append([]Field(nil), r.Header...),
	}
	b, err := io.ReadAll(r.Body)
	s.Body, s.BodyErr = string(b), err
	return s
}

// Limits of the vector server, small enough to test 414 and 431.
const (
	vecMaxRequestLine  = 200
	vecMaxHeaderBytes  = 1024
	vecMaxHeaderFields = 20
)

func vecLimits(s *Server) {
	s.MaxRequestLine = vecMaxRequestLine
	s.MaxHeaderBytes = vecMaxHeaderBytes
	s.MaxHeaderFields = vecMaxHeaderFields
}

type vector struct {
	name   string
	req    string
	status int                // expected status: 200 means the handler was called
	check  func(*seen) string // for 200: "" when the request was seen right
	bodyOK bool               // for 200: no body error expected (default for check==nil too)
}

// want returns "" when got equals want, or a complaint.
func want(got, want any, what string) string {
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s: got %#v, want %#v", what, got, want)
	}
	return ""
}

func all(checks ...string) string {
	for _, c := range checks {
		if c != "" {
			return c
		}
	}
	return ""
}

func isBodyErr(s *seen) string {
	var be *BodyError
	if !errors.As(s.BodyErr, &be) || be.Status != 400 {
		return fmt.Sprintf("want *BodyError, got %v", s.BodyErr)
	}
	return ""
}

func bodyIs(b string) func(*seen) string {
	return func(s *seen) string {
		return all(want(s.BodyErr, error(nil), "body error"), want(s.Body, b, "body"))
	}
}

const h11 = " HTTP/1.1\r\nHost: a\r\n"

var vectors = []vector{
	// Good requests.
	{"simple", "GET /" + h11 + "\r\n", 200, func(s *seen) string {
		return all(want(s.Method, "GET", "method"), want(s.Path, "/", "path"), want(s.Host, "a", "host"),
			want(s.ProtoMinor, 1, "minor"), want(s.ContentLength, int64(0), "cl"), want(s.Close, false, "close"),
			want(s.Header, []Field{{"Host", "a"}}, "header"))
	}, true},
	{"path and query", "GET /p/a%20b?x=1&y=2?z#frag" + h11 + "\r\n", 200, func(s *seen) string {
		return all(want(s.Target, "/p/a%20b?x=1&y=2?z#frag", "target"), want(s.Path, "/p/a%20b", "path"),
			want(s.RawQuery, "x=1&y=2?z", "query"))
	}, true},
	{"fragment before query", "GET /a#b?c" + h11 + "\r\n", 200, func(s *seen) string {
		return all(want(s.Path, "/a", "path"), want(s.RawQuery, "", "query"))
	}, true},
	{"double slash origin", "GET //x/y" + h11 + "\r\n", 200, func(s *seen) string { return want(s.Path, "//x/y", "path") }, true},
	{"absolute form", "GET http://example.com:8080/x?q HTTP/1.1\r\nHost: other\r\n\r\n", 200, func(s *seen) string {
		return all(want(s.Host, "example.com:8080", "host"), want(s.Path, "/x", "path"), want(s.RawQuery, "q", "query"))
	}, true},
	{"absolute form no path", "GET HTTPS://h?q HTTP/1.1\r\nHost: h\r\n\r\n", 200, func(s *seen) string {
		return all(want(s.Host, "h", "host"), want(s.Path, "/", "path"), want(s.RawQuery, "q", "query"))
	}, true},
	{"absolute form ipv6", "GET http://[::1]:80/ HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 200, func(s *seen) string {
		return want(s.Host, "[::1]:80", "host")
	}, true},
	{"asterisk", "OPTIONS *" + h11 + "\r\n", 200, func(s *seen) string { return want(s.Path, "*", "path") }, true},
	{"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 200, func(s *seen) string {
		return all(want(s.Path, "", "path"), want(s.Target, "example.com:443", "target"), want(s.Host, "example.com:443", "host"))
	}, true},
	{"http10 no host", "GET / HTTP/1.0\r\n\r\n", 200, func(s *seen) string {
		return all(want(s.Host, "", "host"), want(s.ProtoMinor, 0, "minor"), want(s.Close, true, "close"))
	}, true},
	{"http12 is 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 200, func(s *seen) string { return want(s.ProtoMinor, 1, "minor") }, true},
	{"leading empty lines", "\r\n\r\nGET /" + h11 + "\r\n", 200, nil, true},
	{"header case and OWS", "GET /" + h11 + "X-CuStOm: \t v a l \t \r\nEmpty:\r\nSp:   \r\n\r\n", 200, func(s *seen) string {
		return want(s.Header, []Field{{"Host", "a"}, {"X-CuStOm", "v a l"}, {"Empty", ""}, {"Sp", ""}}, "header")
	}, true},
	{"obs-text value", "GET /" + h11 + "X: caf\xe9\xff\r\n\r\n", 200, func(s *seen) string {
		return want(s.Header[1].Value, "caf\xe9\xff", "value")
	}, true},
	{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 200, func(s *seen) string { return want(s.Host, "", "host") }, true},
	{"host with port", "GET / HTTP/1.1\r\nHost: a.b-c_d:8080\r\n\r\n", 200, nil, true},
	{"lowercase method token", "get /" + h11 + "\r\n", 200, func(s *seen) string { return want(s.Method, "get", "method") }, true},
	{"extension method", "M-SEARCH /" + h11 + "\r\n", 200, func(s *seen) string { return want(s.Method, "M-SEARCH", "method") }, true},
	{"connection close", "GET /" + h11 + "Connection: keep-alive, Close\r\n\r\n", 200, func(s *seen) string { return want(s.Close, true, "close") }, true},
	{"http10 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 200, func(s *seen) string { return want(s.Close, false, "close") }, true},
	{"content-length body", "POST /" + h11 + "Content-Length: 5\r\n\r\nhello", 200, func(s *seen) string {
		return all(bodyIs("hello")(s), want(s.ContentLength, int64(5), "cl"))
	}, true},
	{"content-length zero", "POST /" + h11 + "Content-Length: 0\r\n\r\n", 200, bodyIs(""), true},
	{"content-length leading zeros", "POST /" + h11 + "Content-Length: 005\r\n\r\nhello", 200, bodyIs("hello"), true},
	{"chunked", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1;x=\"q\"\r\n world\r\n0\r\nTrailer: x\r\n\r\n", 200, func(s *seen) string {
		return all(bodyIs("hello world")(s), want(s.ContentLength, int64(-1), "cl"), want(s.Chunked, true, "chunked"))
	}, true},
	{"chunked case and hex", "POST /" + h11 + "Transfer-Encoding: \tChUnKeD\r\n\r\nA\r\n0123456789\r\n00a \r\n0123456789\r\n000\r\n\r\n", 200, bodyIs("01234567890123456789"), true},
	{"chunked with empty list elements", "POST /" + h11 + "Transfer-Encoding: ,chunked,\r\n\r\n0\r\n\r\n", 200, bodyIs(""), true},
	{"expect on http10 ignored", "GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", 200, func(s *seen) string { return want(s.Expect, false, "expect") }, true},

	// Request line.
	{"bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, nil, false},
	{"bare LF header", "GET /" + h11 + "X: y\n\r\n", 400, nil, false},
	{"bare LF end", "GET /" + h11 + "\n", 400, nil, false},
	{"bare CR in header", "GET /" + h11 + "X: a\rY: b\r\n\r\n", 400, nil, false},
	{"CR CR LF", "GET /" + h11 + "X: a\r\r\n\r\n", 400, nil, false},
	{"bare LF leading line", "\nGET /" + h11 + "\r\n", 400, nil, false},
	{"double space", "GET  /" + h11 + "\r\n", 400, nil, false},
	{"space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, nil, false},
	{"tab separator", "GET\t/" + h11 + "\r\n", 400, nil, false},
	{"leading space", " GET /" + h11 + "\r\n", 400, nil, false},
	{"no version", "GET /\r\nHost: a\r\n\r\n", 400, nil, false},
	{"http09", "GET /\r\n\r\n", 400, nil, false},
	{"http2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, nil, false},
	{"http0.9 version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, nil, false},
	{"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, nil, false},
	{"version 1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, nil, false},
	{"version 1", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400, nil, false},
	{"method not token", "G(T /" + h11 + "\r\n", 400, nil, false},
	{"method with NUL", "G\x00T /" + h11 + "\r\n", 400, nil, false},
	{"target without slash", "GET foo" + h11 + "\r\n", 400, nil, false},
	{"target with CTL", "GET /\x01" + h11 + "\r\n", 400, nil, false},
	{"target with DEL", "GET /\x7f" + h11 + "\r\n", 400, nil, false},
	{"asterisk with GET", "GET *" + h11 + "\r\n", 400, nil, false},
	{"connect origin form", "CONNECT /" + h11 + "\r\n", 400, nil, false},
	{"authority form with GET", "GET example.com:80" + h11 + "\r\n", 400, nil, false},
	{"connect without port", "CONNECT example.com" + h11 + "\r\n", 400, nil, false},
	{"unknown scheme", "GET ftp://x/" + h11 + "\r\n", 400, nil, false},
	{"userinfo", "GET http://user@host/" + h11 + "\r\n", 400, nil, false},
	{"empty authority", "GET http:///x" + h11 + "\r\n", 400, nil, false},
	{"request line too long", "GET /" + strings.Repeat("a", vecMaxRequestLine) + h11 + "\r\n", 414, nil, false},
	{"request line too long without CRLF", "GET /" + strings.Repeat("a", vecMaxRequestLine+10), 414, nil, false},

	// Header fields.
	{"no host", "GET / HTTP/1.1\r\n\r\n", 400, nil, false},
	{"two hosts", "GET /" + h11 + "Host: a\r\n\r\n", 400, nil, false},
	{"two hosts http10", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, nil, false},
	{"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, nil, false},
	{"host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, nil, false},
	{"host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, nil, false},
	{"host bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, nil, false},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, nil, false},
	{"tab before colon", "GET /" + h11 + "X\t: a\r\n\r\n", 400, nil, false},
	{"obs-fold", "GET /" + h11 + "X: a\r\n b\r\n\r\n", 400, nil, false},
	{"obs-fold tab", "GET /" + h11 + "X: a\r\n\tb\r\n\r\n", 400, nil, false},
	{"first header folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, nil, false},
	{"empty name", "GET /" + h11 + ": x\r\n\r\n", 400, nil, false},
	{"no colon", "GET /" + h11 + "Foo\r\n\r\n", 400, nil, false},
	{"name not token", "GET /" + h11 + "F(o): x\r\n\r\n", 400, nil, false},
	{"NUL in value", "GET /" + h11 + "X: a\x00b\r\n\r\n", 400, nil, false},
	{"DEL in value", "GET /" + h11 + "X: a\x7fb\r\n\r\n", 400, nil, false},
	{"VT in value", "GET /" + h11 + "X: a\x0bb\r\n\r\n", 400, nil, false},
	{"too many fields", "GET /" + h11 + strings.Repeat("X: y\r\n", vecMaxHeaderFields) + "\r\n", 431, nil, false},
	{"header section too large", "GET /" + h11 + "X: " + strings.Repeat("y", vecMaxHeaderBytes) + "\r\n\r\n", 431, nil, false},
	{"header too large without CRLF", "GET /" + h11 + "X: " + strings.Repeat("y", vecMaxHeaderBytes), 431, nil, false},

	// Content-Length.
	{"cl negative", "POST /" + h11 + "Content-Length: -1\r\n\r\n", 400, nil, false},
	{"cl plus", "POST /" + h11 + "Content-Length: +5\r\n\r\nhello", 400, nil, false},
	{"cl inner space", "POST /" + h11 + "Content-Length: 5 5\r\n\r\nhello", 400, nil, false},
	{"cl hex", "POST /" + h11 + "Content-Length: 0x5\r\n\r\nhello", 400, nil, false},
	{"cl suffix", "POST /" + h11 + "Content-Length: 5a\r\n\r\nhello", 400, nil, false},
	{"cl empty", "POST /" + h11 + "Content-Length:\r\n\r\n", 400, nil, false},
	{"cl duplicate different", "POST /" + h11 + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, nil, false},
	{"cl list different", "POST /" + h11 + "Content-Length: 5, 6\r\n\r\nhello!", 400, nil, false},
	// Every list form is refused, even with equal values: a front that takes
	// the first or the last element would frame the message as we do only
	// by luck.
	{"cl duplicate identical", "POST /" + h11 + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, nil, false},
	{"cl duplicate identical apart", "POST /" + h11 + "Content-Length: 5\r\nX-A: b\r\ncontent-length: 5\r\n\r\nhello", 400, nil, false},
	{"cl list identical", "POST /" + h11 + "Content-Length: 5, 5\r\n\r\nhello", 400, nil, false},
	{"cl list identical no space", "POST /" + h11 + "Content-Length: 5,5\r\n\r\nhello", 400, nil, false},
	{"cl list identical space before comma", "POST /" + h11 + "Content-Length: 5 ,5\r\n\r\nhello", 400, nil, false},
	{"cl duplicate zero", "POST /" + h11 + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n", 400, nil, false},
	{"cl list trailing comma", "POST /" + h11 + "Content-Length: 5,\r\n\r\nhello", 400, nil, false},
	{"cl overflow", "POST /" + h11 + "Content-Length: 99999999999999999999\r\n\r\n", 400, nil, false},

	// Transfer-Encoding.
	{"CL.TE", "POST /" + h11 + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400, nil, false},
	{"TE.CL", "POST /" + h11 + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400, nil, false},
	{"xchunked", "POST /" + h11 + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501, nil, false},
	{"chunked then gzip", "POST /" + h11 + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, nil, false},
	{"gzip then chunked", "POST /" + h11 + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, nil, false},
	{"chunked twice", "POST /" + h11 + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, nil, false},
	{"chunked twice in two fields", "POST /" + h11 + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, nil, false},
	{"identity", "POST /" + h11 + "Transfer-Encoding: identity\r\n\r\n", 501, nil, false},
	{"chunked with parameter", "POST /" + h11 + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 501, nil, false},
	{"empty te", "POST /" + h11 + "Transfer-Encoding:\r\n\r\n", 400, nil, false},
	{"te in http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, nil, false},
	{"te space before colon", "POST /" + h11 + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, nil, false},
	{"te vertical tab", "POST /" + h11 + "Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n", 400, nil, false},
	// Unknown expectations are ignored (417 is only a MAY), as gunicorn does.
	{"expect unknown", "POST /" + h11 + "Expect: 101-continue\r\n\r\n", 200, func(s *seen) string { return want(s.Expect, false, "expect") }, true},
	{"expect list", "POST /" + h11 + "Expect: 100-continue, x\r\n\r\n", 200, func(s *seen) string { return want(s.Expect, true, "expect") }, true},

	// Malformed chunked bodies: the handler sees a *BodyError.
	{"chunk size not hex", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 200, isBodyErr, false},
	{"chunk size negative", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n-1\r\n", 200, isBodyErr, false},
	{"chunk size 0x", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 200, isBodyErr, false},
	{"chunk size empty", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n\r\n", 200, isBodyErr, false},
	{"chunk size leading space", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 200, isBodyErr, false},
	{"chunk size 17 digits", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n", 200, isBodyErr, false},
	{"chunk size overflow", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", 200, isBodyErr, false},
	{"chunk size bare LF", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 200, isBodyErr, false},
	{"chunk data without CRLF", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 200, isBodyErr, false},
	{"chunk data bare LF", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 200, isBodyErr, false},
	{"chunk ext with CTL", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n5;a\x00\r\nhello\r\n0\r\n\r\n", 200, isBodyErr, false},
	{"chunk junk after size", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n", 200, isBodyErr, false},
	{"bad trailer", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", 200, isBodyErr, false},
	{"folded trailer", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n", 200, isBodyErr, false},
	{"last chunk bare LF", "POST /" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\n\n", 200, isBodyErr, false},
}

// TestVectors sends each raw request on a fresh connection and checks the
// status, what the handler saw, and that engine errors close the connection.
func TestVectors(t *testing.T) {
	got := make(chan *seen, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		got <- snapshot(r)
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte("ok"))
	}, vecLimits)
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(v.req)
			resp := c.read("GET")
			if resp.Status != v.status {
				t.Fatalf("status %d %q, want %d", resp.Status, resp.Reason, v.status)
			}
			var s *seen
			select { // the handler reports before it responds
			case s = <-got:
			default:
			}
			if v.status != 200 {
				if s != nil {
					t.Fatalf("handler called for a rejected request: %+v", s)
				}
				wantBody := strings.TrimSpace(string(resp.Raw[9:12])) + " " + resp.Reason + "\n"
				if string(resp.Body) != wantBody || resp.get("Connection") != "close" ||
					resp.get("Content-Type") != "text/plain; charset=utf-8" || resp.get("Date") == "" || resp.get("Server") != "gowsgi" {
					t.Fatalf("bad error response:\n%s%q", resp.Raw, resp.Body)
				}
				c.expectEOF()
				return
			}
			if s == nil {
				t.Fatal("handler not called")
			}
			if v.check != nil {
				if msg := v.check(s); msg != "" {
					t.Fatal(msg)
				}
			}
			if v.bodyOK && s.BodyErr != nil {
				t.Fatalf("body error %v", s.BodyErr)
			}
			if !v.bodyOK {
				// A broken body closes the connection after the response.
				c.expectEOF()
			}
		})
	}
}

// TestFieldSizeCountsCRLF: limit_request_field_size counts the field line
// with its CRLF, as gunicorn does. gunicorn's request vector invalid/008
// (a field line of 8,189 bytes, the default limit 8190) gets 431; a line of
// 8,188 bytes fits exactly.
func TestFieldSizeCountsCRLF(t *testing.T) {
	got := make(chan *seen, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		got <- snapshot(r)
		w.WriteHeader(200, "OK", nil)
	})
	field := func(n int) string {
		const name = "Someheader: "
		return name + strings.Repeat("08aP8931Ltyl9nqy", n/16+1)[:n-len(name)] + "\r\n"
	}
	// The shape of gunicorn's invalid/008.http: an HTTP/1.0 PUT whose
	// third field line is 8,189 bytes long.
	head := "PUT /stuff/here?foo=bar HTTP/1.0\r\nServer: http://127.0.0.1:5984\r\nContent-Type: application/json\r\n"
	for _, c := range []struct {
		line, status int
	}{{8189, 431}, {8188, 200}, {8190, 431}} {
		cl := dial(t, addr)
		cl.send(head + field(c.line) + field(100) + "\r\n")
		if r := cl.read("PUT"); r.Status != c.status {
			t.Errorf("field line of %d bytes: %d, want %d", c.line, r.Status, c.status)
		}
		if c.status == 200 {
			if s := <-got; len(s.Header[2].Name)+2+len(s.Header[2].Value) != c.line {
				t.Errorf("field seen as %d bytes", len(s.Header[2].Name)+2+len(s.Header[2].Value))
			}
		}
	}
	// A partial line is refused as soon as it cannot fit.
	cl := dial(t, addr)
	cl.send(head + field(8189)[:8189])
	if r := cl.read("PUT"); r.Status != 431 {
		t.Errorf("a partial field line of 8,189 bytes: %d, want 431", r.Status)
	}
}
