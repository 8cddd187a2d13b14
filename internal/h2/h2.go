// Package h2 sorts the connections of a listener between gowsgi's HTTP/1.x
// engine and Go's HTTP/2 server (golang.org/x/net/http2), and does the TLS
// handshake for both.
//
// A Mux wraps each listener. Its own goroutine accepts; every connection
// is then looked at on a goroutine of its own, so a slow client never
// holds up the others:
//
//   - over TLS, the handshake (bounded by Config.HeaderTimeout) picks the
//     protocol by ALPN: "h2" goes to the HTTP/2 server, "http/1.1" (or no
//     ALPN) comes out of the wrapped listener's Accept for the HTTP/1.x
//     engine;
//   - over cleartext, HTTP/2 (h2c) is offered only to trusted peers
//     (gunicorn's forwarded-allow-ips), as gunicorn 26's http2_cleartext
//     does: "prior-knowledge" serves a connection that opens with the
//     HTTP/2 preface, "upgrade" honours an HTTP/1.1 "Upgrade: h2c" first
//     request (RFC 7540 §3.2), "both" either. A trusted peer on a
//     prior-knowledge-only listener that sends an HTTP/1.x request, or
//     stalls before a full preface, gets a 400: it is expected to speak
//     HTTP/2 (gunicorn's rule); other bytes are an invalid preface and the
//     connection is closed (RFC 9113 §3.4).
//     Everyone else is served HTTP/1.x untouched.
package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/poller"
)

// Cleartext modes (gunicorn's http2_cleartext values).
const (
	CleartextOff            = "off"
	CleartextPriorKnowledge = "prior-knowledge"
	CleartextUpgrade        = "upgrade"
	CleartextBoth           = "both"
)

// Config says what a Mux serves.
type Config struct {
	// TLS, when set, makes every connection TLS; its NextProtos should
	// list "h2" and/or "http/1.1" as HTTP1 and HTTP2 say.
	TLS *tls.Config
	// HTTP1 and HTTP2 are the protocols offered (gunicorn's
	// http_protocols). Without TLS, HTTP2 takes effect only through
	// Cleartext.
	HTTP1, HTTP2 bool
	// Cleartext is the h2c mode for connections without TLS.
	Cleartext string
	// Trusted reports whether a peer may use h2c.
	Trusted func(net.Addr) bool
	// HeaderTimeout bounds the TLS handshake, an h2c preface and an h2c
	// upgrade request's head.
	HeaderTimeout time.Duration
	// MaxHeadBytes bounds the head of an h2c upgrade request (request line
	// and header section), and MaxHeaderBytes an HTTP/2 header list
	// (SETTINGS_MAX_HEADER_LIST_SIZE).
	MaxHeadBytes   int
	MaxHeaderBytes int
	// MaxUpgradeBody bounds the body of an h2c upgrade request, which must
	// be read whole before the switch; a larger one (or a chunked one) is
	// served as HTTP/1.1, without the upgrade.
	MaxUpgradeBody int64
	// UpgradeBudget bounds the request-body bytes held in memory by all
	// requests together (the front's, --body-memory-total): an upgrade
	// request's body is taken from it while it is held, and one that does
	// not fit is served as HTTP/1.1, without the upgrade, where the front
	// spools it. nil: no bound beyond MaxUpgradeBody per connection.
	UpgradeBudget Budget
	// Server holds the HTTP/2 settings (streams per connection, windows,
	// frame size).
	Server *http2.Server
	// MaxStreamsTotal bounds the streams being served over all
	// connections together, not counting each connection's first stream
	// in flight (streamLimit); a stream over it gets 503 at once. 0: none.
	MaxStreamsTotal int
	// Handler serves every HTTP/2 request.
	Handler http.Handler
	Log     *slog.Logger
	// Defaults are the server's own fields on the responses the Mux
	// writes itself (a stream over MaxStreamsTotal); the Handler applies
	// them to its own (SetDefaults).
	Defaults http1.Defaults
}

