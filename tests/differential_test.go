package tests

// Differential raw-socket tests: the same raw HTTP/1.x requests go to gowsgi
// and to gunicorn (gthread worker, as Debian's python3-gunicorn runs it),
// both serving testdata/apps/diffapp.py. Every subtest asserts what is
// CORRECT by RFC 9110/9112 and PEP 3333 for gowsgi; gunicorn's answer to the
// same bytes is logged beside it (go test -v) for comparison, never asserted,
// because gunicorn 20.1 is wrong in many of these cases (HEAD and 204 bodies,
// pipelining, bare LF in field values, CL "+5"...).
//
// Subtests whose name ends in "_parity" assert behaviour that RFC 9110 and
// PEP 3333 permit but do not require, where gowsgi is stricter than gunicorn
// in a way a black-box suite run against both would flag.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---------------------------------------------------------------- responses

type dField struct{ Name, Value string }

// dResp is one response as it came off the wire.
type dResp struct {
	StatusLine string // without CRLF
	Proto      string
	Code       int
	Reason     string
	Header     []dField // in order, names as sent
	Body       []byte
	Chunked    bool
}

func (r *dResp) get(name string) (string, bool) {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

func (r *dResp) count(name string) int {
	n := 0
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

// env decodes diffapp's JSON echo.
func (r *dResp) env() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		return nil, fmt.Errorf("body is not the JSON echo: %v: %q", err, trunc(string(r.Body), 200))
	}
	return m, nil
}

// dExch is what one connection got back.
type dExch struct {
	Interim []*dResp // 1xx responses, in order
	Resps   []*dResp // final responses, in order
	Closed  bool     // the server closed the connection (EOF seen)
	Reset   bool     // the connection was reset
	Err     error    // a parse error or a timeout before the wanted responses
	Tail    []byte   // bytes left after the parsed responses
}

func (x *dExch) summary() string {
	var parts []string
	for _, r := range x.Interim {
		parts = append(parts, "["+r.StatusLine+"]")
	}
	for _, r := range x.Resps {
		s := r.StatusLine
		if te, ok := r.get("Transfer-Encoding"); ok {
			s += " TE=" + te
		}
		if cl, ok := r.get("Content-Length"); ok {
			s += " CL=" + cl
		}
		if c, ok := r.get("Connection"); ok {
			s += " Conn=" + c
		}
		s += " body=" + strconv.Quote(trunc(string(r.Body), 160))
		parts = append(parts, s)
	}
	state := "open"
	if x.Closed {
		state = "closed"
	} else if x.Reset {
		state = "reset"
	}
	out := strings.Join(parts, " | ") + " <" + state + ">"
	if x.Err != nil {
		out += " err=" + x.Err.Error()
	}
	if len(x.Tail) > 0 {
		out += " tail=" + strconv.Quote(trunc(string(x.Tail), 120))
	}
	return out
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// dOpts says how to read one exchange.
type dOpts struct {
	want      int           // final responses to read (0 means 1)
	heads     []bool        // heads[i]: final response i answers a HEAD
	closeWait time.Duration // after the responses, wait this long for EOF
	deadline  time.Duration // for the whole exchange (default 2s)
	halfClose bool          // shut down the write side after sending
}

// readResp parses one response; head says it answers a HEAD request.
func readResp(br *bufio.Reader, head bool) (*dResp, bool, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, false, err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return nil, false, fmt.Errorf("status line not ended by CRLF: %q", line)
	}
	r := &dResp{StatusLine: strings.TrimSuffix(line, "\r\n")}
	proto, rest, _ := strings.Cut(r.StatusLine, " ")
	code, reason, _ := strings.Cut(rest, " ")
	r.Proto, r.Reason = proto, reason
	if r.Code, err = strconv.Atoi(code); err != nil || !strings.HasPrefix(proto, "HTTP/") {
		return nil, false, fmt.Errorf("bad status line %q", r.StatusLine)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, false, fmt.Errorf("in response head: %w", err)
		}
		if l == "\r\n" {
			break
		}
		n, v, ok := strings.Cut(strings.TrimSuffix(l, "\r\n"), ":")
		if !ok {
			return nil, false, fmt.Errorf("bad response header line %q", l)
		}
		r.Header = append(r.Header, dField{n, strings.Trim(v, " \t")})
	}
	if r.Code < 200 {
		return r, true, nil
	}
	te, _ := r.get("Transfer-Encoding")
	cl, hasCL := r.get("Content-Length")
	switch {
	case head || r.Code == 204 || r.Code == 304:
	case strings.Contains(strings.ToLower(te), "chunked"):
		r.Chunked = true
		for {
			sl, err := br.ReadString('\n')
			if err != nil {
				return r, false, fmt.Errorf("in chunked body: %w", err)
			}
			sz, _, _ := strings.Cut(strings.TrimSpace(sl), ";")
			n, err := strconv.ParseInt(sz, 16, 64)
			if err != nil {
				return r, false, fmt.Errorf("bad chunk size line %q", sl)
			}
			if n == 0 {
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return r, false, fmt.Errorf("in trailers: %w", err)
					}
					if l == "\r\n" {
						return r, false, nil
					}
				}
			}
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(br, buf); err != nil {
				r.Body = append(r.Body, buf...)
				return r, false, fmt.Errorf("in chunk data: %w", err)
			}
			r.Body = append(r.Body, buf[:n]...)
		}
	case hasCL:
		n, err := strconv.Atoi(cl)
		if err != nil {
			return r, false, fmt.Errorf("bad Content-Length %q", cl)
		}
		buf := make([]byte, n)
		m, err := io.ReadFull(br, buf)
		r.Body = buf[:m]
		if err != nil {
			return r, false, fmt.Errorf("body shorter than Content-Length %d: %w", n, err)
		}
	default:
		b, err := io.ReadAll(br) // delimited by close
		r.Body = b
		if err != nil {
			return r, false, fmt.Errorf("close-delimited body: %w", err)
		}
	}
	return r, false, nil
}

// exchange sends req on a new connection and reads the responses.
func exchange(addr, req string, o dOpts) *dExch {
	x := &dExch{}
	if o.want == 0 {
		o.want = 1
	}
	if o.deadline == 0 {
		o.deadline = 2 * time.Second
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		x.Err = err
		return x
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(o.deadline))
	if _, err := io.WriteString(c, req); err != nil {
		x.Err = err
		return x
	}
	if o.halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	cr := &countingReader{r: c}
	br := bufio.NewReader(cr)
	for len(x.Resps) < o.want {
		head := len(x.Resps) < len(o.heads) && o.heads[len(x.Resps)]
		r, interim, err := readResp(br, head)
		if r != nil {
			if interim {
				x.Interim = append(x.Interim, r)
			} else {
				x.Resps = append(x.Resps, r)
			}
		}
		if err != nil {
			x.noteEnd(err, cr)
			if !errors.Is(err, io.EOF) || len(x.Resps) < o.want {
				x.Err = err
			}
			return x
		}
		if cr.eof {
			x.Closed = true
		}
	}
	if x.Closed || o.closeWait == 0 {
		return x
	}
	c.SetDeadline(time.Now().Add(o.closeWait))
	rest, err := io.ReadAll(br)
	x.Tail = rest
	x.noteEnd(err, cr)
	if err == nil {
		x.Closed = true
	}
	return x
}

