package front

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/websocket"
	"github.com/gowsgi/gowsgi/internal/wire"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// WebSocketOptions turn WebSockets on: an upgrade request to an ASGI
// application becomes an ASGI websocket scope, the protocol terminated here
// (internal/websocket) and whole messages relayed to the worker slot that
// holds the connection. A WSGI application sees upgrade requests as plain
// HTTP, as before.
type WebSocketOptions struct {
	Handshake websocket.HandshakeOptions
	Conn      websocket.Options
	// DrainTimeout is how long a WebSocket on a worker that is being
	// replaced (reload, recycling, scale-down) may go on before it is
	// closed with 1012 (Service Restart): --graceful-timeout.
	DrainTimeout time.Duration

	mu       sync.Mutex
	open     map[*websocket.Conn]*wsEntry
	watching bool          // watchOpen runs
	draining bool          // CloseWebSockets was called
	idle     chan struct{} // closed when the last open one ends (WaitWebSockets)
}

// wsEntry is an open WebSocket: its exchange, and since when its worker
// has been retiring.
type wsEntry struct {
	x     *workers.Exchange
	since time.Time
}

// WebSocketObserver, when the Handler's Observer implements it, hears
// about WebSockets: gauges of open ones, counters of messages and bytes
// (websocket.Observer's Message), and each one's end.
type WebSocketObserver interface {
	websocket.Observer
	WebSocketOpened()
	WebSocketClosed(s websocket.Summary)
}

// isWebSocket reports whether r is a WebSocket upgrade this handler serves.
func (h *Handler) isWebSocket(r *http1.Request) bool {
	if h.WebSocket == nil {
		return false
	}
	_, ok := h.wsUp()
	return ok && websocket.IsUpgradeHTTP1(r)
}

// wsEngine is what differs between a WebSocket over HTTP/1.1 (an upgrade,
// answered with 101) and over HTTP/2 (an extended CONNECT stream, answered
// with 200).
type wsEngine interface {
	check(r *request, opts websocket.HandshakeOptions) (*websocket.Handshake, *websocket.HandshakeError)
	accept(hs *websocket.Handshake, subprotocol string, fields []http1.Field, defaults *http1.Defaults, opts websocket.Options) (*websocket.Conn, error)
	// detached reports whether an accepted connection outlives the
	// handler (a hijacked HTTP/1.1 connection: the handler returns, and
	// the WebSocket holds no goroutine while it is quiet), or must be
	// served within it (an HTTP/2 stream ends with its handler).
	detached() bool
}

// http1WS is an HTTP/1.1 upgrade on gowsgi's engine.
type http1WS struct{ w *http1.ResponseWriter }

func (e http1WS) check(r *request, o websocket.HandshakeOptions) (*websocket.Handshake, *websocket.HandshakeError) {
	return websocket.CheckHTTP1(websocket.FromHTTP1(r.Request), o)
}
func (e http1WS) accept(hs *websocket.Handshake, sub string, f []http1.Field, d *http1.Defaults, o websocket.Options) (*websocket.Conn, error) {
	return websocket.AcceptHTTP1(e.w, hs, sub, f, d, o)
}
func (e http1WS) detached() bool { return true }

