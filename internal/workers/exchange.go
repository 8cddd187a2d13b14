package workers

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// Request is one HTTP request for the application, as the front hands it
// to the pool: an environ and a body, in memory or in a file.
type Request struct {
	Environ  *wire.Environ // the CGI variables; the worker adds the wsgi.* ones
	Body     []byte        // the body, when it is in memory
	BodyFile *os.File      // the body, when it was spooled to a file

	Method, Target, Proto string // the request line, for logs
	ID                    string // the request ID (X-Request-ID), for logs; may be empty

	// Finished, when not nil, closes when the client has stopped sending
	// (it closed its connection, or half-closed it and may still read):
	// a request still waiting in the queue for a slot is then dropped
	// (ErrCanceled), as if its context had ended. One already on a slot
	// is served. Over HTTP/1.x a FIN tells no more than that.
	Finished <-chan struct{}

	// BodyStream (ASGI only, with no Body or BodyFile): the body is not
	// in hand; it streams to the application after Send, with SendBody
	// and EndBody (see the wire package's "Streamed request bodies").
	// Such a request is never sent again to another slot: once a piece
	// of its body went to one, the body cannot be sent twice.
	BodyStream bool

	// Prefer is the slot that served the previous request of the same
	// client connection (Exchange.Slot), or nil. When it is idle the
	// request goes there: the same worker keeps a connection's
	// requests, with its caches warm.
	Prefer *Slot
}

// line is the request line, for logs.
func (r *Request) line() string { return r.Method + " " + r.Target + " " + r.Proto }

// Response is the head of the application's response, and the start of
// its body.
type Response struct {
	Status string // as the application gave it ("200 OK"); not yet checked

	// Body holds the first body bytes; all of them when Complete. It is
	// valid until Exchange.Close.
	Body     []byte
	Complete bool

	// File, when not nil, is the body: FileLength bytes from FileOffset of
	// a regular file the application returned through wsgi.file_wrapper.
	// The caller closes it.
	File       *os.File
	FileOffset int64
	FileLength int64

	// Interim marks an informational (1xx) response that the application
	// sent before its head (ASGI's http.response.early_hint): Status and
	// the header fields are its, there is no body, and Head must be
	// called again for what follows.
	Interim bool

	// Trailers says that the body ends with trailer fields (ASGI's
	// http.response.trailers), which Exchange.Trailers gives once Next has
	// returned io.EOF. TrailerNames is the Trailer field the application
	// declared in its head, "" if none (latin-1; not yet checked).
	Trailers     bool
	TrailerNames string
}

// Errors of an exchange. The front turns each into an HTTP answer.
var (
	// ErrTimedOut: the worker sent nothing for --timeout; its stacks have
	// been logged and it is being replaced.
	ErrTimedOut = errors.New("the application did not answer within --timeout")

	// ErrCanceled: the request's context ended (its client went away)
	// before the response was read. Nothing should be sent to the
	// client; the request was taken out of the queue, dropped unstarted,
	// or the worker was told to stop it.
	ErrCanceled = errors.New("the client went away")
)

// AppError is an exception the application raised; the worker has logged
// its traceback. Before the head it becomes a 500.
type AppError struct{ Msg string }

func (e *AppError) Error() string { return e.Msg }

// WorkerError is a worker that died or broke the protocol while it served
// the request.
type WorkerError struct {
	Worker string // "worker 3 (pid 1234)"
	Status string // how the process ended, when it did
	Err    error  // ErrWorkerGone, or what was wrong with the stream
}

func (e *WorkerError) Error() string {
	if e.Status != "" {
		return fmt.Sprintf("%s: %v (%s)", e.Worker, e.Err, e.Status)
	}
	return fmt.Sprintf("%s: %v", e.Worker, e.Err)
}

func (e *WorkerError) Unwrap() error { return e.Err }

// errRevoked: the worker gave the request back unstarted.
var errRevoked = errors.New("revoked")

