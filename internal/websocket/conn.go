package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
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
	DefaultCompressMin    = 128
)

// readBufSize is the connection's input buffer: many small frames per read,
// while a large payload is read past it, straight into the message.
const readBufSize = 2048

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
	// nothing for that long is dropped. (The deadline is refreshed when
	// less than 7/8 of it is left, not on every frame: a write may get
	// between 7/8 of it and all of it.)
	WriteTimeout time.Duration
	// CloseTimeout bounds the wait for the peer's close frame once ours is
	// out.
	CloseTimeout time.Duration
	// InQueueBytes bounds the messages received but not yet taken by
	// Receive (plus 64 bytes each); past it the reader stops reading.
	InQueueBytes int
	// CompressMin is the smallest message compressed, when
	// permessage-deflate was negotiated.
	CompressMin int
	// Observer, when set, sees every message.
	Observer Observer
	// IdlePark is how long a connection served by Start waits for its
	// next frame before it parks (park.go): no goroutine and no input
	// buffer until its socket has input. Negative: never.
	IdlePark time.Duration
	// Deliver, when set, takes each message from the client in the
	// connection's reader goroutine, instead of the incoming queue and
	// Receive: one goroutine hand-off less per message for an upstream that
	// only forwards them (the front's relay to a worker slot). m.Data is
	// valid only until Deliver returns (the reader reuses it). While it
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
	if o.CompressMin <= 0 {
		o.CompressMin = DefaultCompressMin
	}
	if o.IdlePark == 0 {
		o.IdlePark = DefaultIdlePark
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

// A Conn is one accepted WebSocket connection. Run serves it; Receive,
// Send and Close are the upstream's side, safe to call from another
// goroutine than Run's (Receive from one goroutine at a time).
type Conn struct {
	s     Stream
	br    *bufio.Reader // the reader's; nil while parked
	pk    *parking      // nil: the connection never parks
	done  func(Summary) // Start's
	opts  Options
	defl  *DeflateParams
	infl  inflater
	start time.Time

	in inQueue

	// Writing. Nothing is queued: whoever has a frame to send (the
	// upstream's Send and Close, the reader's pongs and close frames, the
	// keep-alive timer's pings) takes wlock and writes it, so a message
	// goes from the upstream's goroutine to the socket with no hand-off,
	// and a client that reads nothing makes Send wait (backpressure).
	wlock   chan struct{} // a one-token lock that a select can wait for
	wdl     time.Time     // the write deadline in force (wlock's)
	wclosed bool          // a close frame went out: nothing may follow (wlock's)
	closeT  *time.Timer   // then, drops the connection after CloseTimeout (wlock's)

	dead         chan struct{} // closed by abort
	closeWritten chan struct{} // closed when a close frame went out
	abortOnce    sync.Once

	mu         sync.Mutex
	closing    bool // a close frame is queued or sent: Send fails
	byServer   bool
	byPeer     bool
	sentCode   int
	recvCode   int
	recvReason string
	failCode   int         // the code the server failed the connection with
	ping       *time.Timer // the keep-alive timer (see keepalive)
	awaiting   bool        // a keep-alive ping is out, its pong not back
	ended      bool        // Run is done: timers stay stopped

	msgsIn, bytesIn, msgsOut, bytesOut atomic.Int64
}

// NewConn makes a connection on s after an accepted handshake hs (for its
// negotiated extension). buffered is input already read past the handshake
// (http1.ResponseWriter.Hijack's), read before s.
func NewConn(s Stream, buffered []byte, hs *Handshake, opts Options) *Conn {
	opts.defaults()
	c := &Conn{
		s:            s,
		opts:         opts,
		wlock:        make(chan struct{}, 1),
		dead:         make(chan struct{}),
		closeWritten: make(chan struct{}),
	}
	var r io.Reader = s
	if opts.IdlePark > 0 {
		c.pk = parkable(s)
	}
	if c.pk != nil {
		c.pk.pr.pre = buffered
		r = c.pk.pr
	} else if len(buffered) > 0 {
		r = io.MultiReader(bytes.NewReader(buffered), s)
	}
	c.br = readBufs.Get().(*bufio.Reader)
	c.br.Reset(r)
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
// message once Run is done with the reading side. A connection served by
// Run never parks: Run's goroutine reads it.
func (c *Conn) Run() Summary {
	c.pk = nil
	c.begin()
	c.readLoop()
	return c.finish()
}

// Start serves the connection as Run does, but in the background: done
// gets the summary when it ends, on one of the connection's goroutines.
// While the connection is quiet, it holds no goroutine (see park.go).
func (c *Conn) Start(done func(Summary)) {
	c.done = done
	c.begin()
	go c.serve()
}

// serve reads until the connection parks or ends (then it tells done).
func (c *Conn) serve() {
	if c.readLoop() {
		return // parked: no longer this goroutine's
	}
	c.done(c.finish())
}

func (c *Conn) begin() {
	c.start = time.Now()
	if c.opts.PingInterval > 0 {
		c.mu.Lock()
		c.ping = time.AfterFunc(c.opts.PingInterval, c.keepalive)
		c.mu.Unlock()
	}
}

// finish ends the connection once the reader is done with it, and sums
// it up.
func (c *Conn) finish() Summary {
	c.abort()
	if c.br != nil {
		c.br.Reset(nil)
		readBufs.Put(c.br)
		c.br = nil
	}
	forget(c)
	// Wait for a write in progress (it fails at once on the closed stream)
	// and keep the lock: a later writer sees dead.
	c.wlock <- struct{}{}
	if c.closeT != nil {
		c.closeT.Stop()
	}
	c.mu.Lock()
	c.ended = true
	if c.ping != nil {
		c.ping.Stop()
	}
	c.mu.Unlock()
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

// Send writes m to the client, waiting while the client does not read (a
// slow client slows its sender). m.Data is not kept after Send returns.
// ctx bounds the wait for another writer; its deadline, when it has one,
// also bounds the write: if it passes before any of the frame went out,
// Send returns ctx.Err() and nothing was sent; if it passes in the middle
// of the frame, the connection is dropped.
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
	return c.write(ctx, op, m.Data)
}

// Close starts the close handshake with code and reason, after the
// messages already sent; the connection ends when the client answers, or
// after Options.CloseTimeout. If ctx ends before the close frame went out
// (the client reads nothing), the connection is dropped.
// code must be one an endpoint may send (1000..1003, 1007..1014,
// 3000..4999); reason at most 123 bytes of UTF-8.
func (c *Conn) Close(ctx context.Context, code int, reason string) error {
	if !sendableCode(code) || len(reason) > MaxCloseReason || !utf8.ValidString(reason) {
		return errors.New("websocket: invalid close code or reason")
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closing, c.byServer, c.sentCode = true, true, code
	c.mu.Unlock()
	err := c.write(ctx, ws.OpClose, closeBody(code, reason))
	if err != nil && err != ErrClosed {
		c.abort() // a close frame that did not go out in time
	}
	return err
}

// Abort drops the connection at once, without a close handshake.
func (c *Conn) Abort() { c.abort() }

// Stats returns the messages and bytes so far, for gauges.
func (c *Conn) Stats() (msgsIn, bytesIn, msgsOut, bytesOut int64) {
	return c.msgsIn.Load(), c.bytesIn.Load(), c.msgsOut.Load(), c.bytesOut.Load()
}

// Dead is closed once the connection has been dropped (it failed, a
// ping went unanswered, or Run ended): a relay that waits for its
// upstream (Options.Deliver) can stop waiting then.
func (c *Conn) Dead() <-chan struct{} { return c.dead }

func (c *Conn) abort() {
	c.abortOnce.Do(func() {
		close(c.dead)
		c.s.Close()
		if c.pk != nil {
			c.wake() // a parked reader reads the end, and finishes
		}
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

// MaxCloseReason is the longest close reason a close frame holds: its
// payload is at most 125 bytes, two of them the code (RFC 6455, 5.5).
const MaxCloseReason = 123

// ClipReason cuts reason to MaxCloseReason bytes, at a UTF-8 character
// boundary, so that Close takes it: an application's long reason costs
// its tail, not its close code.
func ClipReason(reason string) string {
	if len(reason) <= MaxCloseReason {
		return reason
	}
	n := MaxCloseReason
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}

func closeBody(code int, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return nil
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	return append(b, reason...)
}

// isDead reports whether the connection was dropped.
func (c *Conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// waitCloseWritten waits until our close frame is out or the connection
// dropped.
func (c *Conn) waitCloseWritten() {
	select {
	case <-c.closeWritten:
	case <-c.dead:
	}
}

// fail fails the connection (RFC 6455 §7.1.7): a close frame with code,
// then the connection ends. The reader lingers, dropping input, so that
// the close frame reaches the peer before the connection closes.
func (c *Conn) fail(code int, reason string) {
	if !c.closeByServer(code) {
		c.write(context.Background(), ws.OpClose, closeBody(code, reason))
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
// and sends nothing costs nothing). got sees each piece as it is read, at
// its offset in the payload, and may stop the read (errBadPayload): a
// text frame is unmasked and checked as it arrives, so that the octet that
// makes it invalid fails the connection at once, not once the rest of the
// frame, which may never come, is in.
func readPayload(r io.Reader, b []byte, n int64, got func(p []byte, off int64) bool) ([]byte, error) {
	var off int64
	for n > 0 {
		if len(b) == cap(b) {
			grow := max(min(int64(cap(b)), n), 4096)
			b = append(b[:cap(b)], make([]byte, grow)...)[:len(b)]
		}
		k := min(int64(cap(b)-len(b)), n)
		m, err := r.Read(b[len(b) : len(b)+int(k)])
		if m > 0 {
			p := b[len(b) : len(b)+m]
			b = b[:len(b)+m]
			n -= int64(m)
			if !got(p, off) {
				return b, errBadPayload
			}
			off += int64(m)
		}
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			if n == 0 && err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
	return b, nil
}

// errBadPayload stops readPayload at a piece its caller refused.
var errBadPayload = errors.New("websocket: invalid payload")

// readLoop reads frames until the connection's reading side is done, or
// until it parks (reported true: c is no longer the caller's).
func (c *Conn) readLoop() (parked bool) {
	var (
		hb      [ws.MaxHeaderSize - 2]byte
		ctl     [125]byte
		msg     []byte
		pooled  *[]byte // msg's buffer, when it goes back to msgBufs
		inMsg   bool
		text    bool
		deflate bool
		u       utf8Check
		// charged is what the message counts against MaxMessageSize: its
		// bytes, each frame at least one, so that a message of empty
		// fragments without end ends with 1009 like a large one.
		charged int64
	)
	for {
		if !inMsg && c.pk != nil && !c.pk.off && c.br.Buffered() == 0 && c.waitIdle() && c.park() {
			return true
		}
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
				// After our close frame no pong may go out (ErrClosed);
				// the reader goes on to the peer's close.
				if c.write(context.Background(), ws.OpPong, p) != nil && c.isDead() {
					return
				}
			case ws.OpPong:
				c.gotPong()
			case ws.OpClose:
				c.peerClose(p)
				return
			}
			continue
		}
		if !inMsg {
			inMsg, text, deflate, u, msg, charged = true, h.OpCode == ws.OpText, h.Rsv1(), utf8Check{}, nil, 0
			if c.opts.Deliver != nil {
				// Deliver does not keep the message: its buffer is reused.
				pooled = msgBufs.Get().(*[]byte)
				msg = (*pooled)[:0]
			}
		}
		if max(h.Length, 1) > c.opts.MaxMessageSize-charged {
			c.fail(CloseTooBig, "message too big")
			return
		}
		charged += max(h.Length, 1)
		checkUTF8 := text && !deflate
		msg, err = readPayload(c.br, msg, h.Length, func(p []byte, off int64) bool {
			ws.Cipher(p, h.Mask, int(off))
			return !checkUTF8 || u.feed(p)
		})
		if err == errBadPayload {
			c.fail(CloseInvalidPayload, "invalid UTF-8 in a text message")
			return
		}
		if err != nil {
			return
		}
		if !h.Fin {
			continue
		}
		inMsg = false
		data := msg
		if deflate {
			if data, err = c.infl.inflate(msg, c.opts.MaxMessageSize); err != nil {
				if err == errTooBig {
					c.fail(CloseTooBig, "message too big")
				} else {
					c.fail(CloseInvalidPayload, "invalid compressed data")
				}
				return
			}
			if text && !utf8.Valid(data) {
				c.fail(CloseInvalidPayload, "invalid UTF-8 in a text message")
				return
			}
		} else if text && !u.complete() {
			c.fail(CloseInvalidPayload, "invalid UTF-8 in a text message")
			return
		}
		if !c.deliver(Message{Text: text, Data: data}) {
			return
		}
		if pooled != nil {
			if cap(msg) <= maxPooledMsg {
				*pooled = msg[:0] // as readPayload grew it
				msgBufs.Put(pooled)
			}
			pooled = nil
		}
		msg = nil
	}
}

// msgBufs hold the buffers the reader assembles messages in when Deliver
// takes them: reused from one message to the next, and held by no quiet
// connection. One grown past maxPooledMsg is left to the GC.
var msgBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledMsg = 64 << 10

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
// UTF-8 fail the connection), then answered with the same code and reason
// (§5.5.1: "typically echos the status code it received"; uvicorn's
// websockets and wsproto implementations echo the reason too) unless ours
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
		c.write(context.Background(), ws.OpClose, closeBody(code, reason))
	}
	c.waitCloseWritten()
}

// keepalive runs on the keep-alive timer: it pings the client, and fails
// it if the last ping had no pong (the timer then ran PingTimeout after
// the ping; after a pong, gotPong re-armed it for PingInterval).
func (c *Conn) keepalive() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	if c.awaiting {
		c.mu.Unlock()
		c.pingTimeout()
		return
	}
	c.awaiting = true
	c.ping.Reset(c.opts.PingTimeout)
	c.mu.Unlock()
	c.write(context.Background(), ws.OpPing, nil) // an error dropped the connection
}

// gotPong re-arms the keep-alive timer after the pong of its ping.
func (c *Conn) gotPong() {
	c.mu.Lock()
	if c.awaiting && !c.ended {
		c.awaiting = false
		c.ping.Reset(c.opts.PingInterval)
	}
	c.mu.Unlock()
}

// pingTimeout fails a peer that did not answer a ping in time: 1011, then
// the connection is dropped (a peer that answers nothing will not answer
// the close either).
func (c *Conn) pingTimeout() {
	if !c.closeByServer(CloseInternalError) {
		c.write(context.Background(), ws.OpClose, closeBody(CloseInternalError, "keepalive ping timeout"))
	}
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

// frameBufs hold the scratch in which a frame's header and a small payload
// are put together for one write: pooled, so that a quiet connection holds
// none.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, ws.MaxHeaderSize+smallFrame); return &b }}

// smallFrame is the largest payload copied behind its header for a single
// write; a larger one goes out with writev from where it is.
const smallFrame = 4096

// write writes one unfragmented frame, holding wlock; a write error drops
// the connection. After a close frame nothing more is written (ErrClosed).
// ctx bounds the wait for wlock and, with its deadline, the write (see
// Send).
func (c *Conn) write(ctx context.Context, op ws.OpCode, payload []byte) error {
	select {
	case c.wlock <- struct{}{}:
	default:
		select {
		case c.wlock <- struct{}{}:
		case <-c.dead:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-c.wlock }()
	if c.wclosed {
		return ErrClosed
	}
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload))}
	if op.IsData() {
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
	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	w := appendWriter{b: (*bp)[:0]}
	if err := ws.WriteHeader(&w, h); err != nil {
		return err
	}
	deadline := c.setWriteDeadline(ctx)
	var n int64
	var err error
	if len(payload) <= smallFrame {
		w.b = append(w.b, payload...)
		var k int
		k, err = c.s.Write(w.b)
		n = int64(k)
	} else {
		bufs := net.Buffers{w.b, payload}
		n, err = bufs.WriteTo(c.s)
	}
	*bp = w.b[:0]
	if err == nil {
		if fl, ok := c.s.(interface{ Flush() error }); ok {
			err = fl.Flush()
		}
	}
	if err != nil {
		if deadline && errors.Is(err, os.ErrDeadlineExceeded) {
			err = context.DeadlineExceeded
			if n == 0 {
				return err // nothing went out: the stream is intact
			}
		}
		c.abort()
		return err
	}
	if op == ws.OpClose {
		c.wclosed = true
		close(c.closeWritten)
		c.closeT = time.AfterFunc(c.opts.CloseTimeout, c.abort)
	}
	return nil
}

// setWriteDeadline arms the write deadline for one frame: ctx's deadline
// when it comes before WriteTimeout (reported true), else WriteTimeout
// from now, refreshed only when less than 7/8 of it is left (a deadline
// moves a runtime timer: not on every frame). wlock is held.
func (c *Conn) setWriteDeadline(ctx context.Context) (ctxDeadline bool) {
	now := time.Now()
	want := now.Add(c.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(want) {
		c.s.SetWriteDeadline(d)
		c.wdl = d
		return true
	}
	if c.wdl.Before(want.Add(-c.opts.WriteTimeout / 8)) {
		c.s.SetWriteDeadline(want)
		c.wdl = want
	}
	return false
}