func (x *dExch) noteEnd(err error, cr *countingReader) {
	if cr.eof {
		x.Closed = true
	}
	if err != nil && strings.Contains(err.Error(), "reset") {
		x.Reset = true
	}
}

type countingReader struct {
	r   io.Reader
	eof bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, io.EOF) {
		c.eof = true
	}
	return n, err
}

// ---------------------------------------------------------------- servers

type diffServers struct {
	gowsgi, gunicorn string
	stateDir         string
}

func startDiffServers(t *testing.T) *diffServers {
	t.Helper()
	if out, err := exec.Command(pythonBin, "-c", "import gunicorn").CombinedOutput(); err != nil {
		t.Fatalf("gunicorn is not importable by %s (%v: %s): the differential tests need it; "+
			"apt-get install python3-gunicorn", pythonBin, err, bytes.TrimSpace(out))
	}
	state := t.TempDir()
	apps := filepath.Join(repoRoot, "tests", "testdata", "apps")

	var (
		wg sync.WaitGroup
		g  *Server
	)
	gunAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	wg.Add(1)
	go func() {
		defer wg.Done()
		g = StartServerEnv(t, []string{"DIFFAPP_STATE_DIR=" + state}, filepath.Join(apps, "diffapp.py"), "--threads", "4", "--no-access-log")
	}()
	startConfProcess(t, "gunicorn", []string{"DIFFAPP_STATE_DIR=" + state}, gunAddr,
		pythonBin, "-m", "gunicorn", "--bind", gunAddr, "--workers", "1", "--threads", "4",
		"--chdir", apps, "--graceful-timeout", "1", "--log-level", "critical", "diffapp:app")
	wg.Wait()
	if g == nil {
		t.FailNow()
	}
	return &diffServers{gowsgi: g.Addr, gunicorn: gunAddr, stateDir: state}
}

// ---------------------------------------------------------------- cases

const (
	dHost = "Host: example.com\r\n"
	dNext = "GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n"
)

// rq builds a request: a request line, header lines (each ending in CRLF),
// the empty line and a body.
func rq(line, head, body string) string { return line + "\r\n" + head + "\r\n" + body }

type dCase struct {
	name  string
	req   string
	opts  dOpts
	check func(t *testing.T, x *dExch)
}

// ---- checks

func needResps(t *testing.T, x *dExch, n int) bool {
	t.Helper()
	if len(x.Resps) < n {
		t.Errorf("want %d response(s), got %d: %s", n, len(x.Resps), x.summary())
		return false
	}
	return true
}

// status asserts response i has one of the codes.
func status(t *testing.T, x *dExch, i int, codes ...int) bool {
	t.Helper()
	if !needResps(t, x, i+1) {
		return false
	}
	for _, c := range codes {
		if x.Resps[i].Code == c {
			return true
		}
	}
	t.Errorf("response %d: status %q, want one of %v (%s)", i, x.Resps[i].StatusLine, codes, x.summary())
	return false
}

// rejected asserts the request was refused with one of codes and the
// connection closed after it.
func rejected(codes ...int) func(*testing.T, *dExch) {
	return func(t *testing.T, x *dExch) {
		t.Helper()
		status(t, x, 0, codes...)
		if !x.Closed {
			t.Errorf("connection not closed after refusing the request: %s", x.summary())
		}
	}
}

// envOK asserts response i is a 200 echo and returns its environ.
func envOK(t *testing.T, x *dExch, i int) map[string]any {
	t.Helper()
	if !status(t, x, i, 200) {
		return nil
	}
	m, err := x.Resps[i].env()
	if err != nil {
		t.Error(err)
		return nil
	}
	return m
}

func wantEnv(t *testing.T, env map[string]any, kv ...any) {
	t.Helper()
	if env == nil {
		return
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		want := kv[i+1]
		got, ok := env[k]
		switch w := want.(type) {
		case nil: // absent
			if ok {
				t.Errorf("environ[%q] = %#v, want it absent", k, got)
			}
		case []int: // code points of a latin-1 str
			var cps []int
			for _, r := range fmt.Sprint(got) {
				cps = append(cps, int(r))
			}
			if !ok || fmt.Sprint(cps) != fmt.Sprint(w) {
				t.Errorf("environ[%q] = %q (code points %v), want code points %v", k, got, cps, w)
			}
		default:
			if !ok || fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("environ[%q] = %#v (present %v), want %#v", k, got, ok, w)
			}
		}
	}
}

// echoed checks a single 200 echo.
func echoed(kv ...any) func(*testing.T, *dExch) {
	return func(t *testing.T, x *dExch) {
		t.Helper()
		wantEnv(t, envOK(t, x, 0), kv...)
	}
}

// thenNext checks response 0 with first, then that the pipelined GET /next
// was read from the right place: the request framing held.
func thenNext(first func(*testing.T, *dExch)) func(*testing.T, *dExch) {
	return func(t *testing.T, x *dExch) {
		t.Helper()
		first(t, x)
		wantEnv(t, envOK(t, x, 1), "PATH_INFO", "/next", "REQUEST_METHOD", "GET")
	}
}

func body(want string) func(*testing.T, *dExch) {
	return func(t *testing.T, x *dExch) {
		t.Helper()
		if status(t, x, 0, 200) && string(x.Resps[0].Body) != want {
			t.Errorf("body %q, want %q", x.Resps[0].Body, want)
		}
	}
}

func pipelined(o dOpts) dOpts {
	if o.want == 0 {
		o.want = 2
	}
	return o
}

var (
	refuse   = dOpts{closeWait: time.Second}
	withNext = dOpts{want: 2}
)

