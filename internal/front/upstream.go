package front

import (
	"context"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/workers"
)

// Upstream is where the front sends the requests it does not answer
// itself: the worker pool (PoolUpstream), or a fake in tests. It is shaped
// like http.RoundTripper: Send hands over one request and returns its
// exchange, from which the relay reads the response.
//
// ctx is the client: it ends when the client goes away (a closed
// connection, a reset stream). The upstream then cancels the request
// wherever it is, and reports workers.ErrCanceled.
type Upstream interface {
	Send(ctx context.Context, req *workers.Request) (Exchange, error)
}

// Exchange is one request's round trip through an Upstream, as
// workers.Exchange documents it: Head, then Next until io.EOF; Abort
// stops the application producing; Close is always called.
type Exchange interface {
	// Head waits for the response head; header is called for each field.
	Head(header func(name, value string)) (*workers.Response, error)
	// Next returns the next piece of a streamed body, and whether another
	// is there already; io.EOF after the last.
	Next() (data []byte, more bool, err error)
	// Ready reports whether Next would return without waiting.
	Ready() bool
	Abort()
	Close()
	// Slot is the worker slot that served the request (nil: none), which
	// the connection's next request prefers.
	Slot() *workers.Slot
}

// cutOffer is an Exchange whose response may be cut off while the relay
// writes it (workers.Exchange.OnCutOff: its client took nothing while
// others needed the room): f makes the relay's blocked write fail at once.
type cutOffer interface {
	OnCutOff(f func())
}

var _ cutOffer = (*workers.Exchange)(nil)

// trailerSource is an Exchange whose response may end with trailer fields
// (workers.Exchange.Trailers, after Next's io.EOF).
type trailerSource interface {
	Trailers(field func(name, value string)) error
}

var _ trailerSource = (*workers.Exchange)(nil)

// PoolUpstream is the worker pool as an Upstream.
func PoolUpstream(p *workers.Pool) Upstream { return poolUpstream{p} }

type poolUpstream struct{ p *workers.Pool }

// ASGI reports whether the pool's workers serve an ASGI application.
func (u poolUpstream) ASGI() bool { return u.p.ASGI() }

func (u poolUpstream) Send(ctx context.Context, req *workers.Request) (Exchange, error) {
	x, err := u.p.Send(ctx, req)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return x, nil
}

// logLimit lets one log line through per interval and counts the ones it
// holds back, so that a flood of refused requests (an attack, an overload)
// costs a line a second instead of one per request. The zero value allows
// one line a second.
type logLimit struct {
	mu       sync.Mutex
	next     time.Time
	held     int
	interval time.Duration
}

// allow reports whether a line may be logged now, and how many were held
// back since the last one.
func (l *logLimit) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.held++
		return false, 0
	}
	d := l.interval
	if d <= 0 {
		d = time.Second
	}
	l.next = now.Add(d)
	held := l.held
	l.held = 0
	return true, held
}
