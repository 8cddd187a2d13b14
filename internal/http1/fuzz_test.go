package http1

import (
	"bytes"
	"errors"
	"io"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseRequest feeds arbitrary bytes, in reads of arbitrary sizes, to a
// connection and checks the engine's handling of the first request against
// ref, an independent straight-line reading of the rules: the engine must
// never panic, must reject exactly what the rules reject (with the same
// status) and accept the rest with the same fields and body. Every request it
// hands to the handler, pipelined ones included, must also satisfy the
// invariants in checkInvariants.
func FuzzParseRequest(f *testing.F) {
	for _, v := range vectors {
		f.Add([]byte(v.req), uint8(0))
		f.Add([]byte(v.req), uint8(1))
		f.Add([]byte(v.req), uint8(7))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.0\r\n\r\n"), uint8(3))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX: y\r\n\r\n"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		lim := fuzzLimits
		want := refAll(string(data), lim)
		got := runEngine(t, data, int(step), lim)
		for i := 0; i < len(want) && i < len(got); i++ {
			compare(t, data, i, want[i], got[i])
		}
		if len(want) != len(got) {
			t.Fatalf("input %q: reference sees %d outcomes, engine %d", data, len(want), len(got))
		}
	})
}

// fuzzLimits are small, so that fuzzing reaches 414 and 431.
var fuzzLimits = limits{maxRequestLine: 64, maxHeaderBytes: 256, maxHeaderFields: 8}

type limits struct{ maxRequestLine, maxHeaderBytes, maxHeaderFields int }

const (
	outIncomplete = iota // the input ended inside the head: close without response
	outError             // the engine answers with status
	outRequest           // the handler gets the request
)

const (
	bodyOK        = iota
	bodyMalformed // *BodyError
	bodyTruncated // io.ErrUnexpectedEOF
)

type outcome struct {
	kind   int
	status int
	req    *seen
	body   int
	rest   string // reference only: the input after this request
}

// refAll parses the requests of in one after another, as far as the
// connection would stay open, and returns their outcomes.
func refAll(in string, lim limits) []outcome {
	var outs []outcome
	for {
		o := refParse(in, lim)
		outs = append(outs, o)
		if !continues(o) {
			return outs
		}
		in = o.rest
	}
}

// continues reports whether the connection serves another request after o.
func continues(o outcome) bool {
	return o.kind == outRequest && o.body == bodyOK && !o.req.Close
}

// ---- reference ----

var (
	hostRE      = regexp.MustCompile(`^(\[[A-Za-z0-9:._~!$&'()*+,;=%-]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(:[0-9]*)?$`)
	authorityRE = regexp.MustCompile(`^(\[[A-Za-z0-9:._~!$&'()*+,;=%-]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+):[0-9]*$`)
	digitsRE    = regexp.MustCompile(`^[0-9]+$`)
	hexRE       = regexp.MustCompile(`^([0-9A-Fa-f]+)(.*)$`)
)

func refTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func refToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !refTchar(s[i]) {
			return false
		}
	}
	return true
}

// refValueOK: HTAB, SP, VCHAR, obs-text.
func refValueOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func refField(line string) (Field, bool) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || !refToken(name) {
		return Field{}, false
	}
	value = strings.Trim(value, " \t")
	return Field{name, value}, refValueOK(value)
}

func listElems(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, e := range strings.Split(v, ",") {
			out = append(out, strings.Trim(e, " \t"))
		}
	}
	return out
}

