package workers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// A WebSocket holds its slot for the connection's life: the front sends it
// with Send (an environ with gowsgi.websocket), reads the application's
// answer with WebSocketAnswer, then relays messages both ways with WSRead
// and WSSend until the application returns (WSRead's io.EOF). See the wire
// package for the frames.

// wsSlotBuf is the read buffer of a slot that carries a WebSocket.
const wsSlotBuf = 4 << 10

// WSAnswer is the application's answer to a WebSocket handshake.
type WSAnswer struct {
	// Accepted: websocket.accept, with the chosen Subprotocol ("" for
	// none); its header fields went to WebSocketAnswer's header.
	Accepted    bool
	Subprotocol string
	// Closed: websocket.close before any accept; the front answers 403.
	// The exchange is still held: finish it with WSRead until it ends.
	Closed bool
	// Response is an HTTP response instead (the websocket.http.response
	// extension): relay it as Head's, its body with Next, then Close.
	Response *Response
}

// wsBufDone drops the small read buffer of a slot whose WebSocket ended
// (see WSRead), so that its next request's first read takes a full-size
// one. The slot is still the exchange's.
func wsBufDone(s *Slot) {
	if s.r == s.w && len(s.buf) < slotBufSize {
		if len(s.buf) == wsSlotBuf {
			wsBufs.Put(s.buf) //nolint:staticcheck // see shedBuf
		}
		s.buf, s.r, s.w = nil, 0, 0
	}
}

// wsBufs hold the small read buffers of WebSocket slots (wsSlotBuf) that
// are reading: a quiet one gives its buffer back (WSShed).
var wsBufs = sync.Pool{New: func() any { return make([]byte, wsSlotBuf) }}

// takeWake returns the function a parked WebSocket relay left (WSPark),
// to run once the slot's input or end is in, and clears it; a no-op when
// none. s.inMu is held.
func (s *Slot) takeWake() func() {
	f := s.wsWake
	if f == nil {
		return noWake
	}
	s.wsWake = nil
	return f
}

func noWake() {}

// WSPark parks the reading of the application's frames, instead of a
// goroutine waiting in WSRead: wake runs (once, on the mux's reader
// goroutine: it must not block) when the worker's next bytes for this
// slot arrive, or its connection ends. It reports false, arranging
// nothing, when WSRead has something to read now (bytes buffered, a large
// frame in progress, the end): call WSRead. Only on a mux, with the
// exchange still held; from the goroutine that calls WSRead.
func (x *Exchange) WSPark(wake func()) bool {
	if !x.held {
		return false
	}
	s := x.t.slot
	if s.mx == nil || s.part != nil || s.r != s.w || s.broken.Load() {
		return false
	}
	if s.owned && s.ownedBuf != nil {
		// The last large message went to the client: its buffer goes
		// back now, not with the next message.
		putPayload(s.ownedBuf)
		s.ownedBuf = nil
	}
	// The frame read last is consumed, and an acknowledgement held back
	// goes now: a parked reader asks for no next frame, which is when
	// they go otherwise (muxReadFrame, muxRecv), and the worker may be
	// waiting for them to send what would wake it.
	s.doneFrame()
	s.mx.flushLazy()
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.inR < len(s.in) || s.inErr != nil {
		return false
	}
	s.wsWake = wake
	return true
}

// WSShed gives back the read buffers (the slot's and its inbox) of a
// WebSocket whose reading is parked (WSPark) with nothing unread: a quiet
// WebSocket holds none; WSRead takes a buffer again. Any goroutine.
func (x *Exchange) WSShed() {
	if x.t == nil {
		return
	}
	s := x.t.slot
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.wsWake == nil {
		return // reading, or not parked: the buffers are the reader's
	}
	// Parked: no goroutine reads s.buf until wake runs, after this unlock.
	if s.r == s.w && s.part == nil && s.buf != nil {
		if len(s.buf) == wsSlotBuf {
			wsBufs.Put(s.buf) //nolint:staticcheck // see shedBuf
		} // a larger one (a large message's) goes to the GC
		s.buf, s.r, s.w = nil, 0, 0
	}
	if s.inR == len(s.in) {
		s.in, s.inR = nil, 0
	}
}

// WebSocketAnswer waits for the application's answer to a WebSocket
// handshake. Its errors are Head's.
func (x *Exchange) WebSocketAnswer(header func(name, value string)) (*WSAnswer, error) {
	h, p, err := x.firstFrame()
	if err != nil {
		return nil, err
	}
	// The worker has the request: it is never sent again, so its frame
	// (the caller's environ buffer) is not kept for the connection's life.
	x.frame = nil
	x.wsEnd = make(chan struct{}) // WSSend's wait for credit ends with the exchange (finishSlot)
	switch h.Type {
	case wire.WSAccept:
		sub, _, err := wire.DecodeHead(p, header)
		if err != nil {
			x.t.slot.protocolError()
			return nil, x.fail(fmt.Errorf("bad websocket.accept frame: %v", err))
		}
		return &WSAnswer{Accepted: true, Subprotocol: sub}, nil
	case wire.WSClose:
		return &WSAnswer{Closed: true}, nil
	}
	resp, err := x.head(h, p, header)
	if err != nil {
		return nil, err
	}
	return &WSAnswer{Response: resp}, nil
}