// Budget is a bound on bytes held together by many requests
// (workers.Budget).
type Budget interface {
	TryAcquire(n int64) bool
	Release(n int64)
}

// Mux serves HTTP/2 connections itself and passes HTTP/1.x ones on.
type Mux struct {
	cfg  Config
	base *http.Server // HTTP/2 limits it reads from an http.Server; graceful shutdown
	// limit bounds the streams over all connections (MaxStreamsTotal;
	// nil: none); each connection's streams go through limit.conn().
	limit *streamLimit

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // HTTP/2 connections being served
	serving sync.WaitGroup
	closing bool // Shutdown began: no new connection is served (guarded by mu)
}

// connWindow is the connection's flow-control window for a Server that
// sets none: room for the windows of all the streams it lets open at once,
// up to maxConnWindow. x/net/http2 gives a connection's window back only as
// handlers read their bodies, so a stream whose handler reads nothing for
// a while (a WebSocket whose application does not receive, an upload to a
// busy worker) holds its stream's window of it; with x/net's 1 MiB, 16
// such streams of 64 KiB would stall every other stream on the connection
// (a browser sends all of an origin's requests and WebSockets on one).
// What a connection buffers stays bounded by its streams' windows.
func connWindow(s *http2.Server) int32 {
	streams := int64(s.MaxConcurrentStreams)
	if streams == 0 {
		streams = 250 // x/net/http2's default
	}
	perStream := int64(s.MaxUploadBufferPerStream)
	if perStream <= 0 {
		perStream = 1 << 20 // x/net/http2's default
	}
	return int32(min(max(streams*perStream, 1<<20), maxConnWindow))
}

// maxConnWindow bounds connWindow: with large stream windows, a
// connection's unread bodies are held to 16 MiB (streams that sit on more
// stall the connection, as with x/net's default).
const maxConnWindow = 16 << 20

// New makes a Mux; cfg.Server must not be used by another Mux.
func New(cfg Config) *Mux {
	if cfg.Server == nil {
		cfg.Server = &http2.Server{}
	}
	if cfg.Server.MaxUploadBufferPerConnection == 0 {
		cfg.Server.MaxUploadBufferPerConnection = connWindow(cfg.Server)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 10 * time.Second
	}
	if cfg.MaxHeadBytes <= 0 {
		cfg.MaxHeadBytes = 72 << 10
	}
	if cfg.MaxUpgradeBody <= 0 {
		cfg.MaxUpgradeBody = 16 << 20
	}
	m := &Mux{cfg: cfg, conns: map[net.Conn]struct{}{}}
	if cfg.MaxStreamsTotal > 0 {
		m.limit = &streamLimit{h: cfg.Handler, max: int64(cfg.MaxStreamsTotal), log: cfg.Log, defaults: &m.cfg.Defaults}
	}
	m.base = &http.Server{
		Handler: m.cfg.Handler,
		// The HTTP/2 server advertises this plus 320 (32 bytes of overhead
		// per field, for ten fields) as SETTINGS_MAX_HEADER_LIST_SIZE.
		MaxHeaderBytes: max(cfg.MaxHeaderBytes-320, 1),
		// Connection-level HTTP/2 errors are the client's; keep them out
		// of the error log unless debugging.
		ErrorLog: slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	http2.ConfigureServer(m.base, cfg.Server)
	return m
}

// Listener wraps l: HTTP/2 connections are served by m, and the HTTP/1.x
// ones (TLS handshake done) come out of the returned listener's Accept.
func (m *Mux) Listener(l net.Listener) net.Listener {
	ml := &listener{Listener: l, m: m, conns: make(chan net.Conn), done: make(chan struct{})}
	go ml.acceptLoop()
	return ml
}

// PlainListener wraps l as Listener does, without TLS: its connections
// are served as cleartext ones (h2c as Config.Cleartext says), next to
// the TLS listeners (hypercorn's --insecure-bind).
func (m *Mux) PlainListener(l net.Listener) net.Listener {
	ml := &listener{Listener: l, plain: true, m: m, conns: make(chan net.Conn), done: make(chan struct{})}
	go ml.acceptLoop()
	return ml
}

type listener struct {
	net.Listener
	plain bool // no TLS on this one (PlainListener)
	m     *Mux
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	err   error
}

// ServesTLS reports whether the listener's connections get TLS: the Mux
// has a TLS config and the listener is not a PlainListener.
func (l *listener) ServesTLS() bool { return l.m.cfg.TLS != nil && !l.plain }

func (l *listener) acceptLoop() {
	backoff := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.close(net.ErrClosed)
				return
			}
			// EMFILE and the like: wait a little, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.m.cfg.Log.Error("accept failed; retrying", "addr", l.Addr().String(), "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-l.done:
				return
			}
			continue
		}
		backoff = 0
		go l.m.handle(c, l)
	}
}