func refParse(in string, lim limits) outcome {
	for strings.HasPrefix(in, "\r\n") {
		in = in[2:]
	}
	// Request line.
	i := strings.IndexByte(in, '\n')
	if i < 0 {
		if len(in)-1 > lim.maxRequestLine {
			return outcome{kind: outError, status: 414}
		}
		return outcome{kind: outIncomplete}
	}
	line := in[:i]
	in = in[i+1:]
	content, hadCR := strings.CutSuffix(line, "\r")
	if len(content) > lim.maxRequestLine {
		return outcome{kind: outError, status: 414}
	}
	if !hadCR {
		return outcome{kind: outError, status: 400}
	}
	parts := strings.Split(content, " ")
	if len(parts) != 3 || !refToken(parts[0]) || parts[1] == "" {
		return outcome{kind: outError, status: 400}
	}
	method, target, version := parts[0], parts[1], parts[2]
	for i := 0; i < len(target); i++ {
		if target[i] < 0x20 || target[i] == 0x7f {
			return outcome{kind: outError, status: 400}
		}
	}
	if ok, _ := regexp.MatchString(`^HTTP/[0-9]\.[0-9]$`, version); !ok {
		return outcome{kind: outError, status: 400}
	}
	if version[5] != '1' {
		return outcome{kind: outError, status: 505}
	}
	minor := 1
	if version == "HTTP/1.0" {
		minor = 0
	}
	lt := strings.ToLower(target)
	form := ""
	switch {
	case strings.HasPrefix(target, "/"):
		form = "origin"
	case target == "*":
		form = "asterisk"
	case strings.HasPrefix(lt, "http://") || strings.HasPrefix(lt, "https://"):
		form = "absolute"
	default:
		form = "authority"
	}
	var authority string
	switch form {
	case "origin":
		if method == "CONNECT" {
			return outcome{kind: outError, status: 400}
		}
	case "asterisk":
		if method != "OPTIONS" {
			return outcome{kind: outError, status: 400}
		}
	case "absolute":
		_, rest, _ := strings.Cut(target, "://")
		authority = rest
		if k := strings.IndexAny(rest, "/?#"); k >= 0 {
			authority = rest[:k]
		}
		if method == "CONNECT" || !hostRE.MatchString(authority) {
			return outcome{kind: outError, status: 400}
		}
	case "authority":
		if method != "CONNECT" || !authorityRE.MatchString(target) {
			return outcome{kind: outError, status: 400}
		}
	}

	// Header section.
	var fields []Field
	hb := 0
	for {
		i := strings.IndexByte(in, '\n')
		if i < 0 {
			if len(in) >= 2 && hb+len(in)+1 > lim.maxHeaderBytes {
				return outcome{kind: outError, status: 431}
			}
			return outcome{kind: outIncomplete}
		}
		line := in[:i]
		in = in[i+1:]
		if line == "\r" {
			break
		}
		hb += len(line) + 1
		if hb > lim.maxHeaderBytes {
			return outcome{kind: outError, status: 431}
		}
		content, hadCR := strings.CutSuffix(line, "\r")
		if !hadCR {
			return outcome{kind: outError, status: 400}
		}
		if len(fields)+1 > lim.maxHeaderFields {
			return outcome{kind: outError, status: 431}
		}
		f, ok := refField(content)
		if !ok {
			return outcome{kind: outError, status: 400}
		}
		fields = append(fields, f)
	}
	byName := map[string][]string{}
	for _, f := range fields {
		n := strings.ToLower(f.Name)
		byName[n] = append(byName[n], f.Value)
	}
	hosts := byName["host"]
	if len(hosts) > 1 || len(hosts) == 0 && minor == 1 || len(hosts) == 1 && hosts[0] != "" && !hostRE.MatchString(hosts[0]) {
		return outcome{kind: outError, status: 400}
	}
	cl := int64(-1)
	if cls := byName["content-length"]; len(cls) > 1 {
		return outcome{kind: outError, status: 400}
	} else if len(cls) == 1 {
		if !digitsRE.MatchString(cls[0]) {
			return outcome{kind: outError, status: 400}
		}
		n, err := strconv.ParseInt(cls[0], 10, 64)
		if err != nil {
			return outcome{kind: outError, status: 400}
		}
		cl = n
	}
	_, hasTE := byName["transfer-encoding"]
	chunked := false
	if hasTE {
		if minor == 0 || cl >= 0 {
			return outcome{kind: outError, status: 400}
		}
		var codings []string
		for _, e := range listElems(byName["transfer-encoding"]) {
			if e != "" {
				codings = append(codings, e)
			}
		}
		if len(codings) == 0 {
			return outcome{kind: outError, status: 400}
		}
		for i, c := range codings {
			if strings.EqualFold(c, "chunked") && i != len(codings)-1 {
				return outcome{kind: outError, status: 400}
			}
		}
		for _, c := range codings {
			if !strings.EqualFold(c, "chunked") {
				return outcome{kind: outError, status: 501}
			}
		}
		chunked = true
	}
	expect := false
	for _, e := range listElems(byName["expect"]) {
		switch {
		case e == "":
		case strings.EqualFold(e, "100-continue"):
			expect = minor == 1
		default:
			// Other expectations are ignored.
		}
	}
	hasClose, hasKeepAlive := false, false
	for _, e := range listElems(byName["connection"]) {
		hasClose = hasClose || strings.EqualFold(e, "close")
		hasKeepAlive = hasKeepAlive || strings.EqualFold(e, "keep-alive")
	}
	closeConn := hasClose || minor == 0 && !hasKeepAlive

	s := &seen{Method: method, Target: target, ProtoMinor: minor, Header: fields, Close: closeConn}
	if len(hosts) == 1 {
		s.Host = hosts[0]
	}
	t := target
	switch form {
	case "asterisk":
		s.Path = "*"
	case "authority":
	default:
		if form == "absolute" {
			s.Host = authority
			_, t, _ = strings.Cut(target, "://")
			t = t[len(authority):]
		}
		t, _, _ = strings.Cut(t, "#")
		s.Path, s.RawQuery, _ = strings.Cut(t, "?")
		if s.Path == "" {
			s.Path = "/"
		}
	}
	s.Expect = expect
	out := outcome{kind: outRequest, req: s}

	// Body.
	switch {
	case chunked:
		s.ContentLength, s.Chunked = -1, true
		s.Body, out.body, out.rest = refChunked(in, lim)
	case cl > 0:
		s.ContentLength = cl
		if int64(len(in)) < cl {
			s.Body, out.body = in, bodyTruncated
		} else {
			s.Body, out.rest = in[:cl], in[cl:]
		}
	default:
		out.rest = in
	}
	return out
}

