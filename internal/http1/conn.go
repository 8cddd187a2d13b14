package http1

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Buffer sizes of a connection.
const (
	readBufSize  = 4 << 10  // grows for large heads, up to the head limits
	writeBufSize = 16 << 10 // head + a full bodyBuf in one write
)

// lingerTimeout bounds how long a closing connection keeps reading (and
// dropping) what the client still sends, after the server's FIN, so that the
// kernel does not answer unread data with a RST that could destroy the
// response before the client reads it.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerMax     = 256 << 10
)

// Connection states, for Shutdown.
const (
	stateActive = iota // reading or serving a request
	stateIdle          // waiting for the first byte of a request
	stateClosed        // closed by Shutdown or Close
	stateParked        // idle without a goroutine (see park.go); changes under conn.pmu
)

var errBufferFull = errors.New("http1: read buffer full")

// conn is the state of one client connection, pooled with its buffers.
type conn struct {
	srv   *Server
	cfg   *config
	rwc   net.Conn
	state atomic.Int32
	// used is set once the first request head is read. Shutdown leaves an
	// unused connection alone (it ends on its idle deadline): its client
	// just connected and is sending its first request, which may have been
	// meant for another process on the same socket (a binary upgrade).
	used atomic.Bool

	rbuf       []byte   // nil while parked (see acquireRead)
	rb         *readBuf // the pooled buffer rbuf is, unless it grew
	rpos, rend int      // buffered, unconsumed input is rbuf[rpos:rend]
	rdl        time.Time
	wdl        time.Time

	out     *outBufs // nil while idle
	ob      outBuf   // writes to rwc; its buffer is out.wbuf
	werr    error    // the first write error
	scratch [64]byte

	// now is the time taken for the response head; nowFresh says it is
	// still fresh enough to stand for time.Now (no wait since), which
	// saves the clock reads of the write and idle deadlines.
	now      time.Time
	nowFresh bool

	req  Request
	peer peerText // the peer's address as text, for every request of the connection
	rw   ResponseWriter
	body body
	hdr  []Field
	fidx []fieldIdx

	// ctx ends when the client goes away (see watch.go); made when the
	// first request arrives.
	ctx      *connCtx
	fin      chan struct{} // closed on the client's FIN (Request.Finished)
	watchKey uint64
	rc       syscall.RawConn // the watched socket; set with watchKey

	// Parking (park.go): idleEnd is when the keep-alive wait ends; pmu
	// guards the moves into and out of stateParked and parkGen, which
	// tells a parked period's keep-alive timer from a stale one.
	idleEnd time.Time
	pmu     sync.Mutex
	parkGen uint64
	ptimer  *time.Timer
	woken   bool // served again after a wake: its first read is not skipped by Shutdown

	closeAfter bool // close the connection after this response
	// shared: the handler has another goroutine read the body while it
	// writes the response (Request.ShareBody); then bodyMu guards what
	// both sides touch: the 100 (Continue) and the head, the output
	// buffers before the head, and the body's end or failure.
	shared          bool
	bodyMu          sync.Mutex
	continuePending bool // 100 (Continue) owed on the first Body.Read
	continueSkipped bool // the final head went out while 100 was still owed
	aborted         bool
}

var connPool sync.Pool

func newConn(s *Server, rwc net.Conn) *conn {
	s.init()
	c, _ := connPool.Get().(*conn)
	if c == nil {
		c = &conn{
			hdr:  make([]Field, 0, 16),
			fidx: make([]fieldIdx, 0, 16),
		}
		c.ob.c = c
	}
	c.srv, c.cfg, c.rwc = s, &s.cfg, rwc
	c.state.Store(stateActive)
	c.used.Store(false)
	c.rpos, c.rend = 0, 0
	c.rdl, c.wdl = time.Time{}, time.Time{}
	c.werr = nil
	c.aborted = false
	c.nowFresh = false
	c.peer = peerText{}
	return c
}

// readBuf is a connection's read buffer as the pool hands it out. A
// connection holds one while it has a goroutine, and gives it back when it
// is parked (park.go) or done, so that idle connections hold none.
type readBuf [readBufSize]byte

var readPool = sync.Pool{New: func() any { return new(readBuf) }}