// serveWebSocket serves a WebSocket handshake: a bad one is refused here;
// a good one goes to a worker as a websocket scope, and the success
// response (101, or HTTP/2's 200) goes out only when the application
// accepts.
func (h *Handler) serveWebSocket(w responseWriter, r *request, eng wsEngine) {
	start := time.Now()
	var ob Observation
	if h.Observer != nil {
		ob = h.Observer.Begin(r.Request)
	}
	lw := &wsLogWriter{responseWriter: w}
	// logged ends the request: the access log line, the observer's end,
	// and for an accepted WebSocket (sum) the line about its close.
	logged := func(r *request, sum *websocket.Summary) {
		if h.AccessLog != nil {
			h.AccessLog.Log(r, lw, start)
		}
		if h.Observer != nil {
			h.Observer.End(ob, r.Request, lw.Status())
		}
		if sum != nil {
			h.Log.Info("websocket closed", "request", requestLine(r), "request_id", h.requestID(r.Request),
				"code", sum.Code, "duration", sum.Duration.Round(time.Millisecond).String(),
				"messages_in", sum.MessagesIn, "messages_out", sum.MessagesOut, "bytes_in", sum.BytesIn, "bytes_out", sum.BytesOut)
		}
	}
	accepted := false // from the accept on, the WebSocket's end logs the request
	defer func() {
		if !accepted {
			logged(r, nil)
		}
	}()
	o := h.WebSocket
	hs, herr := eng.check(r, o.Handshake)
	if herr != nil {
		h.wsRefuse(w, r, herr)
		return
	}
	o.mu.Lock()
	draining := o.draining
	o.mu.Unlock()
	if draining {
		w.SetClose()
		h.plain(w, r, 503, "Service Unavailable", nil)
		return
	}

	bp := envBufs.Get().(*[]byte)
	var env wire.Environ
	env.Reset(*bp)
	h.appendEnviron(&env, r, 0)
	appendTLS(&env, r.TLS)
	env.Add("gowsgi.websocket", "1")
	req := workers.Request{Environ: &env, Method: r.Method, Target: r.Target, Proto: r.proto, ID: h.requestID(r.Request)}
	u, _ := h.wsUp() // isWebSocket or isExtendedConnect said it is one
	x, err := u.SendWebSocket(&req)
	if err != nil {
		w.SetClose()
		h.refused(w, r, err)
		return
	}
	var fields []http1.Field
	stopWatch := watchHandshake(r, x)
	ans, err := x.WebSocketAnswer(func(name, value string) {
		fields = append(fields, http1.Field{Name: name, Value: value})
	})
	// The exchange no longer needs the request frame (WebSocketAnswer):
	// its buffer goes back now, not when the connection ends.
	if buf := env.Buffer(); cap(buf) <= 64<<10 {
		*bp = buf[:0]
		envBufs.Put(bp)
	}
	if stopWatch() {
		// The client left while the app decided: it has been told, and
		// nobody is there to answer.
		w.SetClose()
		w.Abort()
		if err != nil || ans.Response != nil {
			x.Close()
		} else {
			go drainWS(x)
		}
		return
	}
	switch {
	case err != nil:
		w.SetClose()
		h.failed(w, r, err, false)
		x.Close()
		return
	case ans.Response != nil:
		h.wsDeny(w, r, x, ans.Response, fields)
		x.Close()
		return
	case ans.Closed:
		w.SetClose()
		h.plain(w, r, 403, "Forbidden", nil)
		go drainWS(x)
		return
	}
	fields = h.withRequestID(fields, r.Request)
	conn, err := eng.accept(hs, ans.Subprotocol, fields, &h.Defaults, h.wsOptions(x))
	if err != nil {
		h.Log.Error("cannot accept the WebSocket", "request", requestLine(r), "request_id", h.requestID(r.Request), "err", err)
		if errors.Is(err, websocket.ErrBadResponse) {
			// The app's subprotocol or fields; nothing went out yet. (Any
			// other error came after the engine let the connection go.)
			h.plain(w, r, 500, "Internal Server Error", nil)
		}
		x.WSDisconnect(websocket.CloseAbnormal, "")
		go drainWS(x)
		return
	}
	x.WSClientGone(conn.Dead()) // a message waiting for the app's credit is dropped with the client
	lw.status = 101
	if hs.HTTP2 {
		lw.status = 200
	}
	accepted = true
	if !eng.detached() {
		s := h.runWebSocket(conn, x, nil)
		lw.written = s.BytesOut
		logged(r, &s)
		return
	}
	// The connection outlives this handler, and so the request: what the
	// log needs of it is copied, and the engine's writer (reused by the
	// engine for its next connection) is no longer the log's.
	rd := detachRequest(r)
	lw.responseWriter = nil
	h.runWebSocket(conn, x, func(s websocket.Summary) {
		lw.written = s.BytesOut
		logged(rd, &s)
	})
}

