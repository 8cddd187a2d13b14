package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Close codes (RFC 6455 §7.4.1, and IANA's registry).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005 // never sent: no code in the peer's close frame
	CloseAbnormal        = 1006 // never sent: the connection dropped without a close
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseMandatoryExt    = 1010
	CloseInternalError   = 1011
	CloseServiceRestart  = 1012
	CloseTryAgainLater   = 1013
)

// Defaults of Options (uvicorn's where uvicorn has the setting).
const (
	DefaultMaxMessageSize = 16 << 20
	DefaultPingInterval   = 20 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultCloseTimeout   = 5 * time.Second
	DefaultInQueueBytes   = 1 << 20
	DefaultOutQueue       = 16
	DefaultCompressMin    = 128
)

// lingerTimeout and lingerMax bound the reading (and dropping) of what a
// failed peer still sends after our close frame: the close frame must reach
// it before a RST (unread input at close) could destroy it.
const (
	lingerTimeout = 2 * time.Second
	lingerMax     = 1 << 20
)

// Options bound one connection. Zero fields take the defaults; a negative
// PingInterval turns keep-alive pings off.
type Options struct {
	// MaxMessageSize bounds a message, compressed and decompressed; a
	// larger one fails the connection with 1009 (uvicorn's --ws-max-size).
	MaxMessageSize int64
	// PingInterval is how often the server pings; PingTimeout how long it
	// waits for the pong before it fails the connection with 1011
	// (uvicorn's --ws-ping-interval and --ws-ping-timeout).
	PingInterval, PingTimeout time.Duration
	// WriteTimeout bounds one write to the client; a client that reads
	// nothing for that long is dropped.
	WriteTimeout time.Duration
	// CloseTimeout bounds the wait for the peer's close frame once ours is
	// out.
	CloseTimeout time.Duration
	// InQueueBytes bounds the messages received but not yet taken by
	// Receive (plus 64 bytes each); past it the reader stops reading.
	InQueueBytes int
	// OutQueue bounds the messages given to Send but not yet written;
	// past it Send waits.
	OutQueue int
	// CompressMin is the smallest message compressed, when
	// permessage-deflate was negotiated.
	CompressMin int
	// Observer, when set, sees every message.
	Observer Observer
	// Deliver, when set, takes each message from the client in the
	// connection's reader goroutine, instead of the incoming queue and
	// Receive: one goroutine hand-off less per message for an upstream that
	// only forwards them (the front's relay to a worker slot). While it
	// blocks, the reader does not read: the same backpressure as a full
	// queue. An error drops the connection. Receive then returns only the
	// final *CloseError.
	Deliver func(Message) error
}

func (o *Options) defaults() {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.InQueueBytes <= 0 {
		o.InQueueBytes = DefaultInQueueBytes
	}
	if o.OutQueue <= 0 {
		o.OutQueue = DefaultOutQueue
	}
	if o.CompressMin <= 0 {
		o.CompressMin = DefaultCompressMin
	}
}

// An Observer sees a connection's messages as they pass, for metrics. It
// is called from the connection's goroutines and must not block.
type Observer interface {
	// Message reports one whole message: in from the client or out to
	// it, with its size before compression.
	Message(in bool, size int)
}

// A Stream is the byte stream a WebSocket runs on: a hijacked net.Conn, or
// an HTTP/2 stream adapted to it. Close must unblock a Read in progress.
// A Stream may also have CloseWrite (half-close, to let the close frame
// reach the peer before the connection ends) and Flush (for a buffered
// stream, called after each frame).
type Stream interface {
	io.Reader
	io.Writer
	Close() error
	SetWriteDeadline(t time.Time) error
}

// A Message is one whole WebSocket message.
type Message struct {
	Text bool // a text message (valid UTF-8); else binary
	Data []byte
}

// A CloseError ends Receive: the connection is closed. Code is the peer's
// close code (1005 when its close frame had none), the code the server
// failed the connection with, or 1006 when it dropped without a close.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return "websocket: closed with code " + strconv.Itoa(e.Code)
}

// ErrClosed is returned by Send and Close once the connection is closing.
var ErrClosed = errors.New("websocket: connection closed")

// ErrInvalidUTF8 is returned by Send for a text message that is not UTF-8.
var ErrInvalidUTF8 = errors.New("websocket: text message is not valid UTF-8")

