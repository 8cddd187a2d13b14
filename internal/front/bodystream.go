package front

import (
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/wire"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// Streamed request bodies (ASGI).
//
// A WSGI application reads its body from wsgi.input, which the worker
// serves from a body the front read whole (memory or a spooled file), so a
// slow upload holds a goroutine here, never a Python thread. An ASGI
// application asks for its body with receive(), on an event loop that a
// slow upload does not hold either; so unless the body is already whole in
// hand when the head is parsed (none, or all of it buffered with the head:
// then it goes in the request frame, as for WSGI), the request goes to a
// worker at once and its body follows as it comes from the client (B
// frames, then E; see the wire package). That lets an application stream
// both ways (read a piece, answer it, read the next), answer before the
// body is read (413, 401), and get 100 Continue only when it asks for the
// body. receive() is the backpressure: the pieces go under the slot's
// credit (workers.Exchange.SendBody), so an application that does not
// read stops the front reading its client after wire.WSWindow, and TCP or
// HTTP/2 flow control holds the client; the front holds one read buffer
// per streamed request.
//
// The limits still hold while the body streams: --limit-request-body
// (413 if no response head went out, else the response is cut off; the
// application gets http.disconnect), the body read timeouts (408), a
// malformed chunked body (400), and a client that goes away mid-body
// (http.disconnect).
//
// When the response ends before the body does, nothing more of it goes to
// the application (its receive() says http.disconnect, as after any
// response), and the rest is the engine's: an HTTP/1.1 connection reads
// and drops what is left up to its bound (http1's maxDiscard, as net/http
// does) and is closed beyond it, or when the client still waits for 100
// Continue; an HTTP/2 stream is reset with NO_ERROR after the response
// (RFC 9113, 8.1), which tells the client to stop sending.

// streamBuf is the read buffer of a streamed body (workers.BodyBuf): the
// most one B frame carries (and so one http.request: asgi.py's
// ASGI_BODY_CHUNK is the same), and what the front holds for the request
// besides what is in flight to the worker (at most wire.WSWindow, under
// the worker's total). Each piece goes to the worker from the buffer it
// was read into, which goes back to the pool once written.
const streamBuf = workers.BodyPiece

// bodySink is an Exchange whose request body streams (workers.Exchange).
type bodySink interface {
	AwaitBodyWanted(stop <-chan struct{}) error
	SendBody(p []byte, stop <-chan struct{}) error
	EndBody() error
	Disconnect()
}

var _ bodySink = (*workers.Exchange)(nil)

// streamsBody reports whether r's body streams to the application: an
// ASGI application's, unless it is already whole in hand: none, or a
// small one (up to streamBuf, with a Content-Length) that has all come
// with the head or since, so that reading it waits for nothing
// (http1.Request.BodyArrived: HTTP/1.x only; an HTTP/2 body always
// streams, as Go's server gives no way to know that it has all come).
// Such a body goes in the request frame, as before: a 64 KiB POST costs
// no more than it did.
func (h *Handler) streamsBody(r *request) bool {
	if r.ContentLength == 0 && !r.Chunked {
		return false
	}
	return h.asgi() && !r.BodyArrived(streamBuf)
}

// serveStreamed sends r to a worker with its body to stream, relays the
// response, and streams the body meanwhile (bodyPump). It reports false,
// having done nothing, when the body budget (--max-body-memory-total) has
// no room for the stream's buffer: the body is then read whole, and
// spooled, as before.
func (h *Handler) serveStreamed(w responseWriter, r *request, ob *Observation) bool {
	max := h.MaxBodySize
	if max > 0 && r.ContentLength > max {
		w.SetClose()
		h.plain(w, r, 413, "Content Too Large", nil)
		return true
	}
	if !h.BodyBudget.TryAcquire(streamBuf) {
		return false
	}
	defer h.BodyBudget.Release(streamBuf)

	bp := envBufs.Get().(*[]byte)
	var env wire.Environ
	env.ResetScope(*bp)
	h.appendScope(&env, r)
	req := workers.Request{Environ: &env, BodyStream: true, Method: r.Method, Target: r.Target, Proto: r.proto, ID: h.requestID(r.Request)}
	req.Prefer, _ = r.ConnState.(*workers.Slot)
	req.Finished = r.Finished()
	defer func() {
		if buf := env.Buffer(); cap(buf) <= 64<<10 {
			*bp = buf[:0]
			envBufs.Put(bp)
		}
	}()
	if ob.Timed {
		ob.Sending = time.Now()
	}
	x, err := h.Upstream.Send(r.ctx, &req)
	if err != nil {
		h.refused(w, r, err)
		return true
	}
	if ob.Timed {
		ob.Sent = time.Now()
	}
	sink, ok := x.(bodySink)
	if !ok {
		// Only the pool streams bodies; an upstream that cannot take one
		// never gets BodyStream (see Handler.asgi).
		x.Close()
		w.SetClose()
		h.plain(w, r, 500, "Internal Server Error", nil)
		return true
	}
	p := &bodyPump{r: r, x: sink, max: max, stop: make(chan struct{}), done: make(chan struct{})}
	r.ShareBody()
	r.pump = p
	go p.run()
	h.relay(w, r, x)
	p.end()
	r.pump = nil
	r.ConnState = x.Slot()
	x.Close()
	return true
}

// bodyPump streams one request's body from its client to the application.
type bodyPump struct {
	r    *request
	x    bodySink
	max  int64         // --limit-request-body; 0: none
	stop chan struct{} // closed once the response has been relayed
	done chan struct{} // closed when run returns
	// failure is why the body broke off, when the front answers it itself
	// (413, 408, 400) if no response head went out; set before the
	// application is told (Disconnect).
	failure atomic.Pointer[httpError]
}

// run reads the body and sends it on, piece by piece as it comes, until
// its end, a failure, or the end of the response (stop).
func (p *bodyPump) run() {
	defer close(p.done)
	r, x := p.r, p.x
	if expectsContinue(r) {
		// The engine sends 100 Continue on the body's first read: that is
		// when the application first calls receive(), and never if it
		// answers without reading.
		if x.AwaitBodyWanted(p.stop) != nil {
			return
		}
	}
	var buf []byte // the next piece's, until SendBody takes it
	defer func() {
		if buf != nil {
			workers.FreeBodyBuf(buf)
		}
	}()
	var total int64
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		if buf == nil {
			buf = workers.BodyBuf()
		}
		n, err := r.Body.Read(buf)
		if n > 0 {
			total += int64(n)
			if p.max > 0 && total > p.max {
				p.fail(&httpError{413, "Content Too Large"})
				return
			}
			piece := buf[:n]
			buf = nil
			if x.SendBody(piece, p.stop) != nil {
				return // the response ended, or the worker went
			}
		}
		if err == io.EOF {
			if x.EndBody() != nil {
				return
			}
			// Now its FIN means the client went (see
			// workers.Exchange.cancelOnFinish): before, it was the end
			// of the body being sent.
			select {
			case <-r.Finished():
				x.Disconnect()
			case <-p.stop:
			}
			return
		}
		if err != nil {
			var he *httpError
			switch {
			case errors.As(bodyErr(err), &he):
				p.fail(he)
			case isTimeout(err):
				p.fail(&httpError{408, "Request Timeout"})
			default:
				p.fail(nil) // the client went away mid-body
			}
			return
		}
	}
}