// WSRead returns the application's next WebSocket frame: wire.WSText or
// wire.WSBinary with the message, or wire.WSClose with its u16 code and
// reason. The payload is valid until the next WSRead (it is in the slot's
// buffer, or a large frame's memory of its own): the front writes it to
// the client before it reads on, so a message is not copied. When the
// application has returned it gives io.EOF (the slot is free), *AppError
// when it failed, or *WorkerError.
func (x *Exchange) WSRead() (wire.Type, []byte, error) {
	if !x.held {
		if x.end != nil && x.end != io.EOF {
			return 0, nil, x.end
		}
		return 0, nil, io.EOF
	}
	s := x.t.slot
	if len(s.buf) != wsSlotBuf && s.r == s.w && s.part == nil {
		// A WebSocket's messages are small, and it may stay open for
		// hours: its slot reads into a small buffer (fill grows it for a
		// larger message) instead of the slot's 64 KiB, which at 1,000
		// open WebSockets was 64 MiB of the front's heap; and a quiet one
		// gives even that back (WSShed), so that it may have none here.
		if s.worker.asgi && len(s.buf) == slotBufSize {
			slotBufs.Put(s.buf) //nolint:staticcheck // see shedBuf
		}
		s.buf, s.r, s.w = wsBufs.Get().([]byte), 0, 0
	}
	if s.owned && s.ownedBuf != nil {
		// The last large message went to the client: its buffer goes back.
		putPayload(s.ownedBuf)
		s.ownedBuf = nil
	}
	h, p, err := s.readFrame()
	if err != nil {
		x.end = x.fail(err)
		return 0, nil, x.end
	}
	if h.ID != x.t.id {
		s.protocolError()
		x.end = x.fail(fmt.Errorf("frame for request %d while serving WebSocket %d", h.ID, x.t.id))
		return 0, nil, x.end
	}
	switch h.Type {
	case wire.WSText, wire.WSBinary, wire.WSClose:
		return h.Type, p, nil
	case wire.End:
		wsBufDone(s)
		x.finishSlot()
		x.end = io.EOF
		return 0, nil, io.EOF
	case wire.Error:
		x.end = &AppError{Msg: string(p)}
		wsBufDone(s)
		x.finishSlot()
		return 0, nil, x.end
	}
	s.protocolError()
	x.end = x.fail(fmt.Errorf("unexpected frame type %s on a WebSocket", h.Type))
	return 0, nil, x.end
}

// WSSend writes a frame to the application: wire.WSText or wire.WSBinary
// with a message, or WSDisconnect's. A message waits while the
// application does not receive (the worker has not acknowledged wsWindow
// of them, see Slot.awaitCredit): that is the backpressure that stops the
// front reading the client. The wait ends when the worker dies or the
// application returns (the message is dropped, as the worker would drop
// it), and when the client's connection is dropped (see WSClientGone;
// ErrClientGone). One goroutine sends at a time.
func (x *Exchange) WSSend(t wire.Type, p []byte) error {
	err := x.sendFlow(t, p, x.wsGone)
	if err == errWSEnded {
		return nil
	}
	return err
}

// sendFlow writes a frame of type t with payload p to the application of
// x's slot. A message (T, D) or a piece of a streamed body (B) first
// waits for credit (Slot.awaitCredit), until the slot is released
// (errWSEnded) or gone closes (ErrClientGone).
func (x *Exchange) sendFlow(t wire.Type, p []byte, gone <-chan struct{}) error {
	s := x.t.slot
	if s.mx != nil && (t == wire.WSText || t == wire.WSBinary || t == wire.Body) {
		if err := s.awaitCredit(len(p), x.wsEnd, gone); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken.Load() {
		return ErrWorkerGone
	}
	s.wbuf = wire.AppendHeader(s.wbuf, t, x.t.id, len(p))
	if t == wire.Body && s.mx != nil && len(p) > inlineBody {
		// A large piece of a streamed body is written from its own
		// buffer (BodyBuf), which goes back to its pool once written.
		s.bodies = append(s.bodies, pendingBody{len(s.wbuf), p, true})
	} else {
		s.wbuf = append(s.wbuf, p...)
		if t == wire.Body {
			FreeBodyBuf(p)
		}
	}
	s.flushLocked()
	if s.broken.Load() {
		return ErrWorkerGone
	}
	return nil
}

// WSClientGone gives the exchange a channel that closes when the client's
// connection is dropped: WSSend then stops waiting for the application
// to receive, so the relay can end and tell it websocket.disconnect.
// Call it before the first WSSend.
func (x *Exchange) WSClientGone(gone <-chan struct{}) { x.wsGone = gone }

// ErrClientGone: WSSend gave up on a message because the client's
// connection was dropped while it waited for the application.
var ErrClientGone = errors.New("the client's connection was dropped")

// WSDisconnect tells the application that the connection closed with code
// and the client's reason ("" for none): its receive() returns
// websocket.disconnect with both.
func (x *Exchange) WSDisconnect(code int, reason string) error {
	b := make([]byte, 2, 2+len(reason))
	binary.LittleEndian.PutUint16(b, uint16(code))
	return x.WSSend(wire.Abort, append(b, reason...))
}

// Retiring reports whether the worker serving x is being replaced (reload,
// recycling, scale-down): it takes no new requests and waits for its own.
func (x *Exchange) Retiring() bool {
	return x.t != nil && x.t.slot.worker.retiring.Load()
}