func diffCases() []dCase {
	G := "GET / HTTP/1.1"
	P := "POST /p HTTP/1.1"
	chunked := dHost + "Transfer-Encoding: chunked\r\n"
	hdr := func(h string) string { return rq(G, dHost+h, "") }
	cases := []dCase{
		// ------------------------------------------------ request line
		{"reqline/basic", rq("GET /a?b=c HTTP/1.1", dHost, ""), dOpts{},
			echoed("REQUEST_METHOD", "GET", "PATH_INFO", "/a", "QUERY_STRING", "b=c", "SCRIPT_NAME", "", "SERVER_PROTOCOL", "HTTP/1.1", "HTTP_HOST", "example.com")},
		// RFC 9110 §9.1: the method token is case-sensitive; gunicorn 20.1 upper-cases it.
		{"reqline/lowercase_method_kept", rq("get / HTTP/1.1", dHost, ""), dOpts{}, echoed("REQUEST_METHOD", "get")},
		{"reqline/extension_method", rq("PURGE /x HTTP/1.1", dHost, ""), dOpts{}, echoed("REQUEST_METHOD", "PURGE")},
		{"reqline/two_spaces_after_method", rq("GET  / HTTP/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/two_spaces_before_version", rq("GET /  HTTP/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/trailing_space", rq("GET / HTTP/1.1 ", dHost, ""), refuse, rejected(400)},
		{"reqline/tabs", rq("GET\t/\tHTTP/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/missing_version", rq("GET /", dHost, ""), refuse, rejected(400)},
		{"reqline/http09_simple_request", "GET /\r\n", refuse, rejected(400)},
		{"reqline/lowercase_version", rq("GET / http/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/version_two_digit_minor", rq("GET / HTTP/1.10", dHost, ""), refuse, rejected(400)},
		// RFC 9110 §15.6.6: 505 for a major version the server does not support.
		{"reqline/http2.0_505", rq("GET / HTTP/2.0", dHost, ""), refuse, rejected(505)},
		{"reqline/http3.0_505", rq("GET / HTTP/3.0", dHost, ""), refuse, rejected(505)},
		{"reqline/http0.9_version_505", rq("GET / HTTP/0.9", dHost, ""), refuse, rejected(505, 400)},
		// RFC 9110 §6.2: a higher minor version is served as the highest supported.
		{"reqline/http1.2_served", rq("GET / HTTP/1.2", dHost, ""), dOpts{}, echoed("PATH_INFO", "/")},
		{"reqline/http1.0", rq("GET /x HTTP/1.0", "", ""), dOpts{closeWait: time.Second}, func(t *testing.T, x *dExch) {
			wantEnv(t, envOK(t, x, 0), "SERVER_PROTOCOL", "HTTP/1.0", "PATH_INFO", "/x", "HTTP_HOST", nil)
			if !x.Closed {
				t.Errorf("HTTP/1.0 without keep-alive: connection left open")
			}
		}},
		{"reqline/absolute_form", rq("GET http://other.com:81/p/q?x=1 HTTP/1.1", dHost, ""), dOpts{},
			echoed("PATH_INFO", "/p/q", "QUERY_STRING", "x=1")},
		{"reqline/absolute_form_uppercase_scheme", rq("GET HTTP://other.com/p HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/p")},
		{"reqline/absolute_form_https", rq("GET https://other.com/p HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/p")},
		{"reqline/options_asterisk", rq("OPTIONS * HTTP/1.1", dHost, ""), dOpts{}, echoed("REQUEST_METHOD", "OPTIONS", "PATH_INFO", "*")},
		{"reqline/asterisk_not_options", rq("GET * HTTP/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/no_leading_slash", rq("GET foo HTTP/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/long_uri_4000", rq("GET /"+strings.Repeat("a", 4000)+" HTTP/1.1", dHost, ""), dOpts{},
			echoed("PATH_INFO", "/"+strings.Repeat("a", 4000))},
		// RFC 9112 §3: a request line longer than the server accepts gets 414.
		{"reqline/uri_over_limit_414", rq("GET /"+strings.Repeat("a", 9000)+" HTTP/1.1", dHost, ""), refuse, rejected(414)},
		{"reqline/fragment_dropped", rq("GET /p?q=1#frag HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/p", "QUERY_STRING", "q=1")},
		{"reqline/fragment_before_query", rq("GET /p#frag?x HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/p", "QUERY_STRING", "")},
		// RFC 9112 §2.2: at least one empty line before the request line SHOULD be ignored.
		{"reqline/leading_empty_lines", "\r\n\r\n" + rq("GET /x HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/x")},
		{"reqline/raw_DEL_in_target", rq("GET /a\x7fb HTTP/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/raw_NUL_in_target", rq("GET /a\x00b HTTP/1.1", dHost, ""), refuse, rejected(400)},
		{"reqline/CR_CR_LF", "GET / HTTP/1.1\r\r\nHost: x\r\n\r\n", refuse, rejected(400)},
		// RFC 9112 §2.2: a bare LF MAY be accepted as a line end; either way an answer, not a hang.
		{"reqline/bare_LF_line_ends", "GET / HTTP/1.1\nHost: x\n\n", dOpts{closeWait: time.Second}, func(t *testing.T, x *dExch) {
			status(t, x, 0, 400, 200)
		}},

		// ------------------------------------------------ PEP 3333 environ: paths and queries
		{"environ/pct_decoded", rq("GET /a%20b/%41 HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a b/A")},
		{"environ/pct_00", rq("GET /a%00b HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", []int{'/', 'a', 0, 'b'})},
		{"environ/pct_2F", rq("GET /a%2Fb HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a/b")},
		{"environ/pct_25_decoded_once", rq("GET /a%25b%2541 HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a%b%41")},
		{"environ/pct_invalid_kept", rq("GET /a%zzb%4 HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a%zzb%4")},
		{"environ/pct_at_end", rq("GET /a% HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a%")},
		// PEP 3333: PATH_INFO holds the decoded bytes as latin-1 code points.
		{"environ/pct_utf8_as_latin1", rq("GET /caf%C3%A9?q=%C3%A9 HTTP/1.1", dHost, ""), dOpts{},
			echoed("PATH_INFO", []int{'/', 'c', 'a', 'f', 0xC3, 0xA9}, "QUERY_STRING", "q=%C3%A9")},
		{"environ/pct_latin1_byte", rq("GET /caf%E9 HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", []int{'/', 'c', 'a', 'f', 0xE9})},
		// Raw octets above 0x7F: each byte one code point (gunicorn 20.1 double-encodes them).
		{"environ/raw_nonascii_bytes", rq("GET /caf\xc3\xa9?x=\xe9 HTTP/1.1", dHost, ""), dOpts{},
			echoed("PATH_INFO", []int{'/', 'c', 'a', 'f', 0xC3, 0xA9}, "QUERY_STRING", []int{'x', '=', 0xE9})},
		{"environ/query_raw", rq("GET /p?a=%20+b&c=%zz&&d HTTP/1.1", dHost, ""), dOpts{}, echoed("QUERY_STRING", "a=%20+b&c=%zz&&d")},
		{"environ/query_second_question_mark", rq("GET /p?a?b HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/p", "QUERY_STRING", "a?b")},
		{"environ/empty_query", rq("GET /p? HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/p", "QUERY_STRING", "")},
		{"environ/double_slashes_kept", rq("GET //double//slashes HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "//double//slashes")},
		{"environ/dot_segments_kept", rq("GET /a/./b/../c HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a/./b/../c")},
		{"environ/encoded_question_mark", rq("GET /a%3Fb?c HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a?b", "QUERY_STRING", "c")},
		{"environ/plus_in_path_kept", rq("GET /a+b HTTP/1.1", dHost, ""), dOpts{}, echoed("PATH_INFO", "/a+b")},
		{"environ/wsgi_keys", rq("GET /x?wsgi=1 HTTP/1.1", dHost, ""), dOpts{}, func(t *testing.T, x *dExch) {
			env := envOK(t, x, 0)
			if env == nil {
				return
			}
			w, _ := env["_wsgi"].(map[string]any)
			for k, want := range map[string]string{"wsgi.version": "[1 0]", "wsgi.url_scheme": "http", "wsgi.run_once": "false",
				"input_methods": "true", "errors_methods": "true", "wsgi.multithread": "true"} {
				if fmt.Sprint(w[k]) != want {
					t.Errorf("%s = %v, want %s", k, w[k], want)
				}
			}
			if env["_native_str"] != true {
				t.Errorf("CGI values are not all native str")
			}
		}},
		// PEP 3333: SERVER_NAME and SERVER_PORT "can never be empty strings".
		{"environ/server_port_never_empty", hdr(""), dOpts{}, func(t *testing.T, x *dExch) {
			env := envOK(t, x, 0)
			if env != nil && (env["SERVER_NAME"] == "" || env["SERVER_PORT"] == "") {
				t.Errorf("SERVER_NAME %q SERVER_PORT %q", env["SERVER_NAME"], env["SERVER_PORT"])
			}
		}},
		{"environ/server_port_never_empty_host_empty_port", rq(G, "Host: example.com:\r\n", ""), dOpts{}, func(t *testing.T, x *dExch) {
			env := envOK(t, x, 0)
			if env != nil && (env["SERVER_NAME"] == "" || env["SERVER_PORT"] == "") {
				t.Errorf("Host %q gave SERVER_NAME %q SERVER_PORT %q", "example.com:", env["SERVER_NAME"], env["SERVER_PORT"])
			}
		}},

		// ------------------------------------------------ header fields
		// RFC 9112 §3.2: 400 for HTTP/1.1 without Host, with two, or with an invalid one.
		{"header/no_host_http11", rq(G, "", ""), refuse, rejected(400)},
		{"header/two_hosts", hdr("Host: example.com\r\n"), refuse, rejected(400)},
		{"header/host_with_space", rq(G, "Host: exa mple.com\r\n", ""), refuse, rejected(400)},
		{"header/host_with_userinfo", rq(G, "Host: u@example.com\r\n", ""), refuse, rejected(400)},
		{"header/host_with_port", rq(G, "Host: example.com:8080\r\n", ""), dOpts{}, echoed("HTTP_HOST", "example.com:8080")},
		{"header/host_ipv6", rq(G, "Host: [::1]:8080\r\n", ""), dOpts{}, echoed("HTTP_HOST", "[::1]:8080")},
		{"header/host_empty", rq(G, "Host:\r\n", ""), dOpts{}, echoed("HTTP_HOST", "")},
		{"header/empty_value", hdr("X-Empty:\r\n"), dOpts{}, echoed("HTTP_X_EMPTY", "")},
		{"header/only_whitespace_value", hdr("X-Empty: \t \r\n"), dOpts{}, echoed("HTTP_X_EMPTY", "")},
		// RFC 9112 §5.1: whitespace between name and colon MUST be rejected with 400.
		{"header/space_before_colon", hdr("X-Foo : bar\r\n"), refuse, rejected(400)},
		{"header/tab_before_colon", hdr("X-Foo\t: bar\r\n"), refuse, rejected(400)},
		// RFC 9112 §5.2: obs-fold is either rejected with 400 or replaced by SP.
		{"header/obs_fold", hdr("X-Foo: bar\r\n  baz\r\n"), dOpts{closeWait: 300 * time.Millisecond}, func(t *testing.T, x *dExch) {
			if !status(t, x, 0, 400, 200) {
				return
			}
			if x.Resps[0].Code == 200 {
				env, _ := x.Resps[0].env()
				if v := fmt.Sprint(env["HTTP_X_FOO"]); strings.ContainsAny(v, "\r\n") || !strings.HasPrefix(v, "bar") || !strings.HasSuffix(v, "baz") {
					t.Errorf("obs-fold unfolded to %q", v)
				}
			} else if !x.Closed {
				t.Errorf("connection open after 400")
			}
		}},
		{"header/first_line_folded", rq(G, " X-Foo: bar\r\n"+dHost, ""), refuse, rejected(400)},
		// "X_Foo" must not pass for "X-Foo" (header spoofing behind proxies).
		{"header/underscore_not_merged_with_dash", hdr("X_Foo: under\r\nX-Foo: dash\r\n"), dOpts{}, echoed("HTTP_X_FOO", "dash")},
		{"header/duplicates_combined", hdr("X-Dup: a\r\nX-Dup: b\r\nx-dup: c\r\n"), dOpts{}, func(t *testing.T, x *dExch) {
			env := envOK(t, x, 0)
			if env == nil {
				return
			}
			var parts []string
			for _, p := range strings.Split(fmt.Sprint(env["HTTP_X_DUP"]), ",") {
				parts = append(parts, strings.TrimSpace(p))
			}
			if strings.Join(parts, "|") != "a|b|c" {
				t.Errorf("HTTP_X_DUP = %q, want a,b,c in order", env["HTTP_X_DUP"])
			}
		}},
		{"header/lowercase_names", rq(G, "host: example.com\r\nx-lower: v\r\n", ""), dOpts{}, echoed("HTTP_HOST", "example.com", "HTTP_X_LOWER", "v")},
		{"header/tchars_in_name", hdr("X.Foo: dot\r\nX-1: one\r\n"), dOpts{}, echoed("HTTP_X.FOO", "dot", "HTTP_X_1", "one")},
		// One field over gunicorn's limit_request_field_size (8190 by default):
		// gunicorn answers 400, gowsgi 431.
		{"header/long_value_20k_431", hdr("X-Long: " + strings.Repeat("v", 20000) + "\r\n"), refuse, rejected(431)},
		{"header/long_value_8k", hdr("X-Long: " + strings.Repeat("v", 8000) + "\r\n"), dOpts{}, echoed("HTTP_X_LONG", strings.Repeat("v", 8000))},
		{"header/section_over_limit_431", hdr("X-Long: " + strings.Repeat("v", 70000) + "\r\n"), refuse, rejected(431)},
		{"header/99_fields", hdr(manyHeaders(98)), dOpts{}, echoed("HTTP_X_H97", "97")},
		{"header/too_many_fields_431", hdr(manyHeaders(150)), refuse, rejected(431)},
		// RFC 9110 §5.5: CR, LF and NUL in a value MUST be rejected (or replaced).
		{"header/NUL_in_value", hdr("X-Nul: a\x00b\r\n"), refuse, rejected(400)},
		{"header/CR_in_value", hdr("X-Cr: a\rb\r\n"), refuse, rejected(400)},
		{"header/bare_LF_in_value", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", refuse, rejected(400)},
		{"header/DEL_in_value", hdr("X-Del: a\x7fb\r\n"), refuse, rejected(400)},
		{"header/tab_in_value", hdr("X-Tab: a\tb\r\n"), dOpts{}, echoed("HTTP_X_TAB", "a\tb")},
		{"header/latin1_value", hdr("X-Latin: caf\xe9\r\n"), dOpts{}, echoed("HTTP_X_LATIN", []int{'c', 'a', 'f', 0xE9})},
		{"header/utf8_value_as_latin1", hdr("X-Utf8: caf\xc3\xa9\r\n"), dOpts{}, echoed("HTTP_X_UTF8", []int{'c', 'a', 'f', 0xC3, 0xA9})},
		// RFC 9110 §5.5: leading and trailing OWS is not part of the value.
		{"header/ows_trimmed", hdr("X-Ws: \t a b \t\r\n"), dOpts{}, echoed("HTTP_X_WS", "a b")},
		{"header/value_with_colons", hdr("X-C: a:b: c\r\n"), dOpts{}, echoed("HTTP_X_C", "a:b: c")},
		{"header/name_not_token", hdr("X(Foo): bar\r\n"), refuse, rejected(400)},
		{"header/no_colon", hdr("NoColon\r\n"), refuse, rejected(400)},
		{"header/empty_name", hdr(": novalue\r\n"), refuse, rejected(400)},
		// PEP 3333: CONTENT_TYPE/CONTENT_LENGTH without the HTTP_ prefix.
		{"header/content_type_length_unprefixed", rq(P, dHost+"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n", "hi"), dOpts{},
			echoed("CONTENT_TYPE", "text/plain; charset=utf-8", "CONTENT_LENGTH", "2", "HTTP_CONTENT_TYPE", nil, "HTTP_CONTENT_LENGTH", nil, "_body", "hi")},
		{"header/content_type_empty", hdr("Content-Type:\r\n"), dOpts{}, echoed("CONTENT_TYPE", "")},
		// PEP 3333 allows CONTENT_LENGTH to be absent, but gunicorn passes
		// "Content-Length: 0" on, and apps doing int(environ['CONTENT_LENGTH'])
		// on an empty POST (requests.post(url) sends exactly that) crash without it.
		{"header/content_length_0_passed_parity", rq(P, dHost+"Content-Length: 0\r\nContent-Type: text/plain\r\n", ""), dOpts{},
			echoed("CONTENT_LENGTH", "0", "_body", "")},

		// ------------------------------------------------ connection management
		{"conn/close", hdr("Connection: close\r\n"), dOpts{closeWait: time.Second}, func(t *testing.T, x *dExch) {
			if !status(t, x, 0, 200) {
				return
			}
			if v, _ := x.Resps[0].get("Connection"); !strings.EqualFold(v, "close") || !x.Closed {
				t.Errorf("Connection: close not honoured: %s", x.summary())
			}
		}},
		{"conn/close_in_list", hdr("Connection: te, CLOSE\r\n"), dOpts{closeWait: time.Second}, func(t *testing.T, x *dExch) {
			status(t, x, 0, 200)
			if !x.Closed {
				t.Errorf("connection open after Connection: te, close: %s", x.summary())
			}
		}},
		{"conn/http10_keepalive", rq("GET /a HTTP/1.0", "Connection: keep-alive\r\n", "") + "GET /b HTTP/1.0\r\n\r\n", dOpts{want: 2, closeWait: time.Second}, func(t *testing.T, x *dExch) {
			wantEnv(t, envOK(t, x, 0), "PATH_INFO", "/a")
			if len(x.Resps) > 0 {
				if v, _ := x.Resps[0].get("Connection"); !strings.EqualFold(v, "keep-alive") {
					t.Errorf("HTTP/1.0 keep-alive response lacks Connection: keep-alive: %s", x.summary())
				}
			}
			wantEnv(t, envOK(t, x, 1), "PATH_INFO", "/b")
			if !x.Closed {
				t.Errorf("second HTTP/1.0 request (no keep-alive) left the connection open")
			}
		}},
		{"conn/pipelined_three", dNext + strings.Replace(dNext, "/next", "/n2", 1) + strings.Replace(dNext, "/next", "/n3", 1), dOpts{want: 3}, func(t *testing.T, x *dExch) {
			for i, p := range []string{"/next", "/n2", "/n3"} {
				wantEnv(t, envOK(t, x, i), "PATH_INFO", p)
			}
		}},
		{"conn/pipelined_bodies", rq(P, dHost+"Content-Length: 5\r\n", "hello") + rq(P, dHost+"Content-Length: 3\r\n", "abc") + dNext, dOpts{want: 3}, func(t *testing.T, x *dExch) {
			wantEnv(t, envOK(t, x, 0), "_body", "hello")
			wantEnv(t, envOK(t, x, 1), "_body", "abc")
			wantEnv(t, envOK(t, x, 2), "PATH_INFO", "/next")
		}},
		{"conn/nothing_after_close", rq(G, dHost+"Connection: close\r\n", "") + dNext, dOpts{want: 2, deadline: 1500 * time.Millisecond}, func(t *testing.T, x *dExch) {
			if len(x.Resps) != 1 || !x.Closed {
				t.Errorf("want exactly one response then close: %s", x.summary())
			}
		}},
		{"conn/half_close_after_request", rq("GET /hc HTTP/1.1", dHost, ""), dOpts{halfClose: true, closeWait: time.Second}, echoed("PATH_INFO", "/hc")},

		// ------------------------------------------------ Expect
		{"expect/100_continue_http10_ignored", rq("POST /p HTTP/1.0", dHost+"Expect: 100-continue\r\nContent-Length: 5\r\n", "hello"), dOpts{}, func(t *testing.T, x *dExch) {
			wantEnv(t, envOK(t, x, 0), "_body", "hello")
			if len(x.Interim) > 0 {
				t.Errorf("100 Continue sent to an HTTP/1.0 client (RFC 9110 §10.1.1: MUST ignore): %s", x.summary())
			}
		}},
		{"expect/100_continue_body_sent_at_once", rq(P, dHost+"Expect: 100-continue\r\nContent-Length: 5\r\n", "hello") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		// RFC 9110 §10.1.1: an unknown expectation MAY get 417.
		{"expect/unknown", rq(P, dHost+"Expect: foo\r\nContent-Length: 5\r\n", "hello"), dOpts{closeWait: 300 * time.Millisecond}, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 417, 200) && x.Resps[0].Code == 200 {
				wantEnv(t, envOK(t, x, 0), "_body", "hello")
			}
		}},

		// ------------------------------------------------ request bodies
		{"body/content_length", rq(P, dHost+"Content-Length: 5\r\n", "hello") + dNext, withNext, thenNext(echoed("_body", "hello", "CONTENT_LENGTH", "5"))},
		{"body/cl_leading_zeros", rq(P, dHost+"Content-Length: 005\r\n", "hello") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		{"body/cl_ows", rq(P, dHost+"Content-Length:   5   \r\n", "hello") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		// RFC 9110 §8.6: Content-Length = 1*DIGIT.
		{"body/cl_plus_sign", rq(P, dHost+"Content-Length: +5\r\n", "hello"+dNext), refuse, rejected(400)},
		{"body/cl_negative", rq(P, dHost+"Content-Length: -5\r\n", "hello"), refuse, rejected(400)},
		{"body/cl_inner_space", rq(P, dHost+"Content-Length: 5 5\r\n", "hello"), refuse, rejected(400)},
		{"body/cl_hex", rq(P, dHost+"Content-Length: 0x5\r\n", "hello"), refuse, rejected(400)},
		{"body/cl_empty", rq(P, dHost+"Content-Length:\r\n", "hello"), refuse, rejected(400)},
		{"body/cl_underscore", rq(P, dHost+"Content-Length: 1_0\r\n", "helloworld"), refuse, rejected(400)},
		{"body/cl_overflow", rq(P, dHost+"Content-Length: 99999999999999999999999\r\n", "hello"), refuse, rejected(400, 413)},
		// RFC 9110 §8.6: identical repeated values MAY be accepted as one.
		{"body/cl_two_identical", rq(P, dHost+"Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), dOpts{closeWait: 300 * time.Millisecond}, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 200, 400) && x.Resps[0].Code == 200 {
				wantEnv(t, envOK(t, x, 0), "_body", "hello")
			}
		}},
		{"body/cl_two_differing", rq(P, dHost+"Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), refuse, rejected(400)},
		{"body/cl_list_differing", rq(P, dHost+"Content-Length: 5, 6\r\n", "hello!"), refuse, rejected(400)},
		{"body/chunked", rq(P, chunked, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hello world"))},
		{"body/chunked_extensions", rq(P, chunked, "5;foo=bar\r\nhello\r\n6 ; a=\"b c\"\r\n world\r\n0;x\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hello world"))},
		{"body/chunked_trailers", rq(P, chunked, "5\r\nhello\r\n0\r\nX-Trailer: yes\r\nX-T2: z\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		{"body/chunked_uppercase_hex", rq(P, chunked, "A\r\n0123456789\r\n0\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "0123456789"))},
		{"body/chunked_size_leading_zeros", rq(P, chunked, "0005\r\nhello\r\n0000\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		{"body/chunked_one_byte_chunks", rq(P, chunked, "1\r\nh\r\n1\r\ni\r\n0\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hi"))},
		{"body/chunked_empty", rq(P, chunked, "0\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", ""))},
		{"body/chunked_coding_case_insensitive", rq(P, dHost+"Transfer-Encoding: Chunked\r\n", "5\r\nhello\r\n0\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		{"body/chunked_on_GET", rq(G, chunked, "5\r\nhello\r\n0\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		// RFC 9112 §6.1: TE with CL: reject, or use TE; either way close after.
		{"body/chunked_plus_cl", rq(P, chunked+"Content-Length: 3\r\n", "5\r\nhello\r\n0\r\n\r\n"+dNext), refuse, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 400, 200) && x.Resps[0].Code == 200 {
				wantEnv(t, envOK(t, x, 0), "_body", "hello")
			}
			if len(x.Resps) > 1 || !x.Closed {
				t.Errorf("TE+CL: connection must close after the response: %s", x.summary())
			}
		}},
		{"body/cl_plus_chunked", rq(P, dHost+"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"+dNext), refuse, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 400, 200) && x.Resps[0].Code == 200 {
				wantEnv(t, envOK(t, x, 0), "_body", "hello")
			}
			if len(x.Resps) > 1 || !x.Closed {
				t.Errorf("CL+TE: connection must close after the response: %s", x.summary())
			}
		}},
		// RFC 9112 §6.1: an unknown transfer coding SHOULD get 501.
		{"body/te_gzip_501", rq(P, dHost+"Transfer-Encoding: gzip\r\n", "hello"), refuse, rejected(501)},
		{"body/te_gzip_chunked_501", rq(P, dHost+"Transfer-Encoding: gzip, chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), refuse, rejected(501)},
		// RFC 9112 §6.3: chunked not the final coding: 400 and close.
		{"body/te_chunked_not_last", rq(P, dHost+"Transfer-Encoding: chunked, gzip\r\n", "5\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/te_chunked_twice", rq(P, dHost+"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		// RFC 9112 §6.1: TE in an HTTP/1.0 request means faulty framing.
		{"body/te_in_http10", rq("POST /p HTTP/1.0", chunked, "5\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/te_empty", rq(P, dHost+"Transfer-Encoding:\r\n", "hello"), refuse, rejected(400)},
		{"body/te_chunked_trailing_comma", rq(P, dHost+"Transfer-Encoding: chunked,\r\n", "5\r\nhello\r\n0\r\n\r\n") + dNext, withNext, thenNext(echoed("_body", "hello"))},
		{"body/body_on_GET", rq("GET /g HTTP/1.1", dHost+"Content-Length: 5\r\n", "hello") + dNext, withNext, thenNext(echoed("_body", "hello", "REQUEST_METHOD", "GET"))},
		{"body/POST_without_length", rq(P, dHost, "") + dNext, withNext, thenNext(echoed("_body", ""))},
		{"body/bad_chunk_size", rq(P, chunked, "zz\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/negative_chunk_size", rq(P, chunked, "-5\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/chunk_size_0x", rq(P, chunked, "0x5\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/chunk_size_overflow", rq(P, chunked, "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400, 413)},
		{"body/chunk_size_leading_space", rq(P, chunked, " 5\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/chunk_data_longer_than_size", rq(P, chunked, "3\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/chunk_missing_crlf", rq(P, chunked, "5\r\nhello0\r\n\r\n"), refuse, rejected(400)},
		{"body/chunk_ext_control_char", rq(P, chunked, "5;a=\x01\r\nhello\r\n0\r\n\r\n"), refuse, rejected(400)},
		{"body/trailer_not_a_field", rq(P, chunked, "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n"), refuse, rejected(400)},
		// A body cut short by the client: no response built from half a body.
		{"body/incomplete_then_eof", rq(P, dHost+"Content-Length: 10\r\n", "hello"), dOpts{halfClose: true, closeWait: time.Second}, func(t *testing.T, x *dExch) {
			if len(x.Resps) > 0 && x.Resps[0].Code == 200 {
				t.Errorf("answered 200 to a truncated body: %s", x.summary())
			}
			if !x.Closed && !x.Reset {
				t.Errorf("connection not closed: %s", x.summary())
			}
		}},
		{"body/app_reads_part_rest_discarded", rq("POST /r/read-partial?n=2 HTTP/1.1", dHost+"Content-Length: 10\r\n", "0123456789") + dNext, withNext, thenNext(body("partial"))},
		{"body/app_reads_part_chunked_rest_discarded", rq("POST /r/read-partial?n=2 HTTP/1.1", chunked, "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n") + dNext, withNext, thenNext(body("partial"))},
		{"body/readline", rq("POST /r/readline HTTP/1.1", dHost+"Content-Length: 11\r\n", "a\nbb\r\nccc\nd"), dOpts{}, body(`["a\n", "bb\r\n", "ccc\n", "d"]`)},

		// ------------------------------------------------ HEAD, 204, 304
		// RFC 9110 §9.3.2: no content in a HEAD response (gunicorn 20.1 sends it).
		{"resp/HEAD_no_body", rq("HEAD /r/head HTTP/1.1", dHost, "") + dNext, dOpts{want: 2, heads: []bool{true}}, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 200) {
				if cl, ok := x.Resps[0].get("Content-Length"); ok && cl != "12" {
					t.Errorf("HEAD Content-Length %q, want the GET's 12", cl)
				}
			}
			wantEnv(t, envOK(t, x, 1), "PATH_INFO", "/next")
		}},
		{"resp/HEAD_streamed_no_body", rq("HEAD /r/stream HTTP/1.1", dHost, "") + dNext, dOpts{want: 2, heads: []bool{true}}, thenNext(func(t *testing.T, x *dExch) { status(t, x, 0, 200) })},
		{"resp/HEAD_environ_method", rq("HEAD /x HTTP/1.1", dHost, "") + dNext, dOpts{want: 2, heads: []bool{true}}, thenNext(func(t *testing.T, x *dExch) { status(t, x, 0, 200) })},
		// RFC 9110 §15.3.5, §15.4.5: 204 and 304 have no content.
		{"resp/204_no_body", rq("GET /r/nobody?s=204 HTTP/1.1", dHost, "") + dNext, withNext, thenNext(noBodyFraming(204))},
		{"resp/304_no_body", rq("GET /r/nobody?s=304 HTTP/1.1", dHost, "") + dNext, withNext, thenNext(noBodyFraming(304))},

		// ------------------------------------------------ PEP 3333 response side
		{"resp/custom_reason_verbatim", rq("GET /r/reason HTTP/1.1", dHost, ""), dOpts{}, func(t *testing.T, x *dExch) {
			if needResps(t, x, 1) && x.Resps[0].StatusLine != "HTTP/1.1 299 Custom Reason Here" {
				t.Errorf("status line %q", x.Resps[0].StatusLine)
			}
		}},
		{"resp/write_callable", rq("GET /r/write HTTP/1.1", dHost, "") + dNext, withNext, thenNext(body("one,two,three"))},
		{"resp/write_callable_http10", rq("GET /r/write HTTP/1.0", "", ""), dOpts{}, body("one,two,three")},
		{"resp/generator_empty_first_item", rq("GET /r/empty-first HTTP/1.1", dHost, "") + dNext, withNext, thenNext(body("after-empty"))},
		{"resp/start_response_in_iterator", rq("GET /r/late-start HTTP/1.1", dHost, "") + dNext, withNext, thenNext(body("late-start"))},
		{"resp/exc_info_replaces_head", rq("GET /r/excinfo HTTP/1.1", dHost, ""), dOpts{}, func(t *testing.T, x *dExch) {
			if needResps(t, x, 1) && (x.Resps[0].StatusLine != "HTTP/1.1 500 Replaced" || string(x.Resps[0].Body) != "error page") {
				t.Errorf("got %s", x.summary())
			}
		}},
		{"resp/app_cl_shorter_than_body", rq("GET /r/cl?declared=3&actual=10 HTTP/1.1", dHost, "") + dNext, dOpts{want: 2, closeWait: 300 * time.Millisecond}, func(t *testing.T, x *dExch) {
			if needResps(t, x, 1) && string(x.Resps[0].Body) != "xxx" {
				t.Errorf("body %q, want exactly the 3 declared bytes", x.Resps[0].Body)
			}
			// The extra bytes must not leak into the stream: the next
			// response parses (or the connection was closed).
			if len(x.Resps) == 2 {
				wantEnv(t, envOK(t, x, 1), "PATH_INFO", "/next")
			} else if !x.Closed {
				t.Errorf("no second response and connection open: %s", x.summary())
			}
		}},
		// The client cannot tell a short body from a slow one: close.
		{"resp/app_cl_longer_than_body_closes", rq("GET /r/cl?declared=10&actual=3 HTTP/1.1", dHost, ""), dOpts{closeWait: time.Second}, func(t *testing.T, x *dExch) {
			if !x.Closed && !x.Reset {
				t.Errorf("connection left open after a body shorter than its Content-Length: %s", x.summary())
			}
		}},
		{"resp/streamed_chunked_http11", rq("GET /r/stream HTTP/1.1", dHost, "") + dNext, withNext, thenNext(func(t *testing.T, x *dExch) {
			if body("chunk 0\nchunk 1\nchunk 2\n")(t, x); len(x.Resps) > 0 && !x.Resps[0].Chunked {
				if _, ok := x.Resps[0].get("Content-Length"); !ok {
					t.Errorf("HTTP/1.1 stream neither chunked nor with Content-Length")
				}
			}
		})},
		{"resp/streamed_http10_close_delimited", rq("GET /r/stream HTTP/1.0", "", ""), dOpts{}, func(t *testing.T, x *dExch) {
			body("chunk 0\nchunk 1\nchunk 2\n")(t, x)
			if len(x.Resps) > 0 && x.Resps[0].Chunked {
				t.Errorf("chunked response to HTTP/1.0")
			}
		}},
		{"resp/streamed_http10_keepalive", rq("GET /r/stream HTTP/1.0", "Connection: keep-alive\r\n", ""), dOpts{closeWait: time.Second}, func(t *testing.T, x *dExch) {
			body("chunk 0\nchunk 1\nchunk 2\n")(t, x)
			if len(x.Resps) > 0 && x.Resps[0].Chunked {
				t.Errorf("chunked response to HTTP/1.0")
			}
		}},
		{"resp/nonlatin1_header_500", rq("GET /r/nonlatin HTTP/1.1", dHost, ""), dOpts{closeWait: 300 * time.Millisecond}, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 500) && strings.Contains(string(x.Resps[0].Body), "should not be seen") {
				t.Errorf("app body leaked into the 500")
			}
		}},
		{"resp/latin1_header_bytes", rq("GET /r/latin HTTP/1.1", dHost, ""), dOpts{}, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 200) {
				if v, _ := x.Resps[0].get("X-Latin"); v != "caf\xe9" {
					t.Errorf("X-Latin %q, want the latin-1 byte E9", v)
				}
			}
		}},
		{"resp/app_date_server_not_duplicated", rq("GET /r/hdr?kind=date HTTP/1.1", dHost, ""), dOpts{}, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 200) && (x.Resps[0].count("Date") != 1 || x.Resps[0].count("Server") != 1) {
				t.Errorf("Date/Server not exactly once: %s %v", x.summary(), x.Resps[0].Header)
			}
		}},
		{"resp/set_cookie_kept_separate", rq("GET /r/hdr?kind=set-cookies HTTP/1.1", dHost, ""), dOpts{}, func(t *testing.T, x *dExch) {
			if status(t, x, 0, 200) && x.Resps[0].count("Set-Cookie") != 2 {
				t.Errorf("want two Set-Cookie fields: %v", x.Resps[0].Header)
			}
		}},
		{"resp/tuple_iterable", rq("GET /r/items?kind=tuple HTTP/1.1", dHost, ""), dOpts{}, body("tuple")},
		{"resp/empty_iterable", rq("GET /r/items?kind=empty HTTP/1.1", dHost, "") + dNext, withNext, thenNext(body(""))},
		{"resp/raise_mid_body_cuts_connection", rq("GET /r/items?kind=raise-mid HTTP/1.1", dHost, ""), dOpts{closeWait: time.Second}, func(t *testing.T, x *dExch) {
			if x.Err == nil && len(x.Resps) == 1 && x.Resps[0].Code == 200 && !x.Closed && !x.Reset {
				t.Errorf("a body cut by an exception looks complete and the connection is open: %s", x.summary())
			}
		}},
		// PEP 3333 forbids apps hop-by-hop headers but does not say what the
		// server does; gunicorn drops them and serves the response, gowsgi
		// answers 500 and logs why (see hopRefused).
		{"resp/app_connection_close_refused", rq("GET /r/hdr?kind=conn-close HTTP/1.1", dHost, ""), dOpts{closeWait: 300 * time.Millisecond}, hopRefused()},
		{"resp/app_keep_alive_refused", rq("GET /r/hdr?kind=keep-alive HTTP/1.1", dHost, ""), dOpts{closeWait: 300 * time.Millisecond}, hopRefused()},
		{"resp/app_transfer_encoding_refused", rq("GET /r/hdr?kind=te HTTP/1.1", dHost, ""), dOpts{closeWait: 300 * time.Millisecond}, hopRefused()},
	}
	return cases
}

func manyHeaders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "X-H%d: %d\r\n", i, i)
	}
	return b.String()
}

// noBodyFraming: a 204/304 with no body and no Transfer-Encoding.
func noBodyFraming(code int) func(*testing.T, *dExch) {
	return func(t *testing.T, x *dExch) {
		t.Helper()
		if !status(t, x, 0, code) {
			return
		}
		if _, ok := x.Resps[0].get("Transfer-Encoding"); ok {
			t.Errorf("%d with Transfer-Encoding (RFC 9112 §6.1: MUST NOT)", code)
		}
		if v, _ := x.Resps[0].get("X-Status"); v == "" {
			t.Errorf("app header lost: %v", x.Resps[0].Header)
		}
	}
}

// hopRefused: gowsgi's rule (issue 2, PEP 3333 "applications must not use
// hop-by-hop headers"): the response becomes a 500 with the reason logged,
// and the app's hop-by-hop field never reaches the client. gunicorn drops
// the field and serves the response instead; both keep the client safe.
func hopRefused() func(*testing.T, *dExch) {
	return func(t *testing.T, x *dExch) {
		t.Helper()
		if !status(t, x, 0, 500) {
			return
		}
		r := x.Resps[0]
		for _, h := range []string{"Keep-Alive", "Upgrade"} {
			if _, ok := r.get(h); ok {
				t.Errorf("app's hop-by-hop %s forwarded: %v", h, r.Header)
			}
		}
		if n := r.count("Transfer-Encoding"); n > 1 || (n == 1 && !r.Chunked) {
			t.Errorf("app's Transfer-Encoding forwarded: %v", r.Header)
		}
	}
}

// ---------------------------------------------------------------- the test

func TestDifferential(t *testing.T) {
	t.Parallel()
	srv := startDiffServers(t)
	cases := diffCases()

	type both struct{ gw, gu *dExch }
	results := make([]both, len(cases))
	// Run the exchanges concurrently (bounded), then check them in order:
	// most answers are immediate, but the close checks and gunicorn's hangs
	// wait for their timeouts.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(2)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i].gw = exchange(srv.gowsgi, c.req, c.opts)
		}()
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i].gu = exchange(srv.gunicorn, c.req, c.opts)
		}()
	}
	wg.Wait()

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := results[i]
			t.Logf("gowsgi:   %s", r.gw.summary())
			t.Logf("gunicorn: %s", r.gu.summary())
			c.check(t, r.gw)
		})
	}

	// Conversations that need pauses.
	t.Run("conv/expect_100_continue_waits_for_100", func(t *testing.T) {
		for _, s := range []struct{ name, addr string }{{"gowsgi", srv.gowsgi}, {"gunicorn", srv.gunicorn}} {
			got, err := expectConversation(s.addr)
			t.Logf("%s: %q err=%v", s.name, trunc(got, 200), err)
			if s.name != "gowsgi" {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ") || !strings.Contains(got, `"_body": "hello"`) {
				t.Errorf("want 100 Continue, then the 200 echo of the body: %q", got)
			}
		}
	})
	t.Run("conv/keepalive_reuse_after_pause", func(t *testing.T) {
		for _, s := range []struct{ name, addr string }{{"gowsgi", srv.gowsgi}, {"gunicorn", srv.gunicorn}} {
			got, err := pausedKeepAlive(s.addr, 500*time.Millisecond)
			t.Logf("%s: %d bytes err=%v", s.name, len(got), err)
			if s.name == "gowsgi" && (err != nil || strings.Count(got, "HTTP/1.1 200 ") != 2 || !strings.Contains(got, `"PATH_INFO": "/b"`)) {
				t.Errorf("second request on the kept connection not served: %q %v", trunc(got, 300), err)
			}
		}
	})
	t.Run("conv/byte_by_byte", func(t *testing.T) {
		got, err := byteByByte(srv.gowsgi, rq("POST /p?q=1 HTTP/1.1", dHost+"Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"))
		if err != nil || !strings.Contains(got, `"_body": "hello"`) || !strings.Contains(got, `"QUERY_STRING": "q=1"`) {
			t.Errorf("request sent one byte at a time: %q %v", trunc(got, 300), err)
		}
	})
	t.Run("conv/close_called", func(t *testing.T) {
		marker := filepath.Join(srv.stateDir, "closed-gowsgi")
		x := exchange(srv.gowsgi, rq("GET /r/tracked?name=closed-gowsgi HTTP/1.1", dHost, ""), dOpts{})
		body("tracked")(t, x)
		if !waitFor(3*time.Second, func() bool { _, err := os.Stat(marker); return err == nil }) {
			t.Errorf("the iterable's close() was not called")
		}
	})
}

// expectConversation sends a head with Expect: 100-continue, waits for the
// interim response, and only then sends the body.
func expectConversation(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	io.WriteString(c, rq("POST /p HTTP/1.1", dHost+"Expect: 100-continue\r\nContent-Length: 5\r\n", ""))
	c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	got := string(buf[:n])
	if err != nil {
		return got, fmt.Errorf("no 100 Continue before the body: %v", err)
	}
	io.WriteString(c, "hello")
	c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	for !strings.HasSuffix(got, "}") {
		n, err := c.Read(buf)
		got += string(buf[:n])
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func pausedKeepAlive(addr string, pause time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var out strings.Builder
	for i, p := range []string{"/a", "/b"} {
		if i > 0 {
			time.Sleep(pause) // the pause under test, not an ordering wait
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, rq("GET "+p+" HTTP/1.1", dHost, "")); err != nil {
			return out.String(), err
		}
		r, _, err := readResp(br, false)
		if r != nil {
			out.WriteString(r.StatusLine + "\r\n" + string(r.Body) + "\n")
		}
		if err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}

func byteByByte(addr, req string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	for i := 0; i < len(req); i++ {
		if _, err := c.Write([]byte{req[i]}); err != nil {
			return "", err
		}
		time.Sleep(time.Millisecond) // pacing: one byte per segment, the case under test
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	r, _, err := readResp(bufio.NewReader(c), false)
	if r == nil {
		return "", err
	}
	return r.StatusLine + "\r\n" + string(r.Body), err
}