// fail ends the stream: the application's receive() says
// http.disconnect, and the front answers he, if not nil and no head went
// out (see Handler.failed).
func (p *bodyPump) fail(he *httpError) {
	if he != nil {
		p.failure.Store(he)
	}
	p.x.Disconnect()
}

// end stops the stream once the response has been relayed, and waits for
// it: a read blocked on an HTTP/2 client is interrupted (the stream is
// reset once the handler returns); one on an HTTP/1.1 connection ends
// with the client's next bytes or its body timeout, since what is left of
// the body is the engine's then.
func (p *bodyPump) end() {
	close(p.stop)
	if c, ok := p.r.Body.(io.Closer); ok {
		c.Close()
	}
	<-p.done
}

// expectsContinue reports whether r's client waits for 100 Continue
// before it sends the body.
func expectsContinue(r *request) bool {
	if r.ExpectContinue() {
		return true
	}
	if r.proto != "HTTP/2.0" {
		return false
	}
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, "Expect") && strings.EqualFold(f.Value, "100-continue") {
			return true
		}
	}
	return false
}

// streamFailure is the answer owed for a streamed body that broke a
// limit, when no head went out: nil when there is none.
func (r *request) streamFailure() *httpError {
	if r.pump == nil {
		return nil
	}
	return r.pump.failure.Load()
}
