package front

import (
	"encoding/base64"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/proxy"
	"github.com/gowsgi/gowsgi/internal/statsd"
)

// AccessLog writes one line per request, by default in the Combined Log
// Format:
//
//	127.0.0.1 - - [24/Nov/2026:09:44:11 +0000] "GET / HTTP/1.1" 200 13 "-" "curl/8.0"
//
// or in a gunicorn access_log_format, compiled once into a list of atom
// writers, or as one JSON object a line. Client-controlled values are
// escaped (quotes, backslashes, control and non-ASCII bytes as \xNN; JSON
// escapes in JSON lines), so no client can end a line or a quoted field.
//
// Lines are appended to a buffer that one writer goroutine writes out: it
// is woken when the buffer stops being empty, lets lines gather for
// batchWait, and writes them all in one write. A line reaches the file
// within about 10 ms of its request; under load a write carries many
// lines, and a request costs no goroutine wake-up or system call of its
// own. A slow log file stalls requests only once maxPending bytes wait.
type AccessLog struct {
	out  io.Writer // nil: no lines, statsd only
	wake chan struct{}
	done chan struct{}
	// mu guards pending and closed; taken is signalled (on mu) when the
	// writer takes pending.
	mu      sync.Mutex
	taken   *sync.Cond
	pending []byte
	closed  bool

	atoms []atomWriter // nil: the Combined Log Format fast path
	json  bool
	opts  AccessLogOptions

	// wantResp: the format has %({name}o)s atoms, so response headers are
	// kept per request (relay's field list is recycled before Log runs).
	wantResp bool
	resp     sync.Map // *http1.ResponseWriter → []http1.Field
}

// AccessLogOptions are the choices behind an access log.
type AccessLogOptions struct {
	// Format is gunicorn's access_log_format; "" = Combined Log Format.
	Format string
	// JSON writes one JSON object a line instead (Format is then unused).
	JSON bool
	// Forwarded, Scheme and RootPath are the Handler's, so %(h)s and
	// %({var}e)s show the environ the app saw.
	Forwarded *proxy.Forwarding
	Scheme    string
	RootPath  string
	// Stats, when set, gets every request (gunicorn's statsd metrics), also
	// when no line is written (w == nil).
	Stats *statsd.Client
}

// NewAccessLog starts writing Combined Log Format lines to w.
func NewAccessLog(w io.Writer) *AccessLog {
	l, _ := NewAccessLogWith(w, AccessLogOptions{})
	return l
}

// NewAccessLogWith starts an access log with opts. w may be nil for an
// access log that only feeds opts.Stats.
func NewAccessLogWith(w io.Writer, opts AccessLogOptions) (*AccessLog, error) {
	l := &AccessLog{opts: opts, json: opts.JSON}
	if opts.Format != "" && !opts.JSON {
		atoms, err := logging.ParseAccessFormat(opts.Format)
		if err != nil {
			return nil, err
		}
		for _, a := range atoms {
			l.atoms = append(l.atoms, compileAtom(a))
			l.wantResp = l.wantResp || a.Key == "o"
		}
	}
	if w != nil {
		l.out, l.wake, l.done = w, make(chan struct{}, 1), make(chan struct{})
		l.taken = sync.NewCond(&l.mu)
		go l.run()
	}
	return l, nil
}

// batchWait is how long the writer lets lines gather once woken: 10 ms,
// or GOWSGI_TEST_ACCESS_LOG_WAIT (a Go duration) for bench/ab.sh's
// instruction counts, which run gowsgi under valgrind some fifty times
// slower: there a 10 ms wait would wake the writer once every few
// requests instead of once every few hundred, and count that as the
// cost of a line.
var batchWait = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("GOWSGI_TEST_ACCESS_LOG_WAIT")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Millisecond
}()

// maxPending bounds the bytes waiting for a slow log file; past it a
// request waits for the writer.
const maxPending = 4 << 20

