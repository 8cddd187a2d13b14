// Package front is the HTTP side of gowsgi: a plain HTTP ↔ WSGI adapter.
// It turns each request into a WSGI environ and a body, sends them
// upstream (the worker pool, through the Upstream interface) as an
// exchange, and writes the response the exchange returns to the client.
// It knows HTTP; frames, deadlines and supervision are the pool's. Each
// request carries its client's context, so a client that goes away
// cancels its request wherever it is.
package front

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/gowsgi/gowsgi/internal/compress"
	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/proxy"
	"github.com/gowsgi/gowsgi/internal/static"
	"github.com/gowsgi/gowsgi/internal/wire"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// Handler serves HTTP requests with the worker pool.
type Handler struct {
	Upstream Upstream // the worker pool (PoolUpstream)
	RootPath string   // SCRIPT_NAME; stripped from PATH_INFO
	Scheme   string   // wsgi.url_scheme
	// Forwarded says whose proxy headers set the scheme, REMOTE_ADDR and
	// host (--forwarded-allow-ips); nil = nobody's.
	Forwarded *proxy.Forwarding

	MaxBodySize     int64           // larger request bodies get 413; 0 = no limit
	BodyMemoryLimit int64           // bodies above this are spooled to a temp file
	BodyBudget      *workers.Budget // all bodies held in memory together; nil = no bound
	TempDir         string          // where spooled bodies go; "" = os.TempDir()
	SpoolFiles      *workers.Budget // spool files open (--max-spool-files); nil = no bound (spool.go)

	// HTTP/2 streams get the HTTP/1.1 engine's body and write bounds from
	// these (the http1 engine applies its own Server settings).
	BodyTimeout     time.Duration // longest pause in a request body
	BodyMinRate     int64         // bytes/s a request body must average; 0 = no bound
	WriteTimeout    time.Duration // longest a write to the client may block
	MaxHeaderFields int           // more header fields get 431; 0 = no bound
	MaxRequestLine  int           // a longer :path gets 414; 0 = no bound
	MaxFieldBytes   int           // a longer field line ("name: value" CRLF) gets 431; 0 = no bound

	Static []*static.Mount // URL prefixes served from directories by Go

	// Defaults are the server's own response fields (Server, Date, the
	// operator's --header fields). The http1 engine adds them to the
	// HTTP/1.x responses; the handler to HTTP/2 responses and WebSocket
	// handshakes, by the same rule (http1.Defaults).
	Defaults http1.Defaults

	// Compress compresses responses on the fly (gzip, br, zstd) by the
	// request's Accept-Encoding; see compression.
	Compress bool
	// CompressLimit bounds the compressors' memory (--compress-memory);
	// over it a response goes uncompressed. nil: no bound.
	CompressLimit *compress.Limiter

	AccessLog *AccessLog // nil: no access log
	Log       *slog.Logger

	Observer Observer // metrics, request IDs, traces; nil: none

	// WebSocket turns WebSockets on for ASGI applications (websocket.go);
	// nil: upgrade requests are plain HTTP.
	WebSocket *WebSocketOptions

	refusals logLimit // "request refused" lines: one a second at most
	cancels  logLimit // "request canceled" lines: one a second at most
}

// envBufs recycles request frame buffers; most requests fit in 4 KiB.
var envBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// fieldBufs recycles response header lists.
var fieldBufs = sync.Pool{New: func() any { f := make([]http1.Field, 0, 16); return &f }}

// ServeHTTP1 implements http1.Handler.
func (h *Handler) ServeHTTP1(w *http1.ResponseWriter, r *http1.Request) {
	if h.WebSocket != nil && h.isWebSocket(r) {
		h.serveWebSocket(w, &request{Request: r, proto: r.Proto(), ctx: r.Context()}, http1WS{w})
		return
	}
	h.serve(w, &request{Request: r, proto: r.Proto(), ctx: r.Context()})
}