// detachRequest copies what the log lines read of a request, for a
// WebSocket that outlives its handler: the engine reuses the request's
// header table for its next connection. (Its exported fields only: the
// connection's context and close watch are the engine's, done with.)
func detachRequest(r *request) *request {
	q := r.Request
	hr := &http1.Request{
		Method: q.Method, Target: q.Target, Path: q.Path, RawQuery: q.RawQuery, ProtoMinor: q.ProtoMinor,
		Header: slices.Clone(q.Header), Host: q.Host, ContentLength: q.ContentLength, Chunked: q.Chunked,
		RemoteAddr: q.RemoteAddr, LocalAddr: q.LocalAddr, TLS: q.TLS, Close: q.Close, ID: q.ID, ConnState: q.ConnState,
	}
	return &request{Request: hr, proto: r.proto, ctx: context.Background()}
}

// watchHandshake tells the application websocket.disconnect (1006) if the
// client goes away (its FIN or a reset) while the app has not yet answered
// the handshake: without it, a client that gives up waiting leaves the app
// holding a slot, and the front the connection, for as long as the app
// waits, and a handshake flood would fill every slot for good. The
// function it returns stops the watch and reports whether the client went.
func watchHandshake(r *request, x *workers.Exchange) (stop func() bool) {
	quit, done := make(chan struct{}), make(chan bool, 1)
	go func() {
		select {
		case <-r.Request.Finished():
		case <-r.ctx.Done():
		case <-quit:
			done <- false
			return
		}
		x.WSDisconnect(websocket.CloseAbnormal, "")
		done <- true
	}()
	return func() bool {
		close(quit)
		return <-done
	}
}

// wsRefuse answers a handshake refused before any worker sees it: the
// status, the fields it needs (426's Sec-WebSocket-Version) and the reason.
func (h *Handler) wsRefuse(w responseWriter, r *request, e *websocket.HandshakeError) {
	fields, body := e.Response()
	w.SetClose()
	w.WriteHeader(e.Status, http.StatusText(e.Status), h.withRequestID(fields, r.Request))
	w.Write(body)
	w.Finish()
}

// wsOptions are the connection options, with the observer's hook and the
// relay of client messages to the worker (x, once accepted).
func (h *Handler) wsOptions(x *workers.Exchange) websocket.Options {
	opts := h.WebSocket.Conn
	if wo, ok := h.Observer.(WebSocketObserver); ok {
		opts.Observer = wo
	}
	opts.Deliver = func(m websocket.Message) error {
		t := wire.WSBinary
		if m.Text {
			t = wire.WSText
		}
		return x.WSSend(t, m.Data) // waits while the worker does not read
	}
	return opts
}

// runWebSocket relays an accepted WebSocket until it closes: client
// messages go to the worker (websocket.receive), the application's frames
// to the client. Backpressure holds both ways: WSSend waits for a worker
// that does not read, and Conn.Send for a client that does not. With done
// nil it serves the connection in this goroutine and returns its summary
// when it ends; else it returns at once, and done gets the summary.
// Either way a quiet WebSocket holds no goroutine on the application's
// side (relayApp), and, when started (done), none on the client's
// (websocket's park.go).
func (h *Handler) runWebSocket(conn *websocket.Conn, x *workers.Exchange, done func(websocket.Summary)) websocket.Summary {
	o := h.WebSocket
	o.mu.Lock()
	if o.open == nil {
		o.open = map[*websocket.Conn]*wsEntry{}
	}
	o.open[conn] = &wsEntry{x: x}
	if !o.watching {
		o.watching = true
		go h.watchOpen()
	}
	o.mu.Unlock()
	wo, _ := h.Observer.(WebSocketObserver)
	if wo != nil {
		wo.WebSocketOpened()
	}
	// The application's side: messages and its close, until it returns.
	// (The other way is deliver's, in conn's reader.)
	r := &appRelay{h: h, conn: conn, x: x}
	r.wake = func() { go r.run() }
	go r.run()
	// The client's side: each message goes to the worker from the
	// connection's reader (Options.Deliver, set in wsOptions), then the
	// disconnect with the close code.
	ended := func(s websocket.Summary) {
		x.WSDisconnect(s.Code, s.Reason)
		if wo != nil {
			wo.WebSocketClosed(s)
		}
		o.mu.Lock()
		delete(o.open, conn)
		if len(o.open) == 0 && o.idle != nil {
			close(o.idle)
			o.idle = nil
		}
		o.mu.Unlock()
	}
	if done == nil {
		s := conn.Run()
		ended(s)
		return s
	}
	conn.Start(func(s websocket.Summary) {
		ended(s)
		done(s)
	})
	return websocket.Summary{}
}