func (l *AccessLog) run() {
	defer close(l.done)
	var spare []byte
	for {
		_, open := <-l.wake // closed by Close, after the last line
		if open {
			time.Sleep(batchWait)
		}
		l.mu.Lock()
		b := l.pending
		l.pending = spare[:0]
		l.taken.Broadcast()
		l.mu.Unlock()
		if len(b) > 0 {
			l.out.Write(b)
		}
		spare = b
		if cap(spare) > 1<<20 {
			spare = nil // a burst's buffer is not kept
		}
		if !open {
			return
		}
	}
}

// Close flushes the remaining lines; lines logged after it are dropped.
func (l *AccessLog) Close() {
	if l.out != nil {
		l.mu.Lock()
		if !l.closed {
			l.closed = true
			l.taken.Broadcast()
			close(l.wake)
		}
		l.mu.Unlock()
		<-l.done
	}
}

// send appends a line for the writer, unless the log is closed, and wakes
// the writer if it was idle.
func (l *AccessLog) send(line []byte) {
	l.mu.Lock()
	for len(l.pending) > maxPending && !l.closed {
		l.taken.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return
	}
	if len(l.pending) == 0 {
		select { // under mu: Close closes wake under it
		case l.wake <- struct{}{}:
		default: // already woken
		}
	}
	l.pending = append(l.pending, line...)
	l.mu.Unlock()
}

// KeepResponseHeader records the response fields of w for %({name}o)s
// before the handler recycles them; a no-op unless the format asks.
func (l *AccessLog) KeepResponseHeader(w responseWriter, fields []http1.Field) {
	if l == nil || !l.wantResp {
		return
	}
	l.resp.Store(w, append([]http1.Field(nil), fields...))
}

// entry is one finished request, as the atom writers see it.
type entry struct {
	l     *AccessLog
	r     *http1.Request
	proto string // SERVER_PROTOCOL
	w     responseWriter
	start time.Time
	dur   time.Duration
	resp  []http1.Field
	org   *origin // computed on first use
}

func (e *entry) origin() *origin {
	if e.org == nil {
		o := originOf(e.l.opts.Forwarded, e.l.opts.Scheme, e.r)
		e.org = &o
	}
	return e.org
}