func (l *listener) close(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
	})
}

// Accept returns the next HTTP/1.x connection.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

func (l *listener) Close() error {
	l.close(net.ErrClosed)
	return l.Listener.Close()
}

// pass hands c to the HTTP/1.x engine.
func (l *listener) pass(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// handle decides what c speaks.
func (m *Mux) handle(c net.Conn, l *listener) {
	deadline := time.Now().Add(m.cfg.HeaderTimeout)
	if m.cfg.TLS != nil && !l.plain {
		tc := tls.Server(c, m.cfg.TLS)
		tc.SetDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			m.cfg.Log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
			var re tls.RecordHeaderError
			if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
				// Plain HTTP on a TLS port: say so, as net/http does.
				re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
				re.Conn.Write(m.cfg.Defaults.ErrorResponse(http.StatusBadRequest, "Client sent an HTTP request to an HTTPS server.\n", time.Now()))
			}
			c.Close()
			return
		}
		tc.SetDeadline(time.Time{})
		switch tc.ConnectionState().NegotiatedProtocol {
		case http2.NextProtoTLS:
			m.serveH2(tc, &http2.ServeConnOpts{}, nil)
		default:
			if !m.cfg.HTTP1 {
				tc.Close() // HTTP/2 only, and the client did not choose it
				return
			}
			l.pass(tc)
		}
		return
	}
	mode := m.cfg.Cleartext
	if !m.cfg.HTTP2 || mode == "" || mode == CleartextOff || m.cfg.Trusted == nil || !m.cfg.Trusted(c.RemoteAddr()) {
		l.pass(c)
		return
	}
	// The first bytes are read ahead into a buffer that grows with what
	// the client sent (up to the head limit), and is let go once the
	// engine has read them again: an idle or slow trusted connection
	// holds what it sent, not the largest head it may send.
	pk := &peeker{c: c, limit: m.cfg.MaxHeadBytes + len(http2.ClientPreface)}
	c.SetReadDeadline(deadline)
	prior := mode == CleartextPriorKnowledge || mode == CleartextBoth
	upgrade := mode == CleartextUpgrade || mode == CleartextBoth
	isPreface, err := peekPreface(pk)
	switch {
	case isPreface && prior:
		c.SetReadDeadline(time.Time{})
		m.serveH2(pk.conn(), &http2.ServeConnOpts{}, nil)
		return
	case !upgrade:
		// A trusted peer on a prior-knowledge port must speak HTTP/2. An
		// HTTP/1.x request, or a preface that stalls, gets a 400 (as in
		// gunicorn) that says so; other bytes are an invalid preface, a
		// connection error (RFC 9113 §3.4): the connection is closed.
		if err != nil || isHTTP1(pk, m.cfg.MaxHeadBytes) {
			m.cfg.Log.Debug("h2c: trusted peer sent no HTTP/2 preface; answering 400", "remote", c.RemoteAddr().String(), "err", err)
			m.writeStatus(c, http.StatusBadRequest)
		}
		c.Close()
		return
	case err != nil:
		c.Close()
		return
	}
	head, err := peekHead(pk, m.cfg.MaxHeadBytes)
	if err != nil && len(pk.buf) == 0 {
		c.Close()
		return
	}
	if req, settings, ok := upgradeRequest(head, m.cfg.MaxUpgradeBody); ok && m.takeBody(req.ContentLength) {
		m.upgrade(c, req, settings, pk.buf[len(head):])
		return
	}
	c.SetReadDeadline(time.Time{})
	l.pass(pk.conn())
}