// maxRedispatch bounds how often one request moves to another slot.
const maxRedispatch = 4

// copyMax is the largest frame payload read into a slot's buffer and copied
// out of it; larger ones are read into memory of their own (see
// Slot.readFrame).
const copyMax = 64 << 10

// revokeAfter is how long a pipelined request waits behind the one running
// on its slot before it asks to be given back: the slot was judged fast
// (answers under pipelineMaxAge on average), so this wait means the current
// request turned slow.
const revokeAfter = 5 * time.Millisecond

// Exchange is one request's round trip to a worker: Send it, read the
// Head, then the body with Next; Abort stops the application producing;
// Close must always be called. It is shaped like http.RoundTripper's
// result so that any HTTP engine can drive it. An Exchange is used by one
// goroutine at a time; only the end of its context comes from another
// (see cancel).
type Exchange struct {
	p     *Pool
	req   *Request
	frame []byte
	ctx   context.Context
	t     *ticket // guarded by mu where cancel may run (see cancel)
	moved int     // re-dispatches so far

	mu       sync.Mutex
	gone     atomic.Bool // the context ended: the client went away
	stopWait func() bool // unregisters cancel from the context

	// held: the response is still being read off the slot. Once a pump
	// goroutine runs (rb != nil), it alone touches held, t's read side,
	// chunks and end.
	held      bool
	chunks    [][]byte // body pieces read but not yet returned, in order
	end       error    // after the chunks: io.EOF, or why the body broke
	rb        *respBuffer
	pumping   bool   // a pump goroutine reads the slot (startPump)
	recycle   []byte // a whole response's frame buffer, reused after Close
	charged   int64  // bytes of resp.Body and chunks counted as response memory
	uncounted int64  // and those that did not fit the budget (see spill)
	aborted   bool
	closed    bool
	resp      Response // what Head returns

	afterInterim bool            // Head returned an interim response: the next frame is read by nextHead
	wsEnd        chan struct{}   // a WebSocket's or a streamed body's: closed when the slot is released (finishSlot)
	wsGone       <-chan struct{} // a WebSocket's: closed when its client's connection is dropped (WSClientGone)
	trailer      []byte          // the payload of the response's Trailers frame, if it ended with one
}

// Send dispatches req to a worker slot: an idle one, or a busy one that is
// answering fast, or it waits in the bounded queue. Errors: ErrQueueFull,
// ErrQueueTimeout, ErrStopped, ErrCanceled.
//
// ctx is the client: when it ends (the client closed its connection or
// reset its stream) the request is canceled wherever it is. Waiting in the
// queue, it leaves the queue and is never dispatched; queued on a slot
// behind another request, the worker drops it unstarted; running, the
// worker is told to stop (an Abort frame: WSGI closes the response
// iterable, ASGI hears http.disconnect). The exchange then reports
// ErrCanceled.
func (p *Pool) Send(ctx context.Context, req *Request) (*Exchange, error) {
	var frame []byte
	if req.BodyStream {
		frame = req.Environ.StreamFrame()
	} else {
		frame = req.Environ.Frame(len(req.Body), req.BodyFile != nil)
	}
	x := &Exchange{p: p, req: req, frame: frame, ctx: ctx}
	if req.BodyStream {
		x.moved = maxRedispatch // see Request.BodyStream
		x.wsEnd = make(chan struct{})
	}
	if p.resp.full() && !p.resp.makeRoom() {
		return nil, ErrResponseMemory
	}
	t, err := p.dispatch(ctx, req.Finished, frame, req.Body, req.BodyFile, nil, req.Prefer)
	if err != nil {
		return nil, err
	}
	x.t, x.held = t, true
	if n, ok := ctx.(EndNotifier); ok {
		x.stopWait = n.NotifyEnd(x.cancel)
	} else if ctx.Done() != nil {
		x.stopWait = context.AfterFunc(ctx, x.cancel)
	}
	if t.slot.worker.asgi && req.Finished != nil && !req.BodyStream {
		// (A streamed body's client is watched by its sender, once the
		// body has come: its FIN comes after the body.)
		x.cancelOnFinish()
	}
	return x, nil
}