// serve answers one request from either engine: static files, else the
// body is read and the request goes to a worker.
func (h *Handler) serve(w responseWriter, r *request) {
	if h.AccessLog != nil {
		start := time.Now()
		defer func() {
			if !r.gone {
				h.AccessLog.Log(r, w, start)
			}
		}()
	}
	var ob Observation
	if h.Observer != nil {
		ob = h.Observer.Begin(r.Request)
		defer func() { h.Observer.End(ob, r.Request, w.Status()) }()
	}

	if len(h.Static) > 0 {
		path := unquote(r.Path)
		for _, m := range h.Static {
			if rel, ok := m.Match(path); ok {
				m.Serve(w, r.Request, rel)
				return
			}
		}
	}

	if h.streamsBody(r) && h.serveStreamed(w, r, &ob) {
		return // an ASGI application's body that is not in hand streams to it (bodystream.go)
	}

	b, err := h.readBody(r.Request)
	defer b.free(h.BodyBudget)
	if err != nil {
		var he *httpError
		switch {
		case errors.As(err, &he):
			w.SetClose()
			h.plain(w, r, he.status, he.msg, nil)
		case isTimeout(err):
			// The client stopped sending its body (or never sent the one
			// it announced with Expect: 100-continue).
			w.SetClose()
			h.plain(w, r, 408, "Request Timeout", nil)
		default:
			w.Abort() // the client went away mid-body
		}
		return
	}

	bp := envBufs.Get().(*[]byte)
	var env wire.Environ
	if h.asgi() {
		env.ResetScope(*bp)
		h.appendScope(&env, r)
	} else {
		env.Reset(*bp)
		h.appendEnviron(&env, r, b.n)
		appendTLS(&env, r.TLS)
	}
	req := workers.Request{Environ: &env, Body: b.mem, BodyFile: b.file, Method: r.Method, Target: r.Target, Proto: r.proto, ID: h.requestID(r.Request)}
	req.Prefer, _ = r.ConnState.(*workers.Slot) // the slot that served this connection last
	req.Finished = r.Finished()
	if ob.Timed {
		ob.Sending = time.Now()
	}
	x, err := h.Upstream.Send(r.ctx, &req)
	if err != nil {
		h.refused(w, r, err)
	} else {
		if ob.Timed {
			ob.Sent = time.Now()
		}
		h.relay(w, r, x)
		r.ConnState = x.Slot()
		x.Close()
	}
	if buf := env.Buffer(); cap(buf) <= 64<<10 {
		*bp = buf[:0]
		envBufs.Put(bp)
	}
}

// refused answers a request the pool would not take: 503, logged at most
// once a second (with the count of those not logged), since under a flood
// every request is refused. A request whose client went away gets nothing.
func (h *Handler) refused(w responseWriter, r *request, err error) {
	if errors.Is(err, workers.ErrCanceled) {
		// Nothing reached the application and nobody is there to answer:
		// no access log line either, and a line a second here at most.
		r.gone = true
		if ok, held := h.cancels.allow(time.Now()); ok {
			h.Log.Info("request canceled: the client went away before it reached a worker", "request", requestLine(r), "canceled_unlogged", held)
		}
		w.Abort()
		return
	}
	if ok, held := h.refusals.allow(time.Now()); ok {
		if held > 0 {
			h.Log.Warn("request refused", "request", requestLine(r), "request_id", h.requestID(r.Request), "reason", err, "refused_unlogged", held)
		} else {
			h.Log.Warn("request refused", "request", requestLine(r), "request_id", h.requestID(r.Request), "reason", err)
		}
	}
	h.plain(w, r, 503, "Service Unavailable", []http1.Field{{Name: "Retry-After", Value: "1"}})
}

