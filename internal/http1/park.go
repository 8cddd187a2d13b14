package http1

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/poller"
)

// Parking idle keep-alive connections.
//
// A connection waiting for its next request would otherwise keep a
// goroutine (whose stack grew while it served a request) and a read
// buffer: about 12 KiB for nothing. After it has waited DefaultIdlePark
// (Server.IdlePark) with nothing buffered, the goroutine gives its read
// buffer back, hands the connection to the close watcher's epoll set
// (watch.go) with EPOLLIN|EPOLLONESHOT, arms the keep-alive timer for the
// rest of the idle timeout, and exits. A parked connection costs its conn,
// socket and registration (see bench/RESULTS.md, "Idle keep-alive
// connections").
//
// Whoever moves it out of stateParked (under conn.pmu) owns it:
//   - the watcher, on any event (input, FIN, reset): a new goroutine goes
//     on serving it, which re-arms the FIN watch and reads;
//   - the keep-alive timer: the connection is closed, as an idle one that
//     timed out in a read would be;
//   - Shutdown or Close: closed at once.
//
// A connection that sends its next request within the wait never parks,
// so a busy keep-alive connection pays nothing (no epoll call, no timer
// change beyond the read deadline's, which moves at most once per half
// wait). A connection with bytes already buffered (a pipelined request)
// is never parked: it has a request to serve. Only connections whose
// net.Conn is the socket itself (or a wrapper that reads nothing ahead,
// such as listen's limit, or one that has given back all it read ahead:
// AheadReader) park, and TLS connections over a socket (poller.CanWait
// says why that is safe); the wrappers that still hold bytes read ahead (a
// PROXY header) keep the goroutine. A hijacked connection never comes back to the request
// loop, so it never parks.

// DefaultIdlePark is how long an idle keep-alive connection waits with its
// goroutine before it is parked, unless Server.IdlePark says otherwise.
const DefaultIdlePark = 250 * time.Millisecond

// stParked is what readHead returns when it parked the connection: the
// calling goroutine must not touch it again.
const stParked = -2

// canPark reports whether c may be parked when idle.
func (c *conn) canPark() bool {
	return c.cfg.idlePark > 0 && c.rc != nil && poller.CanWait(c.rwc) &&
		c.ctx.Err() == nil // not after a reset (the client is gone)
}

// AheadReader is poller.AheadReader: a connection whose read-ahead, once
// drained, lets it park as a bare socket does, so that a sniffed
// connection costs no more than another.
type AheadReader = poller.AheadReader

// park parks the idle connection c, whose keep-alive wait ends in left. It
// returns stParked (c is no longer the caller's), -1 when Shutdown closed
// c meanwhile, or 0 when c could not be parked (the caller goes on
// waiting in a read).
func (c *conn) park(left time.Duration) int {
	if c.rpos != c.rend {
		return 0 // never with input buffered
	}
	c.releaseRead()
	c.releaseOut()
	// What only a request in progress needs goes too: the head's field
	// tables (made again on wake), the last request and response (their
	// strings and the application's header slice).
	c.hdr, c.fidx = nil, nil
	c.req = Request{ConnState: c.req.ConnState}
	c.rw = ResponseWriter{}
	c.rdl = time.Time{} // the deadline is re-armed when it is served again
	c.nowFresh = false  // nor is the time of the last response now
	c.pmu.Lock()
	if !c.state.CompareAndSwap(stateIdle, stateParked) {
		c.pmu.Unlock()
		return -1 // Shutdown closed it
	}
	c.parkGen++
	gen := c.parkGen
	c.ptimer = time.AfterFunc(left, func() { c.expire(gen) })
	if watcher.ctl(c.rc, c.watchKey, parkEvents) != nil {
		c.ptimer.Stop()
		c.ptimer = nil
		c.state.Store(stateIdle)
		c.pmu.Unlock()
		return 0
	}
	c.srv.parked.Add(1)
	noteParked()
	// Events wait for pmu: from here on c is whoever takes it first.
	c.pmu.Unlock()
	return stParked
}