// upgrade switches c to HTTP/2 after its HTTP/1.1 request req (its head
// already parsed by upgradeRequest), which becomes stream 1 (RFC 7540
// §3.2); ahead holds the bytes read after the head, and req.ContentLength
// bytes of UpgradeBudget were taken for its body.
func (m *Mux) upgrade(c net.Conn, req *http.Request, settings []byte, ahead []byte) {
	n := req.ContentLength
	release := sync.OnceFunc(func() {
		if n > 0 {
			m.cfg.UpgradeBudget.Release(n)
		}
	})
	defer release() // the connection ended before the handler read the body
	// The body (its length is known and within MaxUpgradeBody: upgradeRequest
	// refused the rest) is what follows the head: the bytes read ahead, then c.
	rest := bytes.NewReader(ahead)
	body := make([]byte, n)
	if _, err := io.ReadFull(io.MultiReader(rest, c), body); err != nil {
		m.writeStatus(c, http.StatusBadRequest)
		c.Close()
		return
	}
	req.Body = &heldBody{r: bytes.NewReader(body), release: release}
	req.RemoteAddr = c.RemoteAddr().String()
	// Go's server runs the handler with this request's own context, not a
	// stream's: it ends with the connection, or with stream 1 (firstStream),
	// so that stream 1's handler sees its client go, as every other
	// stream's does (an ASGI app gets http.disconnect). It carries the
	// local address, as theirs do.
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), http.LocalAddrContextKey, c.LocalAddr()))
	defer cancel()
	req = req.WithContext(ctx)
	if _, err := io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	// What followed the body in the bytes read ahead (the client preface,
	// frames) is read again first; it is copied so that the peek buffer
	// goes.
	var again []byte
	if rest.Len() > 0 {
		again = bytes.Clone(ahead[len(ahead)-rest.Len():])
	}
	m.serveH2(&bufConn{Conn: c, ahead: again}, &http2.ServeConnOpts{UpgradeRequest: req, Settings: settings}, &firstStream{req: req, cancel: cancel})
}

// takeBody takes n bytes of UpgradeBudget for an upgrade request's body.
func (m *Mux) takeBody(n int64) bool {
	return n == 0 || m.cfg.UpgradeBudget == nil || m.cfg.UpgradeBudget.TryAcquire(n)
}

// heldBody is an upgrade request's body, read whole before the switch:
// its bytes go back to UpgradeBudget once the handler has read them all
// (the front copies them under its own budget) or closed it.
type heldBody struct {
	r       *bytes.Reader
	release func()
}

func (b *heldBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.r.Len() == 0 {
		b.r = emptyBody // the bytes go with the budget they held
		b.release()
	}
	return n, err
}

var emptyBody = bytes.NewReader(nil)

func (b *heldBody) Close() error {
	b.release()
	return nil
}

// firstStream is the request an h2c upgrade brought (stream 1) and what
// ends its context.
type firstStream struct {
	req    *http.Request
	cancel context.CancelFunc
}

// wrap cancels the first stream's context when the stream closes (a
// client's RST_STREAM), which Go's server tells only through CloseNotify
// for this request.
func (f *firstStream) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cn, ok := w.(http.CloseNotifier); ok && r == f.req {
			done := make(chan struct{})
			defer close(done)
			closed := cn.CloseNotify()
			go func() {
				select {
				case <-closed:
					f.cancel()
				case <-done:
				}
			}()
		}
		h.ServeHTTP(w, r)
	})
}