// cancelOnFinish makes a client that stopped sending (its FIN) cancel an
// ASGI request, as uvicorn and the ASGI spec see it: the app's receive()
// says http.disconnect at once, so a long poll or a stream learns that its
// client left without waiting for its next write. (A WSGI request runs on:
// a half-closed client may still read its answer.)
func (x *Exchange) cancelOnFinish() {
	done := make(chan struct{})
	go func() {
		select {
		case <-x.req.Finished:
			x.cancel()
		case <-done:
		}
	}()
	stop := x.stopWait
	x.stopWait = func() bool {
		close(done)
		return stop == nil || stop()
	}
}

// EndNotifier is a context that runs a function when it ends more cheaply
// than context.AfterFunc, which allocates and locks a map per call: the
// HTTP/1.x engine's connection context, whose requests come one at a time.
// NotifyEnd registers f (one at a time) to run on a goroutine of its own
// when the context ends; stop unregisters it and reports whether it had
// not run.
type EndNotifier interface {
	NotifyEnd(f func()) (stop func() bool)
}

// cancel runs, on a goroutine of its own, when the exchange's context
// ends: the worker is asked to drop or stop the request now, whatever the
// goroutine using the exchange is waiting for. The request's frames still
// come back in order on the slot; Head and Next turn what is left into
// ErrCanceled.
func (x *Exchange) cancel() {
	x.mu.Lock()
	x.gone.Store(true)
	t := x.t
	x.mu.Unlock()
	if t != nil {
		t.slot.sendAbort(t.id)
	}
	if x.p.debug {
		x.p.log.Debug("request canceled: the client went away", "request", x.req.line(), "request_id", x.req.ID)
	}
}

// setTicket makes t the exchange's ticket after a re-dispatch; a cancel
// that came meanwhile is passed on to the new slot.
func (x *Exchange) setTicket(t *ticket) {
	x.mu.Lock()
	x.t = t
	gone := x.gone.Load()
	x.mu.Unlock()
	if gone {
		t.slot.sendAbort(t.id)
	}
}

// Slot is the slot that served the request, for Request.Prefer.
func (x *Exchange) Slot() *Slot {
	if x.t == nil {
		return nil
	}
	return x.t.slot
}

// redispatch sends the request again, to another slot, after its first one
// gave it back or died before it started.
func (x *Exchange) redispatch(why string) error {
	old := x.t.slot
	x.moved++
	x.p.log.Debug("request re-dispatched", "request", x.req.line(), "request_id", x.req.ID, "from", old.worker.String(), "reason", why)
	t, err := x.p.dispatch(x.ctx, x.req.Finished, x.frame, x.req.Body, x.req.BodyFile, old, nil)
	if err != nil {
		x.held = false
		return err
	}
	x.setTicket(t)
	return nil
}

// Head waits for the response head. header is called for each response
// header field, in order. It returns *AppError when the application failed
// before starting a response, *wire.HeadError when its head breaks PEP
// 3333 (the caller answers 500 and logs why), *WorkerError when the worker died or broke
// the protocol, ErrTimedOut, or a dispatch error after a re-dispatch.
func (x *Exchange) Head(header func(name, value string)) (*Response, error) {
	var h wire.Header
	var p []byte
	var err error
	if x.afterInterim {
		x.afterInterim = false
		h, p, err = x.nextHead()
	} else {
		h, p, err = x.firstFrame()
	}
	if err != nil {
		return nil, err
	}
	resp, err := x.head(h, p, header)
	if err == nil && x.gone.Load() {
		// The client left while the application answered: nothing
		// goes out, and a streamed rest is stopped.
		if resp.File != nil {
			resp.File.Close()
		}
		if !resp.Complete {
			x.Abort()
		}
		return nil, ErrCanceled
	}
	return resp, err
}