// acquireRead gives c a read buffer if it has none.
func (c *conn) acquireRead() {
	if c.rbuf == nil {
		c.rb = readPool.Get().(*readBuf)
		c.rbuf = c.rb[:]
	}
}

// releaseRead gives the read buffer back. Only when no input is buffered.
func (c *conn) releaseRead() {
	if c.rb != nil {
		readPool.Put(c.rb)
	}
	c.rb, c.rbuf, c.rpos, c.rend = nil, nil, 0, 0
}

// outBufs are a connection's output buffers. A connection holds them only
// while it serves a request and gives them back while it waits idle for the
// next one, so that idle keep-alive connections cost little memory.
type outBufs struct {
	wbuf []byte // the buffer of conn.ob
	body []byte // ResponseWriter.bodyBuf
}

var outPool sync.Pool

func (c *conn) acquireOut() {
	if c.out != nil {
		return
	}
	bufs, _ := outPool.Get().(*outBufs)
	if bufs == nil {
		bufs = &outBufs{
			wbuf: make([]byte, writeBufSize),
			body: make([]byte, 0, bodyBufSize),
		}
	}
	c.out, c.ob.buf, c.ob.n, c.rw.bodyBuf = bufs, bufs.wbuf, 0, bufs.body[:0]
}

func (c *conn) releaseOut() {
	if c.out == nil {
		return
	}
	outPool.Put(c.out)
	c.out, c.ob.buf, c.ob.n, c.rw.bodyBuf = nil, nil, 0, nil
}

// release returns c to the pool once its goroutine is done with it.
func (c *conn) release() {
	c.srv.trackConn(c, false)
	if c.srv.sem != nil {
		<-c.srv.sem
	}
	c.releaseRead() // a buffer grown for a large head is dropped
	c.releaseOut()
	if c.watchKey != 0 {
		watcher.forget(c.watchKey)
	}
	if c.ctx != nil {
		c.ctx.end()
	}
	c.ctx, c.fin, c.watchKey, c.rc = nil, nil, 0, nil
	c.srv, c.cfg, c.rwc = nil, nil, nil
	c.req = Request{}
	clear(c.hdr[:cap(c.hdr)])
	c.rw = ResponseWriter{}
	c.body = body{}
	connPool.Put(c)
}

// serve runs the request loop of one connection.
func (c *conn) serve() {
	parked := false
	defer func() {
		if !parked {
			c.release()
		}
	}()
	raddr, laddr := c.rwc.RemoteAddr(), c.rwc.LocalAddr()
	var tlsState *tls.ConnectionState
	if tc, ok := c.rwc.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := tc.ConnectionState()
		tlsState = &st
	}
	for {
		c.req = Request{RemoteAddr: raddr, LocalAddr: laddr, TLS: tlsState, Body: &c.body, ConnState: c.req.ConnState, fin: c.fin, peer: &c.peer}
		if c.ctx != nil {
			c.req.ctx = c.ctx
		}
		c.closeAfter, c.continuePending, c.continueSkipped, c.shared = false, false, false, false
		st := c.readHead()
		if st == stParked {
			// Another goroutine (or the keep-alive timer, or Shutdown)
			// owns c now: touch nothing.
			parked = true
			return
		}
		c.nowFresh = false
		c.used.Store(true)
		if st != 0 {
			if st > 0 {
				c.writeError(st)
				c.closeGraceful()
			} else {
				c.rwc.Close()
			}
			return
		}
		if c.ctx == nil {
			c.watch()
		}
		c.rw.reset(c, c.req.Method == "HEAD") // the output buffers come with the head (WriteHeader)
		c.callHandler()
		if c.aborted {
			return
		}
		rw := &c.rw
		if !rw.wroteHeader {
			rw.WriteHeader(500, "Internal Server Error", nil)
		}
		rw.Finish()
		if !c.body.done() {
			c.nowFresh = false // discardBody may wait
		}
		switch {
		case c.werr != nil || c.aborted:
			c.rwc.Close()
			return
		case c.closeAfter || !c.discardBody() || c.srv.shuttingDown():
			c.closeGraceful()
			return
		}
	}
}