// relay writes the response of exchange x to the client.
func (h *Handler) relay(w responseWriter, r *request, x Exchange) {
	fp := fieldBufs.Get().(*[]http1.Field)
	fields := (*fp)[:0]
	ow := w // the access log looks the fields up by the engine's writer, not a compressing wrapper
	defer func() {
		h.AccessLog.KeepResponseHeader(ow, fields) // for %({name}o)s; the fields are recycled
		clear(fields)
		*fp = fields[:0]
		fieldBufs.Put(fp)
	}()
	var bad error
	contentLengths := 0
	asgi := h.asgi()
	closeAfter := false
	header := func(name, value string) {
		if asgi && isHopByHop(name) {
			// Dropped (see isHopByHop), but "Connection: close" is still
			// the application's wish to end the connection after this
			// response, as uvicorn, hypercorn and daphne honour it (RFC
			// 9112, 9.6).
			closeAfter = closeAfter || strings.EqualFold(name, "Connection") && httpguts.HeaderValuesContainsToken([]string{value}, "close")
			return
		}
		f := http1.Field{Name: name, Value: value}
		if bad == nil {
			bad = checkField(f)
		}
		if isField(name, "Content-Length") {
			contentLengths++
		}
		fields = append(fields, f)
	}
	resp, err := x.Head(header)
	for err == nil && resp.Interim {
		// 103 Early Hints (ASGI's http.response.early_hint), then the head.
		code, reason, ierr := parseInterim(resp.Status)
		if bad == nil {
			bad = ierr
		}
		if bad != nil {
			x.Abort()
			h.Log.Error("invalid early hint from the application; answering 500", "request", requestLine(r), "request_id", h.requestID(r.Request), "reason", bad.Error())
			h.plain(w, r, 500, "Internal Server Error", nil)
			return
		}
		if w.WriteInterim(code, reason, fields) != nil {
			x.Abort() // the client went away
			return
		}
		clear(fields)
		fields, contentLengths = fields[:0], 0
		resp, err = x.Head(header)
	}
	if err != nil {
		h.failed(w, r, err, false)
		return
	}
	if resp.File != nil {
		defer resp.File.Close()
	}
	code, reason := 0, ""
	if bad == nil {
		code, reason, bad = parseStatus(resp.Status)
	}
	if bad == nil && contentLengths > 1 {
		bad = errors.New("more than one Content-Length header")
	}
	if bad == nil && resp.Trailers {
		bad = checkTrailerNames(resp.TrailerNames)
	}
	fields = h.withRequestID(fields, r.Request)
	if bad != nil {
		x.Abort()
		h.Log.Error("invalid response from the application; answering 500", "request", requestLine(r), "request_id", h.requestID(r.Request), "reason", bad.Error())
		h.plain(w, r, 500, "Internal Server Error", nil)
		return
	}
	if closeAfter {
		w.SetClose()
	}
	compressing := false
	if h.Compress {
		var e compress.Encoding
		var limit int64
		fields, e, limit = compression(r, fields, code, resp, h.CompressLimit)
		if e != compress.None {
			cw := newCompressWriter(w, e, limit, h.CompressLimit)
			defer cw.release()
			w, compressing = cw, true
		}
	}
	if resp.File != nil {
		h.sendFile(w, resp, code, reason, fields, contentLengths > 0 || compressing)
		return
	}
	if resp.Trailers && !w.DeclareTrailers(resp.TrailerNames) {
		resp.Trailers = false // this client takes none: they are dropped
	}
	w.WriteHeader(code, reason, fields)
	if c, ok := x.(cutOffer); ok {
		c.OnCutOff(ow.Interrupt) // a client that takes nothing while others need the room
	}
	if r.Method == "HEAD" && !resp.Complete {
		x.Abort() // no body goes out: the application need not make it
	}
	if len(resp.Body) > 0 {
		if _, err := w.Write(resp.Body); err != nil {
			x.Abort()
			return
		}
	}
	if resp.Complete {
		h.finish(w, r, x, resp)
		return
	}
	for {
		if !x.Ready() && w.Flush() != nil {
			x.Abort() // the client went away
			return
		}
		data, _, err := x.Next()
		if err == io.EOF {
			h.finish(w, r, x, resp)
			return
		}
		if err != nil {
			h.failed(w, r, err, true)
			return
		}
		if _, err := w.Write(data); err != nil {
			x.Abort()
			return
		}
	}
}