// Log records one finished request.
func (l *AccessLog) Log(rq *request, w responseWriter, start time.Time) {
	r := rq.Request
	if l.opts.Stats != nil {
		l.opts.Stats.Request(time.Since(start), w.Status())
	}
	var resp []http1.Field
	if l.wantResp {
		if v, ok := l.resp.LoadAndDelete(w); ok {
			resp = v.([]http1.Field)
		} else {
			if hw, ok := w.(interface{ Header() []http1.Field }); ok {
				resp = hw.Header()
			}
		}
	}
	if l.out == nil {
		return
	}
	if l.json {
		l.send(l.jsonLine(r, rq.Proto(), w, start))
		return
	}
	if l.atoms != nil {
		e := entry{l: l, r: r, proto: rq.Proto(), w: w, start: start, dur: time.Since(start), resp: resp}
		if rq.org.set {
			e.org = &rq.org
		}
		b := make([]byte, 0, 192)
		for _, a := range l.atoms {
			b = a(b, &e)
		}
		l.send(append(b, '\n'))
		return
	}
	b := make([]byte, 0, 256)
	if rq.org.set && rq.org.remoteAddr != "" {
		b = append(b, rq.org.remoteAddr...) // the environ's REMOTE_ADDR, as remoteHost would find it
	} else {
		b = l.appendRemoteHost(b, r)
	}
	b = append(b, " - - ["...)
	b = appendCLFTime(b, start)
	b = append(b, "] \""...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.Target)
	b = append(b, ' ')
	b = append(b, rq.Proto()...)
	b = append(b, "\" "...)
	if st := w.Status(); st >= 100 && st <= 999 {
		b = append(b, byte('0'+st/100), byte('0'+st/10%10), byte('0'+st%10), ' ')
	} else {
		b = strconv.AppendInt(b, int64(st), 10)
		b = append(b, ' ')
	}
	if n := w.Written(); n > 0 {
		b = strconv.AppendInt(b, n, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	referer, agent := refererAgent(r)
	b = appendEscaped(b, referer)
	b = append(b, "\" \""...)
	b = appendEscaped(b, agent)
	b = append(b, "\"\n"...)
	l.send(b)
}

// appendRemoteHost appends remoteHost(r), the peer's IP formatted
// without an allocation.
func (l *AccessLog) appendRemoteHost(b []byte, r *http1.Request) []byte {
	if l.opts.Forwarded == nil {
		if a, ok := r.RemoteAddr.(*net.TCPAddr); ok {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				return ip.Unmap().AppendTo(b)
			}
		}
	}
	return append(b, l.remoteHost(r)...)
}

// clfStamp is the last second appendCLFTime formatted.
var clfStamp atomic.Pointer[stamp]

type stamp struct {
	sec  int64
	loc  *time.Location
	text string
}

// appendCLFTime appends t as the Combined Log Format's time
// (02/Jan/2006:15:04:05 -0700), formatting each second once.
func appendCLFTime(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	if s := clfStamp.Load(); s != nil && s.sec == sec && s.loc == loc {
		return append(b, s.text...)
	}
	text := t.AppendFormat(nil, "02/Jan/2006:15:04:05 -0700")
	clfStamp.Store(&stamp{sec: sec, loc: loc, text: string(text)})
	return append(b, text...)
}

// remoteHost is %(h)s: the peer's IP, or the client's when a trusted proxy
// forwarded the request; "-" for a unix socket peer.
func (l *AccessLog) remoteHost(r *http1.Request) string {
	if f := l.opts.Forwarded; f != nil && f.Trusted.TrustsPeer(r.RemoteAddr) {
		if fo := f.Resolve(r.Header); fo.Addr != "" {
			return fo.Addr
		}
	}
	if a, ok := r.RemoteAddr.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return "-"
}

// jsonLine is the Combined Log Format's fields (and the request's parts and
// duration) as one JSON object.
func (l *AccessLog) jsonLine(r *http1.Request, proto string, w responseWriter, start time.Time) []byte {
	dur := time.Since(start)
	b := make([]byte, 0, 320)
	b = append(b, `{"time":"`...)
	b = start.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","remote_addr":`...)
	b = appendJSON(b, l.remoteHost(r))
	b = append(b, `,"user":`...)
	b = appendJSON(b, basicUser(r))
	b = append(b, `,"request":`...)
	b = appendJSON(b, r.Method+" "+r.Target+" "+proto)
	b = append(b, `,"method":`...)
	b = appendJSON(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendJSON(b, r.Path)
	b = append(b, `,"query":`...)
	b = appendJSON(b, r.RawQuery)
	b = append(b, `,"protocol":"`...)
	b = append(b, proto...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(w.Status()), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, w.Written(), 10)
	b = append(b, `,"referer":`...)
	b = appendJSON(b, headerOr(r, "Referer", ""))
	b = append(b, `,"user_agent":`...)
	b = appendJSON(b, headerOr(r, "User-Agent", ""))
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(dur.Microseconds())/1000, 'f', -1, 64)
	return append(b, "}\n"...)
}

// atomWriter appends one atom of a compiled format.
type atomWriter func(b []byte, e *entry) []byte

var pidText = "<" + strconv.Itoa(os.Getpid()) + ">"

// compileAtom turns one atom into its writer, with gunicorn's meanings
// (glogging.Logger.atoms). Unknown atoms print "-".
func compileAtom(a logging.Atom) atomWriter {
	if a.Key == "" {
		lit := a.Lit
		return func(b []byte, _ *entry) []byte { return append(b, lit...) }
	}
	str := func(get func(e *entry) string) atomWriter {
		return func(b []byte, e *entry) []byte {
			v := get(e)
			if v == "" {
				return append(b, '-')
			}
			return appendEscaped(b, v)
		}
	}
	num := func(get func(e *entry) int64) atomWriter {
		return func(b []byte, e *entry) []byte { return strconv.AppendInt(b, get(e), 10) }
	}
	switch a.Key {
	case "h":
		return func(b []byte, e *entry) []byte { return e.l.appendRemoteHost(b, e.r) }
	case "l":
		return func(b []byte, _ *entry) []byte { return append(b, '-') }
	case "u":
		return str(func(e *entry) string { return basicUser(e.r) })
	case "t":
		return func(b []byte, e *entry) []byte {
			b = append(b, '[')
			b = appendCLFTime(b, e.start)
			return append(b, ']')
		}
	case "r":
		return func(b []byte, e *entry) []byte {
			b = appendEscaped(b, e.r.Method)
			b = append(b, ' ')
			b = appendEscaped(b, e.r.Target)
			b = append(b, ' ')
			return append(b, e.proto...)
		}
	case "m":
		return str(func(e *entry) string { return e.r.Method })
	case "U":
		return func(b []byte, e *entry) []byte { return appendEscaped(b, pathInfo(e.r, e.l.opts.RootPath)) }
	case "q":
		return func(b []byte, e *entry) []byte { return appendEscaped(b, e.r.RawQuery) }
	case "H":
		return func(b []byte, e *entry) []byte { return append(b, e.proto...) }
	case "s":
		return num(func(e *entry) int64 { return int64(e.w.Status()) })
	case "B":
		return num(func(e *entry) int64 { return e.w.Written() })
	case "b":
		return func(b []byte, e *entry) []byte {
			if n := e.w.Written(); n > 0 {
				return strconv.AppendInt(b, n, 10)
			}
			return append(b, '-')
		}
	case "f":
		return str(func(e *entry) string { return headerOr(e.r, "Referer", "") })
	case "a":
		return str(func(e *entry) string { return headerOr(e.r, "User-Agent", "") })
	case "T":
		return num(func(e *entry) int64 { return int64(e.dur / time.Second) })
	case "D":
		return num(func(e *entry) int64 { return e.dur.Microseconds() })
	case "M":
		return num(func(e *entry) int64 { return e.dur.Milliseconds() })
	case "L":
		return func(b []byte, e *entry) []byte {
			us := e.dur.Microseconds()
			b = strconv.AppendInt(b, us/1e6, 10)
			b = append(b, '.')
			frac := strconv.FormatInt(us%1e6, 10)
			b = append(b, "000000"[len(frac):]...)
			return append(b, frac...)
		}
	case "p":
		return func(b []byte, _ *entry) []byte { return append(b, pidText...) }
	case "i":
		name := a.Name
		if strings.EqualFold(name, RequestIDHeader) {
			// The request's ID, which gowsgi may have made up and keeps
			// out of the header fields (see Observer), else the header.
			return str(func(e *entry) string {
				if e.r.ID != "" {
					return e.r.ID
				}
				return lastField(e.r.Header, name)
			})
		}
		return str(func(e *entry) string { return lastField(e.r.Header, name) })
	case "o":
		name := a.Name
		return str(func(e *entry) string { return lastField(e.resp, name) })
	case "e":
		name := strings.ToUpper(a.Name)
		return str(func(e *entry) string { return environValue(e, name) })
	}
	return func(b []byte, _ *entry) []byte { return append(b, '-') }
}

// lastField is the value of the last field named name: gunicorn builds a
// dict of the headers, so a repeated header shows its last value.
func lastField(fields []http1.Field, name string) string {
	v := ""
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			v = f.Value
		}
	}
	return v
}