// firstFrame waits for the request's turn on its slot (re-dispatching it
// when it is given back or its worker died before it started) and reads
// the first frame of the answer.
func (x *Exchange) firstFrame() (wire.Header, []byte, error) {
	done := x.ctx.Done()
	for {
		if err := x.awaitTurn(done); err != nil {
			if err == ErrCanceled {
				// Its turn on the slot has not come: the worker drops it
				// unstarted (cancel sent the Abort), and a goroutine reads
				// what the slot says about it when its turn comes.
				x.rb = newRespBuffer(nil)
				x.rb.close()
				go x.discard()
				return wire.Header{}, nil, err
			}
			if err == errRevoked && x.moved < maxRedispatch {
				if err := x.redispatch("the request it waited behind turned slow"); err != nil {
					return wire.Header{}, nil, err
				}
				continue
			}
			return wire.Header{}, nil, err
		}
		s := x.t.slot
		x.p.resp.awaitRoom(done) // the response is read off the slot into the front's memory
		h, p, err := x.read()
		if err != nil {
			if err == ErrTimedOut {
				x.leaveStuck()
				return wire.Header{}, nil, err
			}
			if s.neverStarted(x.t) && x.moved < maxRedispatch {
				x.p.release(x.t, false)
				if err := x.redispatch("its worker died before it started"); err != nil {
					return wire.Header{}, nil, err
				}
				continue
			}
			return wire.Header{}, nil, x.fail(err)
		}
		if err := x.notOurs(h); err != nil {
			return wire.Header{}, nil, err
		}
		return h, p, nil
	}
}

// leaveStuck hands a request whose head timed out to drainStuck: someone
// must keep reading the slot for the requests queued behind, and Close
// then has nothing left to do.
func (x *Exchange) leaveStuck() {
	x.rb = newRespBuffer(nil)
	x.rb.close()
	go x.drainStuck()
}

// notOurs fails the exchange, and takes the slot out of service, when h
// belongs to another request than the one the slot serves: the stream is
// out of step. It returns nil for a frame of x's own.
func (x *Exchange) notOurs(h wire.Header) error {
	if h.ID == x.t.id {
		return nil
	}
	x.t.slot.protocolError()
	return x.fail(fmt.Errorf("frame for request %d while serving %d", h.ID, x.t.id))
}

// nextHead reads the frame after an interim response: another one, or
// the head.
func (x *Exchange) nextHead() (wire.Header, []byte, error) {
	x.p.resp.awaitRoom(x.ctx.Done())
	h, p, err := x.read()
	if err == ErrTimedOut {
		x.leaveStuck()
		return wire.Header{}, nil, err
	}
	if err != nil {
		return wire.Header{}, nil, x.fail(err)
	}
	if err := x.notOurs(h); err != nil {
		return wire.Header{}, nil, err
	}
	return h, p, nil
}

// awaitTurn waits until the responses before this request on its slot have
// been read. A pipelined request that waits too long asks to be given back.
// It returns ErrCanceled when done (the context's) closes first.
func (x *Exchange) awaitTurn(done <-chan struct{}) error {
	t := x.t
	s := t.slot
	if t.prev != nil {
		select {
		case <-t.prev:
		default:
			if err := x.waitPrev(done); err != nil {
				return err
			}
		}
	}
	return s.claimTurn(t)
}

func (x *Exchange) waitPrev(done <-chan struct{}) error {
	// The slot's watch (Slot.watchTurn) asks for this request back if the
	// one ahead of it turns slow.
	t := x.t
	select {
	case <-t.prev:
		return nil
	case <-t.revoked:
		return errRevoked
	case <-done:
		return ErrCanceled
	}
}

// discard reads, off the slot, the answer to a canceled request once its
// turn comes (an End alone when the worker dropped it unstarted), so that
// the requests behind it stay in step; a request given back meanwhile has
// nothing to read.
func (x *Exchange) discard() {
	if err := x.awaitTurn(nil); err != nil {
		x.held = false // revoked: the slot released it
		return
	}
	x.dropRest()
}