// finish ends a response whose body was written: with its trailer fields
// when it has some that the client takes (ASGI's http.response.trailers).
// Trailers are checked as header fields are, and may not be fields that
// frame, route or describe the response (checkTrailer): a response with
// one is cut off, as when the application fails after its head.
func (h *Handler) finish(w responseWriter, r *request, x Exchange, resp *workers.Response) {
	if !resp.Trailers {
		w.Finish()
		return
	}
	var trailer []http1.Field
	var bad error
	if ts, ok := x.(trailerSource); ok {
		err := ts.Trailers(func(name, value string) {
			f := http1.Field{Name: name, Value: value}
			if bad == nil {
				bad = checkTrailer(f)
			}
			trailer = append(trailer, f)
		})
		if bad == nil {
			bad = err
		}
	}
	if bad != nil {
		h.Log.Error("invalid trailers from the application; the response is cut off", "request", requestLine(r), "request_id", h.requestID(r.Request), "reason", bad.Error())
		w.Flush()
		w.Abort()
		return
	}
	w.FinishTrailers(trailer)
}

// sendFile answers with a regular file the worker passed over (a
// wsgi.file_wrapper): the kernel copies it to the client. Without a
// Content-Length from the app, the known length gives one.
func (h *Handler) sendFile(w responseWriter, resp *workers.Response, code int, reason string, fields []http1.Field, hasLength bool) {
	if !hasLength && code != 204 && code != 304 {
		fields = append(fields, http1.Field{Name: "Content-Length", Value: strconv.FormatInt(resp.FileLength, 10)})
	}
	w.WriteHeader(code, reason, fields)
	if _, err := resp.File.Seek(resp.FileOffset, io.SeekStart); err != nil {
		h.Log.Error("cannot seek the response file", "err", err)
		w.Abort()
		return
	}
	if _, err := w.SendFile(resp.File, resp.FileLength); err != nil {
		return // the client went away, or the file shrank: the connection is closed
	}
	w.Finish()
}

// failed answers a request whose exchange broke: before the head with an
// error status, after it by cutting the connection (the client sees a
// truncated response). The pool has logged what happened to the worker.
func (h *Handler) failed(w responseWriter, r *request, err error, started bool) {
	if started {
		if !errors.Is(err, workers.ErrCutOff) { // a client cut off takes nothing more
			w.Flush() // what the app produced before failing
		}
		w.Abort()
		return
	}
	if fe := r.streamFailure(); fe != nil {
		// The streamed body broke a limit: the application was told
		// (http.disconnect), and the client gets why.
		w.SetClose()
		h.plain(w, r, fe.status, fe.msg, nil)
		return
	}
	var ae *workers.AppError
	var he *wire.HeadError
	switch {
	case errors.As(err, &he):
		h.Log.Error("invalid response from the application; answering 500", "request", requestLine(r), "request_id", h.requestID(r.Request), "reason", he.Msg)
		h.plain(w, r, 500, "Internal Server Error", nil)
	case errors.As(err, &ae):
		h.plain(w, r, 500, "Internal Server Error", nil) // the worker logged the traceback
	case errors.Is(err, workers.ErrTimedOut):
		w.SetClose()
		h.plain(w, r, 504, "Gateway Timeout", nil)
	case errors.Is(err, workers.ErrCanceled):
		w.Abort() // the client went away while a worker had the request
	case errors.Is(err, workers.ErrQueueFull), errors.Is(err, workers.ErrQueueTimeout), errors.Is(err, workers.ErrStopped):
		h.refused(w, r, err)
	default:
		w.SetClose()
		h.plain(w, r, 502, "Bad Gateway", nil)
	}
}

// plain sends a short text/plain response generated by gowsgi itself.
func (h *Handler) plain(w responseWriter, r *request, status int, reason string, extra []http1.Field) {
	msg := fmt.Sprintf("%d %s\n", status, reason)
	fields := append([]http1.Field{
		{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
		{Name: "Content-Length", Value: strconv.Itoa(len(msg))},
	}, extra...)
	fields = h.withRequestID(fields, r.Request)
	w.WriteHeader(status, reason, fields)
	w.Write([]byte(msg))
	w.Finish()
}

func requestLine(r *request) string {
	return r.Method + " " + r.Target + " " + r.Proto()
}

// httpError is a request the front refuses before it reaches a worker.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func isTimeout(err error) bool {
	var ne net.Error
	return http1.IsTimeout(err) || errors.As(err, &ne) && ne.Timeout()
}