// appRelay writes the application's frames to the client. It runs while
// the worker has sent frames, then parks on the slot (WSPark) until the
// next ones arrive: a quiet WebSocket costs no goroutine here.
type appRelay struct {
	h    *Handler
	conn *websocket.Conn
	x    *workers.Exchange
	wake func()
}

func (r *appRelay) run() {
	ctx := context.Background()
	conn, x := r.conn, r.x
	for {
		if x.WSPark(r.wake) {
			return
		}
		t, p, err := x.WSRead()
		if err != nil {
			code := websocket.CloseNormal // an app that returns closes the connection
			if err != io.EOF {
				code = websocket.CloseInternalError
			}
			conn.Close(ctx, code, "")
			x.Close()
			return
		}
		switch t {
		case wire.WSText, wire.WSBinary:
			// Written before the next WSRead, which reuses p; after
			// the close: dropped.
			conn.Send(ctx, websocket.Message{Text: t == wire.WSText, Data: p})
		case wire.WSClose:
			code, reason := websocket.CloseNormal, ""
			if len(p) >= 2 {
				code, reason = int(binary.LittleEndian.Uint16(p)), string(p[2:])
			}
			if len(reason) > websocket.MaxCloseReason {
				r.h.Log.Warn("the application's WebSocket close reason is longer than a close frame holds; sending its first 123 bytes", "code", code, "reason", reason)
				reason = websocket.ClipReason(reason)
			}
			if err := conn.Close(ctx, code, reason); err != nil && err != websocket.ErrClosed {
				r.h.Log.Warn("the application closed its WebSocket with an invalid code or reason; closing with 1000", "code", code, "reason", reason)
				conn.Close(ctx, websocket.CloseNormal, "")
			}
		}
	}
}

// drainWS reads what the application still sends on a WebSocket the
// front has given up (denied, or failed to accept), until it returns.
func drainWS(x *workers.Exchange) {
	defer x.Close()
	for {
		if _, _, err := x.WSRead(); err != nil {
			return
		}
	}
}

// wsDeny relays the application's own HTTP response to a WebSocket
// handshake (the websocket.http.response extension).
func (h *Handler) wsDeny(w responseWriter, r *request, x *workers.Exchange, resp *workers.Response, fields []http1.Field) {
	w.SetClose()
	fields = slices.DeleteFunc(fields, func(f http1.Field) bool { return isHopByHop(f.Name) }) // see isHopByHop
	code, reason, err := parseStatus(resp.Status)
	if err == nil {
		for _, f := range fields {
			if err = checkField(f); err != nil {
				break
			}
		}
	}
	if err != nil || resp.File != nil {
		if resp.File != nil {
			resp.File.Close()
		}
		h.Log.Error("invalid denial response from the application; answering 500", "request", requestLine(r), "request_id", h.requestID(r.Request), "reason", err)
		h.plain(w, r, 500, "Internal Server Error", nil)
		return
	}
	w.WriteHeader(code, reason, h.withRequestID(fields, r.Request))
	w.Write(resp.Body)
	if !resp.Complete {
		for {
			data, _, err := x.Next()
			if err != nil {
				break
			}
			if _, err := w.Write(data); err != nil {
				return
			}
		}
	}
	w.Finish()
}

// wsLogWriter is the access log's view of a WebSocket: status 101 (200
// over HTTP/2) and the bytes sent to the client once accepted.
type wsLogWriter struct {
	responseWriter
	status  int
	written int64
}