// watch gives the connection the context its requests carry, canceled
// when the client goes away (see watch.go).
func (c *conn) watch() {
	c.ctx = newConnCtx()
	c.req.ctx = c.ctx
	if w := closeWatcher(); w != nil {
		fin := make(chan struct{})
		if c.watchKey, c.rc = w.add(c.rwc, c.ctx.end, fin, c); c.watchKey != 0 {
			c.fin, c.req.fin = fin, fin
		}
	}
}

// callHandler runs the handler, turning a panic into a 500 (or an aborted
// connection, when the head is already out) and a log entry, as net/http
// does, so that one bad request does not take the server down.
func (c *conn) callHandler() {
	defer func() {
		if p := recover(); p != nil {
			c.cfg.log.Error("http1: panic serving request", "remote", c.req.RemoteAddr,
				"method", c.req.Method, "target", c.req.Target, "panic", p, "stack", string(debug.Stack()))
			if c.rw.headSent || c.aborted {
				c.rw.Abort()
				return
			}
			c.rw.reset(c, c.req.Method == "HEAD")
			c.closeAfter = true
			c.rw.WriteHeader(500, "Internal Server Error", nil)
		}
	}()
	c.srv.Handler.ServeHTTP1(&c.rw, &c.req)
}

// fill reads more input into the buffer: it first makes room by moving the
// unconsumed bytes to the front, and grows the buffer (up to max bytes) only
// when they fill it.
func (c *conn) fill(max int) error {
	c.acquireRead()
	if c.rpos == c.rend {
		c.rpos, c.rend = 0, 0
	}
	if c.rend == len(c.rbuf) {
		if c.rpos > 0 {
			c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
			c.rpos = 0
		} else {
			if len(c.rbuf) >= max {
				return errBufferFull
			}
			n := min(2*len(c.rbuf), max)
			nb := make([]byte, n)
			copy(nb, c.rbuf[:c.rend])
			c.rbuf = nb
			if c.rb != nil {
				readPool.Put(c.rb)
				c.rb = nil
			}
		}
	}
	for i := 0; i < 100; i++ {
		n, err := c.rwc.Read(c.rbuf[c.rend:])
		c.rend += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// setReadDeadline arms the read deadline t, but leaves an armed deadline
// that is earlier by at most slack alone: that saves a timer update per
// request while still bounding the wait to between t-slack and t.
func (c *conn) setReadDeadline(t time.Time, slack time.Duration) {
	if !c.rdl.IsZero() && !c.rdl.After(t) && t.Sub(c.rdl) <= slack {
		return
	}
	c.rdl = t
	c.rwc.SetReadDeadline(t)
}

// lockShared takes bodyMu when the body is read by another goroutine than
// the handler's (see shared); unlockShared releases it.
func (c *conn) lockShared() {
	if c.shared {
		c.bodyMu.Lock()
	}
}

func (c *conn) unlockShared() {
	if c.shared {
		c.bodyMu.Unlock()
	}
}

// writeContinue sends the interim 100 (Continue) response.
func (c *conn) writeContinue() error {
	c.acquireOut()
	c.ob.writeString("HTTP/1.1 100 Continue\r\n\r\n")
	c.ob.flush()
	return c.werr
}

var statusText = map[int]string{
	400: "Bad Request",
	408: "Request Timeout",
	414: "URI Too Long",
	417: "Expectation Failed",
	431: "Request Header Fields Too Large",
	500: "Internal Server Error",
	501: "Not Implemented",
	505: "HTTP Version Not Supported",
}

// writeError sends an engine-generated error response; the connection is
// closed after it.
func (c *conn) writeError(status int) {
	c.acquireOut()
	c.ob.write(errorResponse(status, "", c.cfg.serverLine, c.cfg.dateLine, c.cfg.extraLines, time.Now()))
	c.ob.flush()
}

// closeGraceful closes the connection after a response: it sends FIN, then
// reads and drops what the client still sends for a short while before the
// full close (see lingerTimeout).
func (c *conn) closeGraceful() {
	if c.werr == nil {
		if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
			c.acquireRead()
			buf := c.rbuf[:cap(c.rbuf)]
			for total := 0; total < lingerMax; {
				n, err := c.rwc.Read(buf)
				total += n
				if err != nil {
					break
				}
			}
		}
	}
	c.rwc.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
