package workers

import (
	"errors"
	"sync"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// A request sent with Request.BodyStream has its body streamed to the
// application after Send, by one goroutine other than the one that reads
// the response: AwaitBodyWanted (for a client that waits for 100
// Continue), SendBody for each piece as it comes from the client, then
// EndBody, or Disconnect when the body broke off. The pieces go as B
// frames under the same credit as a WebSocket's messages (see
// Slot.awaitCredit): an application that does not receive() stops the
// sender, and so the reading of the client. See the wire package's
// "Streamed request bodies".

// BodyPiece is the size of BodyBuf's buffers: the most one piece of a
// streamed body carries (and one http.request, asgi.py's
// ASGI_BODY_CHUNK).
const BodyPiece = 64 << 10

var bodyBufs = sync.Pool{New: func() any { b := make([]byte, BodyPiece); return &b }}

// BodyBuf returns a buffer of BodyPiece bytes for the next piece of a
// streamed body: SendBody takes it over, and gives it back once the
// piece is written to the worker (so a piece is not copied on its way);
// FreeBodyBuf gives back one that was not sent.
func BodyBuf() []byte { return *bodyBufs.Get().(*[]byte) }

// FreeBodyBuf gives back a buffer from BodyBuf.
func FreeBodyBuf(b []byte) {
	if cap(b) == BodyPiece {
		b = b[:BodyPiece]
		bodyBufs.Put(&b)
	}
}

// freePooled gives back the streamed bodies' buffers among bodies, once
// written.
func freePooled(bodies []pendingBody) {
	for _, b := range bodies {
		if b.pooled {
			FreeBodyBuf(b.b)
		}
	}
}

// ErrEnded: the request's slot was released (its response ended, or the
// worker broke): nothing more of its body goes to the application.
var ErrEnded = errors.New("the request has ended")

// AwaitBodyWanted waits until the application first calls receive() (the
// worker's G frame), so that the body is read from the client only then.
// It ends early with ErrEnded when the request ends first (the
// application answered without reading the body), ErrWorkerGone, or
// ErrClientGone when stop closes.
func (x *Exchange) AwaitBodyWanted(stop <-chan struct{}) error {
	s := x.t.slot
	if s.mx == nil {
		return nil
	}
	id := x.t.id
	for {
		s.credMu.Lock()
		if s.wanted == id {
			s.credMu.Unlock()
			return nil
		}
		if s.credWait == nil {
			s.credWait = make(chan struct{})
		}
		wait := s.credWait
		s.credMu.Unlock()
		select {
		case <-wait:
		case <-s.mx.dead:
			return ErrWorkerGone
		case <-s.worker.Exited():
			return ErrWorkerGone
		case <-x.wsEnd:
			return ErrEnded
		case <-stop:
			return ErrClientGone
		}
	}
}

// SendBody sends p, the next piece of a streamed request body, to the
// application. p is from BodyBuf, and the exchange's from then on, sent
// or not (see BodyBuf). It waits while the
// application has not received WSWindow of what was sent (that is the
// backpressure on the client), and gives up with ErrEnded once the
// request has ended, ErrWorkerGone, or ErrClientGone when stop closes.
func (x *Exchange) SendBody(p []byte, stop <-chan struct{}) error {
	select {
	case <-x.wsEnd:
		FreeBodyBuf(p)
		return ErrEnded
	default:
	}
	err := x.sendFlow(wire.Body, p, stop)
	if err == errWSEnded {
		return ErrEnded
	}
	return err
}

// EndBody tells the application that the body is complete: its last
// http.request has more_body False.
func (x *Exchange) EndBody() error {
	select {
	case <-x.wsEnd:
		return ErrEnded
	default:
	}
	return x.sendFlow(wire.End, nil, nil)
}

// Disconnect tells the application that its client has gone, from any
// goroutine: receive() returns http.disconnect, send() raises; the
// response, if one still comes, is ErrCanceled. The sender calls it when
// the body broke off (the client went, or broke a limit).
func (x *Exchange) Disconnect() { x.cancel() }