// unpark moves c out of stateParked into st, under c.pmu, and reports
// whether it was parked (the caller then owns it).
func (c *conn) unpark(st int32) bool {
	if !c.state.CompareAndSwap(stateParked, st) {
		return false
	}
	c.ptimer.Stop()
	c.ptimer = nil
	c.srv.parked.Add(-1)
	return true
}

// wake is called by the watcher, under its lock, for every event of c's
// socket: a parked connection gets a goroutine again.
func (c *conn) wake() {
	if c.state.Load() != stateParked {
		return // the usual case: a FIN while it is served
	}
	c.pmu.Lock()
	ok := c.unpark(stateActive)
	c.pmu.Unlock()
	if ok {
		// Input came (or the client left): a request that arrives as
		// Shutdown begins is still read and served, as it would be by a
		// goroutine waiting in a read (see Server.closeIdleConns).
		c.woken = true
		go c.resume()
	}
}

// resume serves c again after a wake: the registration back to the FIN
// watch (EPOLLONESHOT disabled it), then the request loop.
func (c *conn) resume() {
	watcher.ctl(c.rc, c.watchKey, watchEvents)
	c.serve()
}

// expire closes c when its keep-alive wait ends while it is still parked
// in the period gen (a timer that fires late for an earlier period does
// nothing).
func (c *conn) expire(gen uint64) {
	c.pmu.Lock()
	ok := c.parkGen == gen && c.unpark(stateClosed)
	c.pmu.Unlock()
	if ok {
		c.rwc.Close()
		c.release()
	}
}

// closeParked closes c if it is parked (for Shutdown and Close), and
// reports whether it did: the caller must then release c.
func (c *conn) closeParked() bool {
	if c.state.Load() != stateParked {
		return false
	}
	c.pmu.Lock()
	ok := c.unpark(stateClosed)
	c.pmu.Unlock()
	if ok {
		c.rwc.Close()
	}
	return ok
}

// markClosed moves c into stateClosed from whatever state it is in, for
// Close, and reports whether it was parked (the caller must then release
// it: no goroutine will).
func (c *conn) markClosed() bool {
	for {
		st := c.state.Load()
		if st == stateParked {
			if c.closeParked() {
				return true
			}
			continue
		}
		if c.state.CompareAndSwap(st, stateClosed) {
			return false
		}
	}
}

// After a burst of connections goes idle, the memory that served them
// (goroutine stacks, request garbage) is free but still resident, and an
// idle server runs no collection that would give it back: the pages stay
// until the two-minute forced GC. So when many connections have parked,
// once none has parked for reclaimQuiet, the runtime is asked to return
// free memory to the OS (two collections, so that the pooled buffers of
// the burst go too, then debug.FreeOSMemory), at most once per
// reclaimEvery. A busy connection never
// parks, so a server under steady load never pays for it.
const (
	reclaimParks = 256
	reclaimQuiet = 100 * time.Millisecond
	reclaimEvery = 10 * time.Second
)

var reclaim struct {
	mu    sync.Mutex
	parks int // since the last reclaim
	timer *time.Timer
	last  time.Time
}

var freeOSMemory = debug.FreeOSMemory

// NoteParked counts a connection parked outside this engine (a hijacked
// one's protocol, such as a WebSocket's, see internal/websocket) toward the
// same reclaim.
func NoteParked() { noteParked() }

func noteParked() {
	r := &reclaim
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parks++; r.parks < reclaimParks {
		return
	}
	wait := max(reclaimQuiet, time.Until(r.last.Add(reclaimEvery)))
	if r.timer == nil {
		r.timer = time.AfterFunc(wait, reclaimNow)
	} else {
		r.timer.Reset(wait)
	}
}

func reclaimNow() {
	r := &reclaim
	r.mu.Lock()
	r.parks, r.last = 0, time.Now()
	r.mu.Unlock()
	// The first collection moves the pools' buffers (sync.Pool) to their
	// victim caches, the second frees them; then free pages go back.
	runtime.GC()
	freeOSMemory()
}
