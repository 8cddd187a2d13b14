package http1

import (
	"context"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/poller"
)

// Noticing a client that goes away.
//
// Between the end of a request's body and the end of its response nothing
// reads the connection, so a client that closes it (or resets it) would go
// unnoticed until a write fails: a request waiting for a worker, or
// running, would be served for nobody. net/http keeps a read outstanding
// in the background for this (backgroundRead); that costs a goroutine and
// two deadline changes per request. Here one epoll instance for the whole
// process watches every served connection for EPOLLRDHUP (the peer's FIN)
// and EPOLLHUP/EPOLLERR (a reset): a connection is added once, when its
// first request arrives, and leaves when its descriptor is closed, so a
// request costs nothing. Incoming bytes (a pipelined request) are not
// watched for and do not wake it, except on a parked connection (park.go),
// for which they are the next request.
//
// A reset (EPOLLHUP/EPOLLERR) means the client is gone: the connection's
// context (Request.Context) is canceled. A FIN alone (EPOLLRDHUP) cannot
// tell a client that closed from one that half-closed after its request
// (shutdown(SHUT_WR)) and still reads the answer, which HTTP allows and
// gunicorn serves. So a FIN only closes Request.Finished: a request not yet
// given to the application is dropped, one already running is answered.
// A client that did close answers the first bytes written to it with a
// reset, which then cancels the context.

// closeWatch registers served connections in the process's epoll set
// (internal/poller).
type closeWatch struct{ set *poller.Set }

// watched is one connection's registration. Its fields after add are the
// poller's, used under its lock.
type watched struct {
	cancel func()        // on a reset
	fin    chan struct{} // closed on the peer's FIN, or a reset
	closed bool          // fin is closed
	conn   *conn         // woken by any event while it is parked (park.go); may be nil
}

var (
	watchOnce sync.Once
	watcher   *closeWatch // nil when epoll is not available
)

func closeWatcher() *closeWatch {
	watchOnce.Do(func() {
		if set := poller.Get(); set != nil {
			watcher = &closeWatch{set: set}
		}
	})
	return watcher
}

// add watches rwc: cancel is called when its peer resets it, fin closed
// when the peer sends FIN or resets, and c (if not nil) woken by any event
// while it is parked. It returns the key to forget it by (0: not watched,
// e.g. not a socket) and the socket's raw connection.
func (w *closeWatch) add(rwc net.Conn, cancel func(), fin chan struct{}, c *conn) (uint64, syscall.RawConn) {
	sc, ok := poller.Socket(rwc).(syscall.Conn)
	if !ok {
		return 0, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, nil
	}
	wd := &watched{cancel: cancel, fin: fin, conn: c}
	key, err := w.set.Add(rc, watchEvents, wd.event)
	if err != nil {
		return 0, nil
	}
	return key, rc
}

// event handles an event of the watched connection (under the poller's
// lock, so the conn has not been released: release forgets the key
// first).
func (wd *watched) event(events uint32) {
	reset := events&(unix.EPOLLHUP|unix.EPOLLERR) != 0
	fin := reset || events&unix.EPOLLRDHUP != 0 // not mere input (a parked connection's)
	if fin && !wd.closed {
		wd.closed = true
		close(wd.fin)
	}
	if wd.conn != nil {
		wd.conn.wake()
	}
	if reset {
		wd.cancel()
	}
}

// The events a connection is registered for: while it is served, its
// peer's FIN (resets are always reported); while it is parked, also
// readable input, once.
const (
	watchEvents = unix.EPOLLRDHUP | unix.EPOLLET
	parkEvents  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
)

// ctl changes the events rc's registration under key is for.
func (w *closeWatch) ctl(rc syscall.RawConn, key uint64, events uint32) error {
	return w.set.Modify(rc, key, events)
}

// forget drops key: its connection is done.
func (w *closeWatch) forget(key uint64) { w.set.Forget(key) }

// connCtx is a connection's context (Request.Context): canceled when the
// client resets the connection, or when the connection is done. Its
// NotifyEnd (see workers.EndNotifier) runs one registered function when
// it ends, at the cost of a lock per request, where context.AfterFunc
// allocates and keeps a map: the connection's requests come one at a
// time, so one registration is enough.
type connCtx struct {
	context.Context
	cancel context.CancelFunc
	stopFn func() bool // c.stop, made once

	mu    sync.Mutex
	f     func()
	ended bool
}

func newConnCtx() *connCtx {
	c := &connCtx{}
	c.Context, c.cancel = context.WithCancel(context.Background())
	c.stopFn = c.stop
	return c
}

// NotifyEnd registers f to run, on a goroutine of its own, when c ends
// (at once if it has), replacing any function registered before.
func (c *connCtx) NotifyEnd(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		go f()
		return c.stopFn
	}
	c.f = f
	c.mu.Unlock()
	return c.stopFn
}

func (c *connCtx) stop() bool {
	c.mu.Lock()
	had := c.f != nil
	c.f = nil
	c.mu.Unlock()
	return had
}

// end cancels c and runs the registered function.
func (c *connCtx) end() {
	c.cancel()
	c.mu.Lock()
	f := c.f
	c.f, c.ended = nil, true
	c.mu.Unlock()
	if f != nil {
		go f()
	}
}