func refChunked(in string, lim limits) (string, int, string) {
	var body strings.Builder
	line := func() (string, int) {
		i := strings.IndexByte(in, '\n')
		if i < 0 {
			if len(in) >= chunkLineMax {
				return "", bodyMalformed
			}
			return "", bodyTruncated
		}
		if i+1 > chunkLineMax {
			return "", bodyMalformed
		}
		l := in[:i]
		in = in[i+1:]
		return l, bodyOK
	}
	for {
		l, st := line()
		if st != bodyOK {
			return body.String(), st, in
		}
		l, hadCR := strings.CutSuffix(l, "\r")
		m := hexRE.FindStringSubmatch(l)
		if !hadCR || m == nil || len(m[1]) > 16 {
			return body.String(), bodyMalformed, in
		}
		size, err := strconv.ParseInt(m[1], 16, 64)
		ext := strings.TrimLeft(m[2], " \t")
		if err != nil || ext != "" && (ext[0] != ';' || !refValueOK(ext)) {
			return body.String(), bodyMalformed, in
		}
		if size == 0 {
			break
		}
		if int64(len(in)) < size {
			body.WriteString(in)
			return body.String(), bodyTruncated, in
		}
		body.WriteString(in[:size])
		in = in[size:]
		if len(in) < 2 {
			return body.String(), bodyTruncated, in
		}
		if in[:2] != "\r\n" {
			return body.String(), bodyMalformed, in
		}
		in = in[2:]
	}
	tb := 0
	for {
		l, st := line()
		if st != bodyOK {
			return body.String(), st, in
		}
		if l == "\r" {
			return body.String(), bodyOK, in
		}
		tb += len(l) + 1
		if tb > lim.maxHeaderBytes {
			return body.String(), bodyMalformed, in
		}
		l, hadCR := strings.CutSuffix(l, "\r")
		if !hadCR {
			return body.String(), bodyMalformed, in
		}
		if _, ok := refField(l); !ok {
			return body.String(), bodyMalformed, in
		}
	}
}

// ---- engine ----

type fakeAddr struct{}

func (fakeAddr) Network() string { return "fake" }
func (fakeAddr) String() string  { return "fake" }