// A Summary describes a finished connection, for the access log and
// metrics.
type Summary struct {
	Duration               time.Duration
	MessagesIn, BytesIn    int64 // from the client, sizes decompressed
	MessagesOut, BytesOut  int64 // to the client, sizes before compression
	Code                   int   // as CloseError.Code
	Reason                 string
	ClosedByPeer           bool // the client sent the first close frame
	ClosedByServer         bool // the server sent the first close frame
	SentCode, ReceivedCode int  // close codes on the wire; 0: none
}

type outFrame struct {
	op   ws.OpCode
	data []byte
}

// A Conn is one accepted WebSocket connection. Run serves it; Receive,
// Send and Close are the upstream's side, safe to call from another
// goroutine than Run's (Receive from one goroutine at a time).
type Conn struct {
	s     Stream
	br    *bufio.Reader
	opts  Options
	defl  *DeflateParams
	infl  inflater
	start time.Time

	in   inQueue
	out  chan outFrame // the upstream's messages, and its close
	ctrl chan outFrame // pongs and the engine's close: written first
	pong chan struct{}

	dead         chan struct{} // closed by abort
	wdone        chan struct{} // closed when the writer has exited
	closeWritten chan struct{} // closed when a close frame went out
	abortOnce    sync.Once

	mu         sync.Mutex
	closing    bool // a close frame is queued or sent: Send fails
	byServer   bool
	byPeer     bool
	sentCode   int
	recvCode   int
	recvReason string
	failCode   int // the code the server failed the connection with

	msgsIn, bytesIn, msgsOut, bytesOut atomic.Int64

	hdr appendWriter // frame header scratch, the writer's
}

// NewConn makes a connection on s after an accepted handshake hs (for its
// negotiated extension). buffered is input already read past the handshake
// (http1.ResponseWriter.Hijack's), read before s.
func NewConn(s Stream, buffered []byte, hs *Handshake, opts Options) *Conn {
	opts.defaults()
	var r io.Reader = s
	if len(buffered) > 0 {
		r = io.MultiReader(bytes.NewReader(buffered), s)
	}
	c := &Conn{
		s:            s,
		br:           bufio.NewReaderSize(r, 4096),
		opts:         opts,
		out:          make(chan outFrame, opts.OutQueue),
		ctrl:         make(chan outFrame, 4),
		pong:         make(chan struct{}, 1),
		dead:         make(chan struct{}),
		wdone:        make(chan struct{}),
		closeWritten: make(chan struct{}),
	}
	if hs != nil && hs.Deflate != nil {
		c.defl = hs.Deflate
		c.infl.keep = !hs.Deflate.ClientNoContextTakeover
	}
	c.in.init(opts.InQueueBytes)
	return c
}

// Run serves the connection until it ends (close handshake done, the
// connection failed or dropped) and returns its summary. The Stream is
// closed when Run returns. Receive returns a *CloseError after the last
// message once Run is done with the reading side.
func (c *Conn) Run() Summary {
	c.start = time.Now()
	go c.writeLoop()
	c.readLoop()
	c.abort()
	<-c.wdone
	s := c.summary()
	c.in.finish(&CloseError{Code: s.Code, Reason: s.Reason})
	return s
}

func (c *Conn) summary() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Summary{
		Duration:     time.Since(c.start),
		MessagesIn:   c.msgsIn.Load(),
		BytesIn:      c.bytesIn.Load(),
		MessagesOut:  c.msgsOut.Load(),
		BytesOut:     c.bytesOut.Load(),
		ClosedByPeer: c.byPeer, ClosedByServer: c.byServer,
		SentCode: c.sentCode, ReceivedCode: c.recvCode,
	}
	switch {
	case c.recvCode != 0:
		s.Code, s.Reason = c.recvCode, c.recvReason
	case c.failCode != 0:
		s.Code = c.failCode
	default:
		s.Code = CloseAbnormal
	}
	return s
}

// Receive returns the next whole message from the client, waiting for
// one. After the last message it returns a *CloseError.
func (c *Conn) Receive(ctx context.Context) (Message, error) {
	return c.in.pop(ctx)
}