// dropRest reads off the slot, and drops, what is left of a response
// nobody will read, in its turn: all of it (discard), or the rest after
// an interim response, whose head has not come yet.
func (x *Exchange) dropRest() {
	for x.held {
		h, p, err := x.read()
		if err == ErrTimedOut {
			x.drainStuck()
			return
		}
		if err != nil {
			if x.t.slot.neverStarted(x.t) {
				// The worker died before it came to this request: there
				// is nothing to report about it.
				x.held = false
				x.p.release(x.t, false)
				return
			}
			x.fail(err)
			return
		}
		x.drop(h, p)
	}
}

// drop handles one frame of a response nobody will read: a head's file
// is closed, the slot released at the response's end.
func (x *Exchange) drop(h wire.Header, p []byte) {
	switch h.Type {
	case wire.Start, wire.StartTrailers, wire.Interim:
	case wire.Whole, wire.File:
		if h.Type == wire.File {
			if f := x.t.slot.takeFile(); f != nil {
				f.Close()
			}
		}
		x.finishSlot()
	default:
		x.body(h, p, func([]byte) {})
	}
}

// read reads the next frame of this request's response, bounded by
// --timeout for WSGI: the worker is silent for --timeout at the most. An
// ASGI response may take as long as it likes (SSE, long polls): there
// --timeout watches the worker's event loop instead (see watchHeartbeat).
//
// The slot's read deadline is moved only when it would fire too late
// (see Slot.armDeadline), not before every frame: under load that saves
// a timer update per response. A deadline armed for an earlier frame
// fires early; the read then goes on with the deadline this frame needs.
func (x *Exchange) read() (wire.Header, []byte, error) {
	s := x.t.slot
	d := x.p.opts.Timeout
	var until time.Time
	if d > 0 && !s.worker.asgi && !s.complete() {
		until = time.Now().Add(d)
		s.armDeadline(until)
	}
	for {
		h, p, err := s.readFrame()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if !until.IsZero() && time.Now().Before(until) {
				s.setDeadline(until) // an earlier frame's deadline: not this one's
				continue
			}
			x.p.timedOut(x)
			return h, nil, ErrTimedOut
		}
		return h, p, err
	}
}

// fail ends the exchange after the worker broke; the slot is given up.
func (x *Exchange) fail(err error) error {
	s := x.t.slot
	x.finishSlot()
	w := s.worker
	we := &WorkerError{Worker: w.String(), Err: err}
	if errors.Is(err, ErrWorkerGone) {
		select {
		case <-w.Exited():
			we.Status = w.ExitStatus()
		case <-time.After(time.Second):
			we.Status = "still running"
		}
		x.p.log.Error("worker died while serving a request", "worker", w.ID, "pid", w.PID, "status", we.Status, "request", x.req.line(), "request_id", x.req.ID)
	} else {
		x.p.log.Error("protocol error from worker; it will be replaced", "worker", w.ID, "pid", w.PID, "err", err.Error(), "request", x.req.line(), "request_id", x.req.ID)
	}
	return we
}

