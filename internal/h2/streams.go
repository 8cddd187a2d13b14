package h2

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// streamLimit bounds the HTTP/2 streams served at once over all
// connections (Config.MaxStreamsTotal); Go's server bounds them per
// connection (MaxConcurrentStreams). A stream over the bound is the newest
// work: it gets 503 with Retry-After at once, and costs nothing more.
// Refusals are logged at most once a second.
//
// A connection's first stream in flight is not counted: it is counted as
// an HTTP/1.1 connection's request is, by the bound on connections
// (--max-connections), one per connection. Only a connection's further
// streams in flight at once take a place in the total. So a client that
// asks one thing at a time is always served, however many streams other
// connections hold (without this, 21 connections of 100 streams that never
// send their bodies held the default 2,048 and denied HTTP/2 to everyone);
// and the streams in flight are bounded by the total plus the connections,
// the shape of the bound HTTP/1.1 has on requests in flight.
type streamLimit struct {
	h      http.Handler
	max    int64
	n      atomic.Int64 // places of the total taken
	logged atomic.Int64 // unix seconds of the last refusal logged
	log    *slog.Logger
	// defaults are the server's own fields (nil: http1's zero Defaults).
	defaults *http1.Defaults
}

// conn returns the handler of one connection's streams; it is used for
// that connection alone.
func (l *streamLimit) conn() *connStreams { return &connStreams{l: l} }

// connStreams counts one connection's streams in flight. Which stream is
// "the first" is not a stream's own property: the rule is that a
// connection with k streams in flight holds max(k-1, 0) places of the
// total. A stream that starts on a connection with none in flight takes
// no place; one that starts beside others takes one (or is refused); a
// stream that ends beside others gives one back, whichever it is, and the
// last to end gives none. Starting and ending take the connection's lock,
// so the connection's count and its places in the total move together
// (the total itself is shared, atomic). Every stream that starts ends
// (Go's server returns from each handler, also when the stream is reset or
// the connection closes), so the counts return to zero.
type connStreams struct {
	l  *streamLimit
	mu sync.Mutex
	n  int // streams in flight on this connection
}

// start admits a stream, reporting false when it would take a place of the
// total and there is none.
func (c *connStreams) start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n > 0 && !c.l.take() {
		return false
	}
	c.n++
	return true
}

// take takes a place of the total if one is free; the count never passes
// max, not even for a moment.
func (l *streamLimit) take() bool {
	for {
		n := l.n.Load()
		if n >= l.max {
			return false
		}
		if l.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// end gives back what an admitted stream's start took.
func (c *connStreams) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n > 0 {
		c.l.n.Add(-1)
	}
}

func (c *connStreams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.start() {
		c.l.refuse(w, r)
		return
	}
	defer c.end()
	c.l.h.ServeHTTP(w, r)
}

// refuse answers a stream over the total: 503, Retry-After: 1.
func (l *streamLimit) refuse(w http.ResponseWriter, r *http.Request) {
	if now := time.Now().Unix(); l.logged.Swap(now) != now {
		l.log.Warn("HTTP/2 stream refused: too many streams in flight (--http2-max-streams-total)", "remote", r.RemoteAddr, "limit", l.max)
	}
	d := l.defaults
	if d == nil {
		d = &http1.Defaults{}
	}
	SetDefaults(w.Header(), d, nil)
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte("503 Service Unavailable\n"))
}