// environValue is one CGI variable of the environ the app saw, for
// %({var}e)s (name upper-cased; wsgi.url_scheme as WSGI.URL_SCHEME).
func environValue(e *entry, name string) string {
	r := e.r
	switch name {
	case "REQUEST_METHOD":
		return r.Method
	case "SCRIPT_NAME":
		return scriptName(r, e.l.opts.RootPath)
	case "PATH_INFO":
		return pathInfo(r, e.l.opts.RootPath)
	case "QUERY_STRING":
		return r.RawQuery
	case "REQUEST_URI", "RAW_URI":
		return r.Target
	case "SERVER_PROTOCOL":
		return e.proto
	case "WSGI.URL_SCHEME":
		return e.origin().scheme
	case "REMOTE_ADDR":
		return e.origin().remoteAddr
	case "REMOTE_PORT":
		return e.origin().remotePort
	case "SERVER_NAME":
		n, _ := e.origin().serverNamePort(r)
		return n
	case "SERVER_PORT":
		_, p := e.origin().serverNamePort(r)
		return p
	case "CONTENT_TYPE":
		return lastField(r.Header, "Content-Type")
	case "CONTENT_LENGTH":
		return lastField(r.Header, "Content-Length")
	case "HTTP_HOST":
		return e.origin().host
	case "GOWSGI.REQUEST_ID":
		return r.ID
	}
	if h, ok := strings.CutPrefix(name, "HTTP_"); ok {
		for i, f := range r.Header {
			if len(f.Name) == len(h) && strings.IndexByte(f.Name, '_') < 0 && strings.EqualFold(strings.ReplaceAll(f.Name, "-", "_"), h) &&
				!hasField(r.Header[:i], f.Name) {
				return joinValues(f, r.Header[i+1:])
			}
		}
	}
	return ""
}