// head handles the first frame of the response.
func (x *Exchange) head(h wire.Header, p []byte, header func(name, value string)) (*Response, error) {
	s := x.t.slot
	switch h.Type {
	case wire.Error:
		err := &AppError{Msg: string(p)}
		x.finishSlot()
		return nil, err
	case wire.End:
		if x.gone.Load() {
			// The worker dropped the request unstarted, as cancel asked.
			x.finishSlot()
			return nil, ErrCanceled
		}
		s.protocolError()
		return nil, x.fail(fmt.Errorf("unexpected frame type %s before the response head", h.Type))
	case wire.Start, wire.Whole, wire.File, wire.StartTrailers:
	case wire.Interim:
		return x.interim(p, header)
	default:
		s.protocolError()
		return nil, x.fail(fmt.Errorf("unexpected frame type %s before the response head", h.Type))
	}
	decode := wire.DecodeHead
	if s.worker.asgi {
		decode = wire.DecodeASGIHead // the app's header byte pairs as it gave them
	}
	status, data, err := decode(p, header)
	var he *wire.HeadError
	if err != nil && !errors.As(err, &he) {
		s.protocolError()
		return nil, x.fail(err)
	}
	if he != nil {
		// The application gave a head PEP 3333 does not allow; the
		// caller answers 500. The rest of a streamed response is dropped.
		if h.Type == wire.Start || h.Type == wire.StartTrailers {
			x.Abort()
		} else {
			if h.Type == wire.File {
				if f := s.takeFile(); f != nil {
					f.Close()
				}
			}
			x.finishSlot()
		}
		return nil, he
	}
	resp := &x.resp
	resp.Status = status
	if h.Type == wire.StartTrailers {
		// The trailer names the application declared, before the body.
		if len(data) < 2 || len(data)-2 < int(binary.LittleEndian.Uint16(data)) {
			s.protocolError()
			return nil, x.fail(errors.New("start-with-trailers frame without its trailer names"))
		}
		n := 2 + int(binary.LittleEndian.Uint16(data))
		resp.Trailers, resp.TrailerNames = true, string(data[2:n])
		data = data[n:]
	}
	switch h.Type {
	case wire.File:
		f := s.takeFile()
		if f == nil || len(data) != 16 {
			if f != nil {
				f.Close()
			}
			s.protocolError()
			return nil, x.fail(errors.New("file frame without a descriptor"))
		}
		resp.File = f
		resp.FileOffset = int64(binary.LittleEndian.Uint64(data))
		resp.FileLength = int64(binary.LittleEndian.Uint64(data[8:]))
		resp.Complete = true
		x.finishSlot()
		x.end = io.EOF
	case wire.Whole:
		resp.Body = x.own(data)
		if s.owned {
			x.recycle = s.ownedBuf
		}
		resp.Complete = true
		x.finishSlot()
		x.end = io.EOF
		x.hold(int64(cap(resp.Body)))
		x.spill()
	case wire.Start, wire.StartTrailers:
		resp.Body = x.own(data)
		x.hold(int64(cap(resp.Body)))
		x.collect()
		if x.held {
			x.startPump()
		} else {
			resp.Complete = len(x.chunks) == 0 && x.end == io.EOF
			if resp.Complete {
				x.chunks = nil
			}
			x.spill()
		}
	}
	return resp, nil
}

// interim handles an Interim frame, an informational response before the
// head: Head returns it, and reads what follows when called again.
func (x *Exchange) interim(p []byte, header func(name, value string)) (*Response, error) {
	status, rest, err := wire.DecodeHead(p, header)
	if err == nil && len(rest) > 0 {
		err = errors.New("interim response with a body")
	}
	if err != nil {
		// The worker builds interim heads itself: not the application's mistake.
		x.t.slot.protocolError()
		return nil, x.fail(err)
	}
	x.afterInterim = true
	return &Response{Status: status, Interim: true}, nil
}

// Trailers calls field for each trailer field of a response whose head
// said Response.Trailers, once Next has returned io.EOF; for none when the
// response ended without them. An error is a *wire.HeadError (the
// application sent what is not a header) or a broken payload.
func (x *Exchange) Trailers(field func(name, value string)) error {
	if x.trailer == nil {
		return nil
	}
	_, _, err := wire.DecodeHead(x.trailer, field)
	return err
}

// own returns data, a payload readFrame just returned, in memory the
// exchange owns: a large frame's is already its own, a small one is copied
// out of the slot's buffer.
func (x *Exchange) own(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	if x.t.slot.owned {
		return data
	}
	return append([]byte(nil), data...)
}

