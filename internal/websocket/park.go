package websocket

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/poller"
)

// Parking quiet connections.
//
// A WebSocket is open for hours and quiet most of that time. Waiting for
// its next frame in a read would keep a goroutine (its stack) and the
// input buffer for nothing: at 1,000 open WebSockets, most of the front's
// memory. So a connection started with Start (not Run) whose socket may be
// waited on without reading (poller.CanWait: the socket itself, or TLS over
// it, not a wrapper that holds bytes read ahead) parks once it
// has had no input for Options.IdlePark between two frames, with nothing
// buffered: its input buffer goes back to a pool, the socket goes into
// this package's epoll set (EPOLLIN|EPOLLRDHUP|EPOLLONESHOT), and the
// reader goroutine exits. Its next input (a frame, a FIN or a reset)
// starts a goroutine that reads on; so does Abort (a keep-alive ping that
// went unanswered, a shutdown), which closes the socket, so that the
// connection ends, and is summed up, exactly once. Pings, their timeout,
// the write side and the close handshake are timers and the upstream's
// goroutines: they do not need the reader.
//
// A connection that gets a frame within IdlePark never parks and pays no
// system call for it: the wait is a read deadline, moved at most once per
// half IdlePark (a deadline is a runtime timer). A deadline that passes
// within a frame (a slow peer, not a quiet one) is cleared and the read
// goes on (parkReader).
//
// The same is done for idle HTTP/1.1 keep-alive connections in
// internal/http1 (park.go), in the same epoll set (internal/poller), which
// the engine's Hijack takes the socket out of.

// DefaultIdlePark is Options.IdlePark's default.
const DefaultIdlePark = 250 * time.Millisecond

// Reader states of a parkable connection.
const (
	readRunning int32 = iota // a goroutine reads (or will)
	readParked               // no goroutine: the poller or Abort starts one
)

// parking is a parkable connection's state.
type parking struct {
	rc    syscall.RawConn
	pr    *parkReader
	key   uint64 // in the poller's map and the epoll set from its first park; 0 before
	state atomic.Int32
	off   bool // parking failed once: this connection reads in a goroutine
}

// parkable returns the parking state for a stream whose socket may be
// waited on in the epoll set (poller.CanWait: the socket itself, TLS over
// one, a drained read-ahead wrapper), or nil.
func parkable(s Stream) *parking {
	nc, ok := s.(net.Conn)
	if !ok || !poller.CanWait(nc) {
		return nil
	}
	sc, ok := poller.Socket(nc).(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &parking{rc: rc, pr: &parkReader{nc: nc}}
}

// parkReader is the socket under a parkable connection's input buffer. At
// a frame boundary (idle set) a read deadline ends the wait, so that the
// connection can park; within a frame a deadline that passes is cleared
// and the read goes on.
type parkReader struct {
	nc   net.Conn
	pre  []byte    // input read past the handshake, read first
	idle bool      // between frames: a deadline ends the read
	dl   time.Time // the read deadline in force (zero: none)
}

func (r *parkReader) Read(p []byte) (int, error) {
	if len(r.pre) > 0 {
		n := copy(p, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	for {
		n, err := r.nc.Read(p)
		if n == 0 && err != nil && !r.idle && errors.Is(err, os.ErrDeadlineExceeded) {
			r.nc.SetReadDeadline(time.Time{})
			r.dl = time.Time{}
			continue
		}
		return n, err
	}
}

// readBufs hold the input buffers of connections that read now: a parked
// one holds none.
var readBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

// waitIdle waits, between frames with nothing buffered, for the next
// input for up to IdlePark, and reports whether none came (the connection
// may park). The reader goroutine only.
func (c *Conn) waitIdle() bool {
	pr := c.pk.pr
	now := time.Now()
	if pr.dl.IsZero() || pr.dl.Sub(now) < c.opts.IdlePark/2 {
		pr.dl = now.Add(c.opts.IdlePark)
		pr.nc.SetReadDeadline(pr.dl)
	}
	pr.idle = true
	_, err := c.br.Peek(1)
	pr.idle = false
	return err != nil && errors.Is(err, os.ErrDeadlineExceeded)
}

// park parks the connection (see above) and reports whether it did: the
// calling goroutine must then return without touching c. When it could
// not, the connection goes on reading in this goroutine, and never parks.
func (c *Conn) park() bool {
	pk := c.pk
	if register(c) != nil {
		pk.off = true
		return false
	}
	c.br.Reset(nil)
	readBufs.Put(c.br)
	c.br = nil
	// From here on another goroutine may own c (after Abort): only the
	// epoll call is left, and it touches pk's descriptor and key, which
	// nothing changes any more.
	pk.state.Store(readParked)
	if arm(c) == nil {
		http1.NoteParked() // after a burst, the memory that served it goes back
		return true
	}
	if !pk.state.CompareAndSwap(readParked, readRunning) {
		return true // Abort took it meanwhile: it reads on
	}
	pk.off = true
	c.takeReadBuf()
	return false
}

// takeReadBuf gives the reader its input buffer.
func (c *Conn) takeReadBuf() {
	c.br = readBufs.Get().(*bufio.Reader)
	c.br.Reset(c.pk.pr)
}

// wake gives a parked connection a goroutine again: on input (the
// poller's), or on Abort.
func (c *Conn) wake() {
	if c.pk.state.CompareAndSwap(readParked, readRunning) {
		go c.resume()
	}
}

func (c *Conn) resume() {
	c.takeReadBuf()
	c.serve()
}

// Parked reports whether the connection is parked now (for tests and
// gauges).
func (c *Conn) Parked() bool { return c.pk != nil && c.pk.state.Load() == readParked }

// parkEvents: input, the peer's FIN or a reset, once (the reader re-arms
// when it parks again).
const parkEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// register puts c's socket in the process's epoll set (internal/poller),
// disarmed (EPOLLONESHOT and no events: a reset may still be reported, and
// is ignored while c is not parked), on its first park. This is the
// reader's, before it parks.
func register(c *Conn) error {
	pk := c.pk
	if pk.key != 0 {
		return nil
	}
	set := poller.Get()
	if set == nil {
		return errNoPoller
	}
	key, err := set.Add(pk.rc, unix.EPOLLONESHOT, func(uint32) { c.wake() })
	if err != nil {
		return err
	}
	pk.key = key
	return nil
}

// errNoPoller: epoll is not available, so connections do not park.
var errNoPoller = errors.New("websocket: no epoll set to park connections in")

// arm asks for the next event of c's socket, registered.
func arm(c *Conn) error { return poller.Get().Modify(c.pk.rc, c.pk.key, parkEvents) }

// forget drops c's registration once it has ended (its socket, closed,
// left the epoll set).
func forget(c *Conn) {
	if c.pk == nil || c.pk.key == 0 {
		return
	}
	poller.Get().Forget(c.pk.key)
}