// fakeConn is a net.Conn that reads in from at most step bytes at a time (0:
// all of it) and collects what is written.
type fakeConn struct {
	in     []byte
	step   int
	out    bytes.Buffer
	closed bool
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	if c.step > 0 && len(p) > c.step {
		p = p[:c.step]
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *fakeConn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *fakeConn) Close() error                     { c.closed = true; return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return fakeAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return fakeAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func runEngine(t *testing.T, data []byte, step int, lim limits) []outcome {
	var outs []outcome
	s := &Server{
		ErrorLog:        discardLog,
		MaxRequestLine:  lim.maxRequestLine,
		MaxHeaderBytes:  lim.maxHeaderBytes,
		MaxHeaderFields: lim.maxHeaderFields,
		Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
			checkInvariants(t, r)
			s := snapshot(r)
			o := outcome{kind: outRequest, req: s}
			var be *BodyError
			switch {
			case s.BodyErr == nil:
			case errors.As(s.BodyErr, &be):
				o.body = bodyMalformed
			case s.BodyErr == io.ErrUnexpectedEOF:
				o.body = bodyTruncated
			default:
				t.Fatalf("unexpected body error %v", s.BodyErr)
			}
			outs = append(outs, o)
			w.WriteHeader(200, "OK", nil)
			w.Write([]byte("ok"))
		}),
	}
	fc := &fakeConn{in: data, step: step}
	newConn(s, fc).serve()
	if !fc.closed {
		t.Fatal("connection left open")
	}
	if len(outs) > 0 && !continues(outs[len(outs)-1]) {
		return outs
	}
	// The connection ended with an engine error response, or silently.
	out := fc.out.String()
	i := strings.LastIndex(out, "HTTP/1.1 ")
	if i >= 0 && len(out) >= i+12 && out[i+9] >= '4' {
		st, _ := strconv.Atoi(out[i+9 : i+12])
		return append(outs, outcome{kind: outError, status: st})
	}
	return append(outs, outcome{kind: outIncomplete})
}

// checkInvariants checks what must hold for any request the engine accepts.
func checkInvariants(t *testing.T, r *Request) {
	if !refToken(r.Method) || r.ProtoMinor != 0 && r.ProtoMinor != 1 {
		t.Fatalf("accepted method %q minor %d", r.Method, r.ProtoMinor)
	}
	hosts := 0
	for _, f := range r.Header {
		if !refToken(f.Name) || !refValueOK(f.Value) || strings.Trim(f.Value, " \t") != f.Value {
			t.Fatalf("accepted field %q", f)
		}
		if strings.EqualFold(f.Name, "host") {
			hosts++
		}
		if strings.EqualFold(f.Name, "transfer-encoding") && !r.Chunked {
			t.Fatalf("accepted Transfer-Encoding %q without chunked framing", f.Value)
		}
	}
	if hosts > 1 || hosts == 0 && r.ProtoMinor == 1 {
		t.Fatalf("accepted %d Host fields", hosts)
	}
	if r.Chunked && (r.ContentLength != -1 || r.ProtoMinor == 0) || !r.Chunked && r.ContentLength < 0 {
		t.Fatalf("accepted framing chunked=%v cl=%d minor=%d", r.Chunked, r.ContentLength, r.ProtoMinor)
	}
}

func compare(t *testing.T, data []byte, n int, want, got outcome) {
	t.Helper()
	if want.kind != got.kind || want.status != got.status {
		t.Fatalf("input %q, request %d:\nreference: kind %d status %d\nengine:    kind %d status %d", data, n, want.kind, want.status, got.kind, got.status)
	}
	if want.kind != outRequest {
		return
	}
	if want.body != got.body {
		t.Fatalf("input %q, request %d: body outcome %d, engine %d (%v)", data, n, want.body, got.body, got.req.BodyErr)
	}
	w, g := *want.req, *got.req
	g.BodyErr = nil
	if want.body != bodyOK {
		// What came before a body error need not match byte for byte.
		w.Body, g.Body = "", ""
	}
	if len(w.Header) == 0 {
		w.Header = nil
	}
	if len(g.Header) == 0 {
		g.Header = nil
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("input %q, request %d:\nreference: %+v\nengine:    %+v", data, n, w, g)
	}
}

func TestValidValue(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 20; pos++ {
			for n := pos + 1; n <= 20; n += 3 {
				b := []byte(strings.Repeat("a\x80", 10)[:n])
				b[pos] = byte(c)
				if got, want := validValue(b), refValueOK(string(b)); got != want {
					t.Fatalf("validValue(%q) = %v", b, got)
				}
				if got := validValueString(string(b)); got != refValueOK(string(b)) {
					t.Fatalf("validValue(string %q) = %v", b, got)
				}
			}
		}
	}
}