// collect takes the frames of a streamed response that have already
// arrived, without waiting, so a short one is finished at once; no more
// than --response-buffer of them: the pump takes the rest, under the
// bounds.
func (x *Exchange) collect() {
	s := x.t.slot
	for x.held && x.holding() < x.p.resp.perBuffer() && s.frameReady() {
		h, p, err := s.readFrame()
		if err != nil {
			x.chunks = append(x.chunks, nil)
			x.end = x.fail(err)
			return
		}
		if !x.body(h, p, func(b []byte) { c := x.own(b); x.chunks = append(x.chunks, c); x.hold(int64(cap(c))) }) {
			return
		}
	}
}

// body handles one frame after the head, passing body bytes to put. It
// reports whether more frames follow.
func (x *Exchange) body(h wire.Header, p []byte, put func([]byte)) bool {
	if err := x.notOurs(h); err != nil {
		x.end = err
		return false
	}
	s := x.t.slot
	switch h.Type {
	case wire.Body:
		if len(p) > 0 {
			put(p)
		}
		return true
	case wire.End:
		x.end = io.EOF
		x.finishSlot()
	case wire.Trailers:
		x.trailer = append([]byte(nil), p...) // written before the io.EOF that follows it (rb.end)
		x.end = io.EOF
		x.finishSlot()
	case wire.Error:
		x.end = &AppError{Msg: string(p)}
		x.finishSlot()
	default:
		s.protocolError()
		x.end = x.fail(fmt.Errorf("unexpected frame type %s in a response body", h.Type))
	}
	return false
}

// startPump reads the rest of a streamed response off the slot in its own
// goroutine, into a buffer the caller drains at the client's pace: the
// slot is released as soon as the worker has produced the whole response.
//
// The start of the body goes into the buffer too, so that all of it is
// under the buffer's bounds (spooled when memory is short).
func (x *Exchange) startPump() {
	x.rb = newRespBuffer(x.p.resp)
	if x.t.slot.worker.asgi {
		// An ASGI app's send() is its backpressure: its stream waits for
		// a reader that stalls once --response-buffer is held for it, where
		// the spool let an endless stream write up to --response-spool to
		// disk first. A WSGI stream spools, to free its thread.
		x.rb.heldMax = x.rb.memLimit
	}
	x.unhold() // the buffer counts what it keeps
	if len(x.resp.Body) > 0 {
		x.rb.push(x.resp.Body)
		x.resp.Body = nil
	}
	for _, c := range x.chunks {
		x.rb.push(c)
	}
	x.chunks = nil
	x.pumping = true
	go x.pump()
}

func (x *Exchange) pump() {
	rb := x.rb
	for x.held {
		h, p, err := x.read()
		if err == ErrTimedOut {
			rb.end(err)
			x.drainStuck()
			return
		}
		if err != nil {
			rb.end(x.fail(err))
			return
		}
		x.body(h, p, func(b []byte) {
			owned := x.t.slot.owned // read into a buffer of its own
			if !owned {
				b = append([]byte(nil), b...) // out of the slot's buffer
			}
			kept, cut, held := rb.pushHeld(b)
			if owned && !kept {
				putPayload(b) // spooled: the buffer is free
			}
			if s := x.t.slot; s.mx != nil {
				s.lag = held // whether its client keeps up: the window grows if so (Slot.growth)
			}
			if cut { // cut off: the worker stops
				x.t.slot.sendAbort(x.t.id)
				if rb.timedOut() { // evictions are logged by the store, a line a second
					x.p.log.Warn("response cut off: its client read nothing for --timeout with no room left to buffer it", "request", x.req.line(), "request_id", x.req.ID)
				}
			}
		})
	}
	rb.end(x.end)
}