func (l *wsLogWriter) Status() int {
	if l.status != 0 {
		return l.status
	}
	return l.responseWriter.Status()
}

func (l *wsLogWriter) Written() int64 {
	if l.status != 0 {
		return l.written
	}
	return l.responseWriter.Written()
}

// retireCheck is how often open WebSockets are checked for a retiring
// worker, and quiet ones give back their slot buffers.
const retireCheck = 250 * time.Millisecond

// watchOpen runs while WebSockets are open. It closes, with 1012 (Service
// Restart), those whose worker has been retiring for DrainTimeout: a
// reload, recycling or scale-down waits for requests in flight, and a
// WebSocket would hold the old worker for ever (the application gets
// websocket.disconnect with 1012). And a quiet WebSocket's slot gives its
// read buffers back (workers.Exchange.WSShed): 1,000 quiet WebSockets
// hold none.
func (h *Handler) watchOpen() {
	o := h.WebSocket
	t := time.NewTicker(retireCheck)
	defer t.Stop()
	for range t.C {
		now := time.Now()
		var due []*websocket.Conn
		o.mu.Lock()
		if len(o.open) == 0 {
			o.watching = false
			o.mu.Unlock()
			return
		}
		for c, e := range o.open {
			e.x.WSShed()
			if !e.x.Retiring() {
				continue
			}
			if e.since.IsZero() {
				e.since = now
			}
			if now.Sub(e.since) >= o.DrainTimeout {
				due = append(due, c)
			}
		}
		o.mu.Unlock()
		for _, c := range due {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				c.Close(ctx, websocket.CloseServiceRestart, "worker restarting")
			}()
		}
	}
}

// CloseWebSockets is the graceful stop for WebSockets: new ones are
// refused with 503 from now on, and the open ones are closed with code
// (1001 Going Away on shutdown, 1012 Service Restart) once ctx is done, or
// at once with a nil ctx.Done. Each application gets websocket.disconnect
// with the code. It returns once every one has been told.
func (h *Handler) CloseWebSockets(ctx context.Context, code int, reason string) {
	o := h.WebSocket
	if o == nil {
		return
	}
	o.mu.Lock()
	o.draining = true
	o.mu.Unlock()
	<-ctx.Done()
	o.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(o.open))
	for c := range o.open {
		conns = append(conns, c)
	}
	o.mu.Unlock()
	// Each close frame is written by its own goroutine (Conn.Close writes
	// it), all within the second: a client that reads nothing holds up
	// only its own.
	cctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Close(cctx, code, reason) })
	}
	wg.Wait()
}

// WaitWebSockets waits until every open WebSocket has ended (their close
// handshakes, after CloseWebSockets), or ctx is done; then it drops the
// ones left, without a close handshake, and waits for them to end. It
// reports whether they had all ended in time. A WebSocket over HTTP/1.1
// outlives its handler, so the engine's Shutdown does not wait for it:
// this does.
func (h *Handler) WaitWebSockets(ctx context.Context) bool {
	o := h.WebSocket
	if o == nil {
		return true
	}
	if h.waitOpen(ctx.Done()) {
		return true
	}
	h.AbortWebSockets()
	h.waitOpen(nil)
	return false
}

// waitOpen waits until no WebSocket is open, or stop closes (reported
// false).
func (h *Handler) waitOpen(stop <-chan struct{}) bool {
	o := h.WebSocket
	o.mu.Lock()
	if len(o.open) == 0 {
		o.mu.Unlock()
		return true
	}
	if o.idle == nil {
		o.idle = make(chan struct{})
	}
	idle := o.idle
	o.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-stop:
		return false
	}
}

// AbortWebSockets drops every open WebSocket at once, without a close
// handshake (the hard stop); each application gets websocket.disconnect
// (1006).
func (h *Handler) AbortWebSockets() {
	o := h.WebSocket
	if o == nil {
		return
	}
	o.mu.Lock()
	o.draining = true
	for c := range o.open {
		c.Abort()
	}
	o.mu.Unlock()
}
