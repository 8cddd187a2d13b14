package http1

import (
	"context"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
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

// closeWatch is the process's epoll instance and what each registration's
// key cancels.
type closeWatch struct {
	epfd int
	mu   sync.Mutex
	next uint64
	keys map[uint64]*watched
}

// watched is one connection's registration.
type watched struct {
	cancel func()        // on a reset
	fin    chan struct{} // closed on the peer's FIN, or a reset
	closed bool          // fin is closed (guarded by closeWatch.mu)
	conn   *conn         // woken by any event while it is parked (park.go); may be nil
}

var (
	watchOnce sync.Once
	watcher   *closeWatch // nil when epoll is not available
)

func closeWatcher() *closeWatch {
	watchOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		watcher = &closeWatch{epfd: fd, keys: map[uint64]*watched{}}
		go watcher.loop()
	})
	return watcher
}

// add watches rwc: cancel is called when its peer resets it, fin closed
// when the peer sends FIN or resets, and c (if not nil) woken by any event
// while it is parked. It returns the key to forget it by (0: not watched,
// e.g. not a socket) and the socket's raw connection.
func (w *closeWatch) add(rwc net.Conn, cancel func(), fin chan struct{}, c *conn) (uint64, syscall.RawConn) {
	sc, ok := socketOf(rwc).(syscall.Conn)
	if !ok {
		return 0, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, nil
	}
	w.mu.Lock()
	w.next++
	key := w.next
	w.keys[key] = &watched{cancel: cancel, fin: fin, conn: c}
	w.mu.Unlock()
	if w.ctl(rc, unix.EPOLL_CTL_ADD, key, watchEvents) != nil {
		w.forget(key)
		return 0, nil
	}
	return key, rc
}

// The events a connection is registered for: while it is served, its
// peer's FIN (resets are always reported); while it is parked, also
// readable input, once.
const (
	watchEvents = unix.EPOLLRDHUP | unix.EPOLLET
	parkEvents  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
)

// ctl adds or changes the registration of rc's descriptor under key.
func (w *closeWatch) ctl(rc syscall.RawConn, op int, key uint64, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(uint32(key)), Pad: int32(uint32(key >> 32))}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.EpollCtl(w.epfd, op, int(fd), &ev) }); err != nil {
		return err
	}
	return cerr
}

// forget drops key: its connection is done. Its descriptor leaves the
// epoll set when it is closed; an event that comes meanwhile finds no key.
func (w *closeWatch) forget(key uint64) {
	w.mu.Lock()
	delete(w.keys, key)
	w.mu.Unlock()
}

func (w *closeWatch) loop() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // the epoll instance is broken: connections are no longer watched
		}
		for _, ev := range events[:n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			reset := ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0
			fin := reset || ev.Events&unix.EPOLLRDHUP != 0 // not mere input (a parked connection's)
			w.mu.Lock()
			c := w.keys[key]
			if c != nil && fin && !c.closed {
				c.closed = true
				close(c.fin)
			}
			if reset {
				delete(w.keys, key)
			}
			if c != nil && c.conn != nil {
				// Under w.mu: the key is still registered, so the conn has
				// not been released (release forgets the key first).
				c.conn.wake()
			}
			w.mu.Unlock()
			if c != nil && reset {
				c.cancel()
			}
		}
	}
}

// socketOf is the connection under TLS and the wrappers that read ahead
// (a PROXY header, a sniffed preface): the one with the descriptor.
func socketOf(c net.Conn) net.Conn {
	for i := 0; i < 8; i++ {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return c
}

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