// Send queues m for the client, waiting while the outgoing queue is full
// (a slow client slows its sender). The Conn owns m.Data from then on.
func (c *Conn) Send(ctx context.Context, m Message) error {
	if m.Text && !utf8.Valid(m.Data) {
		return ErrInvalidUTF8
	}
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return ErrClosed
	}
	op := ws.OpBinary
	if m.Text {
		op = ws.OpText
	}
	select {
	case c.out <- outFrame{op: op, data: m.Data}:
		return nil
	case <-c.dead:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close starts the close handshake with code and reason, after the
// messages already queued; the connection ends when the client answers,
// or after Options.CloseTimeout. If ctx ends before the close frame could
// be queued (the client reads nothing), the connection is dropped.
// code must be one an endpoint may send (1000..1003, 1007..1014,
// 3000..4999); reason at most 123 bytes of UTF-8.
func (c *Conn) Close(ctx context.Context, code int, reason string) error {
	if !sendableCode(code) || len(reason) > 123 || !utf8.ValidString(reason) {
		return errors.New("websocket: invalid close code or reason")
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closing, c.byServer, c.sentCode = true, true, code
	c.mu.Unlock()
	select {
	case c.out <- outFrame{op: ws.OpClose, data: closeBody(code, reason)}:
		return nil
	case <-c.dead:
		return ErrClosed
	case <-ctx.Done():
		c.abort()
		return ctx.Err()
	}
}

// Abort drops the connection at once, without a close handshake.
func (c *Conn) Abort() { c.abort() }

// Stats returns the messages and bytes so far, for gauges.
func (c *Conn) Stats() (msgsIn, bytesIn, msgsOut, bytesOut int64) {
	return c.msgsIn.Load(), c.bytesIn.Load(), c.msgsOut.Load(), c.bytesOut.Load()
}

func (c *Conn) abort() {
	c.abortOnce.Do(func() {
		close(c.dead)
		c.s.Close()
	})
}

// sendableCode reports a close code an endpoint may put in a close frame.
func sendableCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

func closeBody(code int, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return nil
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	return append(b, reason...)
}

// putCtrl queues a control frame of the engine's; false when the writer is
// gone.
func (c *Conn) putCtrl(f outFrame) bool {
	select {
	case c.ctrl <- f:
		return true
	case <-c.wdone:
	case <-c.dead:
	}
	return false
}

// waitCloseWritten waits until our close frame is out or the writer gone.
func (c *Conn) waitCloseWritten() {
	select {
	case <-c.closeWritten:
	case <-c.wdone:
	}
}

// fail fails the connection (RFC 6455 §7.1.7): a close frame with code,
// then the connection ends. The reader lingers, dropping input, so that
// the close frame reaches the peer before the connection closes.
func (c *Conn) fail(code int, reason string) {
	if !c.closeByServer(code) {
		c.putCtrl(outFrame{op: ws.OpClose, data: closeBody(code, reason)})
	}
	c.waitCloseWritten()
	if cw, ok := c.s.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		return
	}
	t := time.AfterFunc(lingerTimeout, c.abort)
	defer t.Stop()
	io.Copy(io.Discard, io.LimitReader(c.br, lingerMax))
}

// checkHeader holds a frame header to RFC 6455 §5 (and RFC 7692's RSV1);
// it returns the close code for a bad one, or 0.
func (c *Conn) checkHeader(h ws.Header, inMsg bool) (int, string) {
	switch {
	case h.OpCode.IsReserved():
		return CloseProtocolError, "reserved opcode"
	case !h.Masked:
		return CloseProtocolError, "unmasked frame"
	case h.OpCode.IsControl():
		switch {
		case h.Length > 125:
			return CloseProtocolError, "control frame payload over 125 bytes"
		case !h.Fin:
			return CloseProtocolError, "fragmented control frame"
		case h.Rsv != 0:
			return CloseProtocolError, "reserved bits set"
		}
		return 0, ""
	case h.Rsv2() || h.Rsv3():
		return CloseProtocolError, "reserved bits set"
	case h.Rsv1() && (c.defl == nil || h.OpCode == ws.OpContinuation):
		return CloseProtocolError, "reserved bits set"
	case h.OpCode == ws.OpContinuation && !inMsg:
		return CloseProtocolError, "continuation frame outside a message"
	case h.OpCode != ws.OpContinuation && inMsg:
		return CloseProtocolError, "new message inside a fragmented message"
	}
	return 0, ""
}

// readPayload appends n bytes read from r to b, growing b as the bytes
// arrive (never by the declared length alone: a peer that announces 16 MiB
// and sends nothing costs nothing).
func readPayload(r io.Reader, b []byte, n int64) ([]byte, error) {
	for n > 0 {
		if len(b) == cap(b) {
			grow := max(min(int64(cap(b)), n), 4096)
			b = append(b[:cap(b)], make([]byte, grow)...)[:len(b)]
		}
		k := min(int64(cap(b)-len(b)), n)
		m, err := io.ReadFull(r, b[len(b):len(b)+int(k)])
		b = b[:len(b)+m]
		n -= int64(m)
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// readLoop reads frames until the connection's reading side is done.
func (c *Conn) readLoop() {
	var (
		hb      [ws.MaxHeaderSize - 2]byte
		ctl     [125]byte
		msg     []byte
		inMsg   bool
		text    bool
		deflate bool
		u       utf8Check
	)
	for {
		h, err := ws.ReadHeaderBuffer(c.br, hb[:])
		if err != nil {
			if err == ws.ErrHeaderLengthMSB || err == ws.ErrHeaderLengthUnexpected {
				c.fail(CloseProtocolError, "invalid payload length")
			}
			return
		}
		if code, why := c.checkHeader(h, inMsg); code != 0 {
			c.fail(code, why)
			return
		}
		if h.OpCode.IsControl() {
			p := ctl[:h.Length]
			if _, err := io.ReadFull(c.br, p); err != nil {
				return
			}
			ws.Cipher(p, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				if !c.putCtrl(outFrame{op: ws.OpPong, data: append([]byte(nil), p...)}) {
					return
				}
			case ws.OpPong:
				signal(c.pong)
			case ws.OpClose:
				c.peerClose(p)
				return
			}
			continue
		}
		if !inMsg {
			inMsg, text, deflate, u, msg = true, h.OpCode == ws.OpText, h.Rsv1(), utf8Check{}, nil
		}
		if h.Length > c.opts.MaxMessageSize-int64(len(msg)) {
			c.fail(CloseTooBig, "message too big")
			return
		}
		start := len(msg)
		if msg, err = readPayload(c.br, msg, h.Length); err != nil {
			return
		}
		ws.Cipher(msg[start:], h.Mask, 0)
		if text && !deflate && !u.feed(msg[start:]) {
			c.fail(CloseInvalidPayload, "invalid UTF-8 in a text message")
			return
		}
		if !h.Fin {
			continue
		}
		inMsg = false
		if deflate {
			if msg, err = c.infl.inflate(msg, c.opts.MaxMessageSize); err != nil {
				if err == errTooBig {
					c.fail(CloseTooBig, "message too big")
				} else {
					c.fail(CloseInvalidPayload, "invalid compressed data")
				}
				return
			}
			if text && !utf8.Valid(msg) {
				c.fail(CloseInvalidPayload, "invalid UTF-8 in a text message")
				return
			}
		} else if text && !u.complete() {
			c.fail(CloseInvalidPayload, "invalid UTF-8 in a text message")
			return
		}
		if !c.deliver(Message{Text: text, Data: msg}) {
			return
		}
		msg = nil
	}
}

// deliver hands a message to the upstream, unless the upstream has closed
// (then messages are dropped while the close handshake finishes).
func (c *Conn) deliver(m Message) bool {
	c.msgsIn.Add(1)
	c.bytesIn.Add(int64(len(m.Data)))
	if c.opts.Observer != nil {
		c.opts.Observer.Message(true, len(m.Data))
	}
	c.mu.Lock()
	drop := c.byServer
	c.mu.Unlock()
	if drop {
		return true
	}
	if c.opts.Deliver != nil {
		return c.opts.Deliver(m) == nil
	}
	return c.in.push(m, c.dead)
}

// peerClose handles the client's close frame: checked (RFC 6455 §7.4: a
// 1-byte payload, a code an endpoint may not send, or a reason that is not
// UTF-8 fail the connection), then answered with the same code unless ours
// went first.
func (c *Conn) peerClose(p []byte) {
	code := CloseNoStatus
	reason := ""
	if len(p) == 1 {
		c.fail(CloseProtocolError, "close frame with a 1-byte payload")
		return
	}
	if len(p) >= 2 {
		code = int(binary.BigEndian.Uint16(p))
		reason = string(p[2:])
		if !sendableCode(code) {
			c.fail(CloseProtocolError, "invalid close code")
			return
		}
		if !utf8.ValidString(reason) {
			c.fail(CloseInvalidPayload, "invalid UTF-8 in the close reason")
			return
		}
	}
	c.mu.Lock()
	already := c.closing
	c.closing, c.recvCode, c.recvReason = true, code, reason
	if !already {
		c.byPeer, c.sentCode = true, code
	}
	c.mu.Unlock()
	if !already {
		c.putCtrl(outFrame{op: ws.OpClose, data: closeBody(code, "")})
	}
	c.waitCloseWritten()
}

// writeLoop writes frames: the engine's control frames first, then the
// upstream's messages, and the keep-alive pings. It exits after a close
// frame (nothing may follow one), on a write error, or when the connection
// is aborted.
func (c *Conn) writeLoop() {
	defer close(c.wdone)
	var pingC <-chan time.Time
	var pingT *time.Timer
	if c.opts.PingInterval > 0 {
		pingT = time.NewTimer(c.opts.PingInterval)
		defer pingT.Stop()
		pingC = pingT.C
	}
	awaiting := false
	for {
		var f outFrame
		select {
		case f = <-c.ctrl:
		default:
			select {
			case f = <-c.ctrl:
			case f = <-c.out:
			case <-c.pong:
				if awaiting {
					awaiting = false
					pingT.Reset(c.opts.PingInterval)
				}
				continue
			case <-pingC:
				if awaiting {
					c.pingTimeout()
					return
				}
				f = outFrame{op: ws.OpPing}
				awaiting = true
				pingT.Reset(c.opts.PingTimeout)
			case <-c.dead:
				return
			}
		}
		if err := c.writeFrame(f); err != nil {
			c.abort()
			return
		}
		if f.op == ws.OpClose {
			close(c.closeWritten)
			time.AfterFunc(c.opts.CloseTimeout, c.abort)
			return
		}
	}
}

// pingTimeout fails a peer that did not answer a ping in time: 1011, then
// the connection is dropped (a peer that answers nothing will not answer
// the close either).
func (c *Conn) pingTimeout() {
	if !c.closeByServer(CloseInternalError) {
		c.writeFrame(outFrame{op: ws.OpClose, data: closeBody(CloseInternalError, "keepalive ping timeout")})
	}
	close(c.closeWritten)
	c.abort()
}

// closeByServer marks the connection closing on the server's side with
// code, unless it was closing already (which it reports), and records code
// as the failure when neither side had given one.
func (c *Conn) closeByServer(code int) (already bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	already = c.closing
	c.closing = true
	if !already {
		c.byServer, c.sentCode = true, code
	}
	if c.failCode == 0 && c.recvCode == 0 {
		c.failCode = code
	}
	return already
}

// writeFrame writes one unfragmented frame, compressing a data frame when
// permessage-deflate is on and it pays.
func (c *Conn) writeFrame(f outFrame) error {
	payload := f.data
	h := ws.Header{Fin: true, OpCode: f.op, Length: int64(len(payload))}
	if f.op.IsData() {
		c.msgsOut.Add(1)
		c.bytesOut.Add(int64(len(payload)))
		if c.opts.Observer != nil {
			c.opts.Observer.Message(false, len(payload))
		}
		if c.defl != nil && len(payload) >= c.opts.CompressMin {
			if z, err := compress(payload, c.defl.ServerMaxWindowBits); err == nil && len(z) < len(payload) {
				payload, h.Length, h.Rsv = z, int64(len(z)), ws.Rsv(true, false, false)
			}
		}
	}
	c.hdr.b = c.hdr.b[:0]
	if err := ws.WriteHeader(&c.hdr, h); err != nil {
		return err
	}
	c.s.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	var err error
	if len(payload) <= 4096 {
		c.hdr.b = append(c.hdr.b, payload...)
		_, err = c.s.Write(c.hdr.b)
	} else {
		bufs := net.Buffers{c.hdr.b, payload}
		_, err = bufs.WriteTo(c.s)
	}
	if err == nil {
		if fl, ok := c.s.(interface{ Flush() error }); ok {
			err = fl.Flush()
		}
	}
	return err
}