// serveH2 serves one HTTP/2 connection until it ends; first is the
// request of an h2c upgrade (nil: none).
func (m *Mux) serveH2(c net.Conn, opts *http2.ServeConnOpts, first *firstStream) {
	m.mu.Lock()
	if m.closing {
		// Shutdown is waiting: an Add now would race its Wait.
		m.mu.Unlock()
		c.Close()
		return
	}
	m.conns[c] = struct{}{}
	m.serving.Add(1)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.conns, c)
		m.mu.Unlock()
		m.serving.Done()
	}()
	opts.BaseConfig = m.base
	var h http.Handler = m.cfg.Handler
	if m.limit != nil {
		h = m.limit.conn()
	}
	opts.Handler = &resetGuard{h: h}
	if first != nil {
		opts.Handler = first.wrap(opts.Handler)
	}
	if tc, ok := c.(*tls.Conn); ok {
		st := tc.ConnectionState()
		opts.Context = context.WithValue(context.Background(), connTLSKey{}, &st)
	}
	maxFrame := int(m.cfg.Server.MaxReadFrameSize)
	if maxFrame <= 0 {
		maxFrame = 1 << 20 // x/net/http2's default
	}
	m.cfg.Server.ServeConn(newFilterConn(c, m.base.MaxHeaderBytes+320, maxFrame), opts)
}

// connTLSKey keys a TLS connection's state in its requests' contexts.
type connTLSKey struct{}

// ConnTLS returns the TLS state of the connection an HTTP/2 request came
// on (ctx is the request's context), or nil over cleartext. Go's server
// sets http.Request.TLS only when the client sends :scheme https; this
// does not depend on what the client claims.
func ConnTLS(ctx context.Context) *tls.ConnectionState {
	st, _ := ctx.Value(connTLSKey{}).(*tls.ConnectionState)
	return st
}

// Shutdown sends GOAWAY on every HTTP/2 connection and waits for their
// streams to finish, until ctx ends; then it closes what is left. (Closing
// the wrapped listeners is the HTTP/1.x server's Shutdown.)
func (m *Mux) Shutdown(ctx context.Context) error {
	m.base.Shutdown(ctx) // runs the GOAWAY hook; it has no listener of its own
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		m.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		m.Close()
		return ctx.Err()
	}
}

// Close closes every HTTP/2 connection at once.
func (m *Mux) Close() {
	m.mu.Lock()
	for c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()
}

// peeker reads the first bytes of a connection ahead, to decide what it
// speaks, into a buffer that grows as they come (doubling from 512
// bytes), up to limit.
type peeker struct {
	c     net.Conn
	limit int
	buf   []byte
	err   error
}

// more reads at least one more byte into buf; an error when buf holds
// limit bytes already, or the connection failed.
func (p *peeker) more() error {
	if p.err != nil {
		return p.err
	}
	if len(p.buf) >= p.limit {
		return errors.New("request head too large")
	}
	if len(p.buf) == cap(p.buf) {
		nb := make([]byte, len(p.buf), min(max(2*cap(p.buf), 512), p.limit))
		copy(nb, p.buf)
		p.buf = nb
	}
	for {
		n, err := p.c.Read(p.buf[len(p.buf):cap(p.buf)])
		p.buf = p.buf[:len(p.buf)+n]
		if err != nil {
			p.err = err
		}
		if n > 0 || err != nil {
			return err
		}
	}
}

// peek returns the first n bytes, reading until there are that many.
func (p *peeker) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		if err := p.more(); err != nil && len(p.buf) < n {
			return p.buf, err
		}
	}
	return p.buf[:n], nil
}

// conn is the connection, with the bytes read ahead to be read again.
func (p *peeker) conn() net.Conn { return &bufConn{Conn: p.c, ahead: p.buf} }