// body is a request body as read: in memory (mem, reserved bytes of the
// shared budget) or spooled to an unlinked file.
type body struct {
	mem      []byte
	file     *os.File
	files    *workers.Budget // what file is counted under
	n        int64
	reserved int64
	pooled   *[]byte
}

func (b *body) free(budget *workers.Budget) {
	budget.Release(b.reserved)
	if b.file != nil {
		b.file.Close()
		b.files.Release(1)
	}
	if b.pooled != nil {
		*b.pooled = (*b.pooled)[:0]
		smallBodies.Put(b.pooled)
	}
	*b = body{}
}

// smallBodies recycles buffers for bodies of up to smallBody bytes; larger
// ones are allocated to size and left to the garbage collector, so memory
// that a burst of uploads took is given back.
const smallBody = 16 << 10

var smallBodies = sync.Pool{New: func() any { b := make([]byte, 0, smallBody); return &b }}

// readBody reads the whole request body before any worker is involved, so a
// slow upload holds a goroutine, never a Python thread. A body stays in
// memory when it is at most BodyMemoryLimit and the shared BodyBudget has
// room; otherwise it goes to an unlinked temp file whose descriptor the
// worker reads.
func (h *Handler) readBody(r *http1.Request) (b body, err error) {
	if r.ContentLength == 0 && !r.Chunked {
		return b, nil
	}
	max := h.MaxBodySize
	if max > 0 && r.ContentLength > max {
		return b, &httpError{413, "Content Too Large"}
	}
	memLimit := h.BodyMemoryLimit
	if r.ContentLength > memLimit {
		return h.spool(r, nil, max)
	}
	if r.ContentLength > 0 {
		// Known length: reserve it whole, read it into a buffer of its size.
		if !h.BodyBudget.TryAcquire(r.ContentLength) {
			return h.spool(r, nil, max)
		}
		b.reserved = r.ContentLength
		if r.ContentLength <= smallBody {
			b.pooled = smallBodies.Get().(*[]byte)
			b.mem = (*b.pooled)[:r.ContentLength]
		} else {
			b.mem = make([]byte, r.ContentLength)
		}
		if _, err := io.ReadFull(r.Body, b.mem); err != nil {
			b.free(h.BodyBudget)
			return body{}, bodyErr(err)
		}
		b.n = r.ContentLength
		return b, nil
	}
	// Chunked: grow, reserving as it grows, until the limits say spool.
	if !h.BodyBudget.TryAcquire(smallBody) {
		return h.spool(r, nil, max)
	}
	b.reserved = smallBody
	b.pooled = smallBodies.Get().(*[]byte)
	b.mem = (*b.pooled)[:0]
	for {
		if len(b.mem) == cap(b.mem) {
			grow := int64(cap(b.mem))
			if int64(len(b.mem))+grow > memLimit || !h.BodyBudget.TryAcquire(grow) {
				sb, err := h.spool(r, b.mem, max)
				b.free(h.BodyBudget)
				return sb, err
			}
			b.reserved += grow
			nb := make([]byte, len(b.mem), 2*cap(b.mem))
			copy(nb, b.mem)
			if b.pooled != nil {
				*b.pooled = (*b.pooled)[:0]
				smallBodies.Put(b.pooled)
				b.pooled = nil
			}
			b.mem = nb
		}
		m, err := r.Body.Read(b.mem[len(b.mem):cap(b.mem)])
		b.mem = b.mem[:len(b.mem)+m]
		if max > 0 && int64(len(b.mem)) > max {
			b.free(h.BodyBudget)
			return body{}, &httpError{413, "Content Too Large"}
		}
		if err == io.EOF {
			b.n = int64(len(b.mem))
			return b, nil
		}
		if err != nil {
			b.free(h.BodyBudget)
			return body{}, bodyErr(err)
		}
	}
}

func bodyErr(err error) error {
	var be *http1.BodyError
	if errors.As(err, &be) {
		return &httpError{400, "Bad Request"}
	}
	return err
}