// pathInfo and scriptName split the decoded path at the root path, as
// appendEnviron does.
func pathInfo(r *http1.Request, root string) string {
	path := unquote(r.Path)
	if root != "" && strings.HasPrefix(path, root) && (len(path) == len(root) || path[len(root)] == '/') {
		return path[len(root):]
	}
	return path
}

func scriptName(r *http1.Request, root string) string { return root }

// basicUser is %(u)s: the user name of HTTP Basic authentication.
func basicUser(r *http1.Request) string {
	auth := lastField(r.Header, "Authorization")
	if len(auth) < 6 || !strings.EqualFold(auth[:5], "basic") {
		return ""
	}
	_, cred, ok := strings.Cut(auth, " ")
	if !ok {
		return ""
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return ""
	}
	user, _, ok := strings.Cut(string(dec), ":")
	if !ok {
		return ""
	}
	return user
}

// refererAgent is the Combined Log Format's last two fields, the first
// Referer and User-Agent ("-" for one not sent), found in one pass.
func refererAgent(r *http1.Request) (referer, agent string) {
	referer, agent = "-", "-"
	gotR, gotA := false, false
	for _, f := range r.Header {
		switch {
		case !gotR && isField(f.Name, "Referer"):
			referer, gotR = f.Value, true
		case !gotA && isField(f.Name, "User-Agent"):
			agent, gotA = f.Value, true
		}
	}
	return referer, agent
}

func headerOr(r *http1.Request, name, def string) string {
	for _, f := range r.Header {
		if isField(f.Name, name) {
			return f.Value
		}
	}
	return def
}

// appendEscaped keeps a client-controlled string on one line and inside its
// quotes: quotes, backslashes and non-printable bytes become \xNN.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	// The clean start (usually all of s) in one copy.
	i := 0
	for i < len(s) && !escapedByte[s[i]] {
		i++
	}
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if escapedByte[c] {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// escapedByte marks the bytes appendEscaped writes as \xNN.
var escapedByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\'
	}
	return t
}()

// appendJSON appends s as a JSON string. Bytes are taken as Latin-1, as
// WSGI takes header bytes, so any input gives valid JSON on one line.
func appendJSON(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