// peekPreface reports whether p starts with the HTTP/2 client preface,
// deciding at the first byte that differs (an HTTP/1.x request shorter than
// the preface is not waited on).
func peekPreface(p *peeker) (bool, error) {
	pre := http2.ClientPreface
	for i := 1; i <= len(pre); i++ {
		b, err := p.peek(i)
		if err != nil {
			return false, err
		}
		if b[i-1] != pre[i-1] {
			return false, nil
		}
	}
	return true, nil
}

// peekHead returns the head of the HTTP/1.x request at the start of p
// (through the blank line); nil when it is larger than limit.
func peekHead(p *peeker, limit int) ([]byte, error) {
	for {
		if i := bytes.Index(p.buf, []byte("\r\n\r\n")); i >= 0 {
			return p.buf[:i+4], nil
		}
		if len(p.buf) >= limit {
			return nil, errors.New("request head too large")
		}
		if err := p.more(); err != nil && !bytes.Contains(p.buf, []byte("\r\n\r\n")) {
			return nil, err
		}
	}
}

// looksLikeHTTP reports whether a TLS record header is the start of an
// HTTP/1.x request instead.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE", "TRACE":
		return true
	}
	return false
}

// isHTTP1 reports whether p starts with an HTTP/1.x request line.
func isHTTP1(p *peeker, limit int) bool {
	for {
		if i := bytes.IndexByte(p.buf, '\n'); i >= 0 {
			line := bytes.TrimSuffix(p.buf[:i], []byte("\r"))
			return len(line) > 9 && bytes.HasPrefix(line[len(line)-9:], []byte(" HTTP/1.")) && isDigit(line[len(line)-1])
		}
		if len(p.buf) >= limit || p.more() != nil && bytes.IndexByte(p.buf, '\n') < 0 {
			return false
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// upgradeRequest parses head and reports whether it asks for h2c and may
// have it; it returns the request (its Body is not read yet) and the
// decoded HTTP2-Settings. A request whose body must be read whole before
// the switch and is larger than maxBody (or of unknown length) is served
// as HTTP/1.1 instead: a server may ignore Upgrade.
func upgradeRequest(head []byte, maxBody int64) (*http.Request, []byte, bool) {
	if head == nil {
		return nil, nil, false
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil || !req.ProtoAtLeast(1, 1) || req.ContentLength < 0 || req.ContentLength > maxBody {
		return nil, nil, false
	}
	if !hasToken(req.Header["Upgrade"], "h2c") || !hasToken(req.Header["Connection"], "upgrade") || !hasToken(req.Header["Connection"], "http2-settings") {
		return nil, nil, false
	}
	vs := req.Header["Http2-Settings"]
	if len(vs) != 1 {
		return nil, nil, false
	}
	settings, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(vs[0], "="))
	if err != nil {
		return nil, nil, false
	}
	return req, settings, true
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// writeStatus answers an HTTP/1.x request on c with status, as the
// HTTP/1.1 engine answers its own errors; the caller closes c.
func (m *Mux) writeStatus(c net.Conn, status int) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(m.cfg.Defaults.ErrorResponse(status, "", time.Now()))
}

// bufConn is a connection whose first bytes were read ahead: they are
// read again from ahead, which is let go once read (an idle connection
// holds no buffer of the Mux's).
type bufConn struct {
	net.Conn
	ahead []byte
}

func (c *bufConn) Read(p []byte) (int, error) {
	if len(c.ahead) > 0 {
		n := copy(p, c.ahead)
		c.ahead = c.ahead[n:]
		if len(c.ahead) == 0 {
			c.ahead = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom keeps sendfile(2) for the HTTP/1.x engine's file responses.
func (c *bufConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// AheadDrained reports whether the bytes read ahead have all been read
// again: reads go to the connection itself (poller.AheadReader; the
// engine then parks the connection when idle).
func (c *bufConn) AheadDrained() bool { return len(c.ahead) == 0 }

// NetConn is the connection under the bytes read ahead (the HTTP/1.x
// engine watches its descriptor for a client that goes away).
func (c *bufConn) NetConn() net.Conn { return c.Conn }

var _ poller.AheadReader = (*bufConn)(nil)