// drainStuck keeps reading a timed-out request's slot, dropping what comes,
// until the request ends after all or its worker is killed; then the
// requests queued behind it get their turn (or are sent elsewhere).
func (x *Exchange) drainStuck() {
	s := x.t.slot
	s.setDeadline(time.Time{})
	for x.held {
		h, p, err := s.readFrame()
		if err != nil {
			x.finishSlot()
			break
		}
		if h.Type == wire.Start || h.Type == wire.Whole || h.Type == wire.File || h.Type == wire.StartTrailers || h.Type == wire.Interim {
			if h.Type == wire.File {
				if f := s.takeFile(); f != nil {
					f.Close()
				}
			}
			if h.Type == wire.Whole || h.Type == wire.File {
				x.finishSlot()
			}
			continue
		}
		x.body(h, p, func([]byte) {})
	}
	s.worker.stuck.Add(-1)
}

// Next returns the next piece of the body, valid until the following call,
// and whether another is already there (so the caller may hold back a
// flush). After the last piece it returns io.EOF, or *AppError when the
// application failed mid-response, *WorkerError, or ErrTimedOut.
func (x *Exchange) Next() (data []byte, more bool, err error) {
	if x.rb != nil {
		data, more, err = x.rb.pop()
		if err == io.EOF && x.gone.Load() {
			err = ErrCanceled // what the worker sent after the abort is not the whole body
		}
		return data, more, err
	}
	if len(x.chunks) > 0 {
		data = x.chunks[0]
		x.chunks = x.chunks[1:]
		if data == nil && len(x.chunks) == 0 {
			return nil, false, x.end // a failure recorded by collect
		}
		return data, len(x.chunks) > 0, nil
	}
	if x.end == nil {
		return nil, false, io.EOF
	}
	return nil, false, x.end
}

// Ready reports whether Next would return without waiting.
func (x *Exchange) Ready() bool {
	if x.rb != nil {
		return x.rb.ready()
	}
	return true
}

// OnCutOff gives the exchange a way to make the caller's write to its
// client fail at once, from another goroutine: it is called when the
// response is cut off because its client took nothing while responses
// were out of room (see respStore.evict), so the caller does not stay
// blocked on that client for --write-timeout, holding what it writes;
// Next then returns ErrCutOff. Only a response buffered in the front can
// be cut off; f is never called after Close begins.
func (x *Exchange) OnCutOff(f func()) {
	if x.rb != nil {
		x.rb.setInterrupt(f)
	}
}

// Abort tells the worker to stop producing the response (the client went
// away, the request was HEAD, or the head was refused): the application's
// iterator is closed. What it still sends is dropped.
func (x *Exchange) Abort() {
	if x.aborted || x.closed {
		return
	}
	x.aborted = true
	if x.rb != nil {
		// The pump owns the slot: it drops the rest once the worker
		// answers the abort. An abort for a finished request is ignored
		// by the worker. Without a pump, the response was finished.
		x.rb.close()
		if x.pumping {
			x.t.slot.sendAbort(x.t.id)
		}
		return
	}
	if !x.held {
		return
	}
	x.t.slot.sendAbort(x.t.id)
	x.rb = newRespBuffer(nil)
	x.rb.close()
	if x.afterInterim {
		go x.dropRest() // the head is still to come
		return
	}
	go x.pump()
}

// Close ends the exchange: a response not read to its end is aborted, and
// what was buffered is dropped. It does not wait for the worker. The
// memory of Response.Body may be reused once Close returns.
func (x *Exchange) Close() {
	if x.closed {
		return
	}
	if x.rb == nil && x.held {
		x.Abort()
	}
	x.closed = true
	if x.stopWait != nil {
		x.stopWait()
	}
	if x.rb != nil {
		x.rb.close()
	}
	x.chunks = nil
	x.unhold()
	if x.recycle != nil {
		putPayload(x.recycle)
		x.recycle = nil
		x.resp.Body = nil
	}
}

// finishSlot releases the slot: the response has been read off it (or the
// stream broke), so the next request there may go ahead.
func (x *Exchange) finishSlot() {
	if !x.held {
		return
	}
	x.held = false
	if x.wsEnd != nil {
		close(x.wsEnd)
	}
	x.p.release(x.t, true)
}
