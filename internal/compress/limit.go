package compress

import "sync/atomic"

// Cost is the memory one encoder of e holds while a response is being
// compressed, as measured with this package's settings after 2 MiB of
// text: gzip 1.0 MiB, zstd 1.9 MiB, br 4.9 MiB (brotli's window and hash
// tables). A stalled client keeps its response's encoder, so a server
// bounds their total with a Limiter.
func Cost(e Encoding) int64 {
	switch e {
	case Gzip:
		return 1 << 20
	case Zstd:
		return 2 << 20
	case Brotli:
		return 5 << 20
	}
	return 0
}

// A Limiter bounds the memory of the encoders in use at once (Cost each).
// A response that finds no room is sent uncompressed: compression is an
// optimisation, never a reason to refuse. A nil *Limiter has no bound.
type Limiter struct {
	limit int64
	used  atomic.Int64
}

// NewLimiter returns a Limiter of limit bytes; limit <= 0: no bound (nil).
func NewLimiter(limit int64) *Limiter {
	if limit <= 0 {
		return nil
	}
	return &Limiter{limit: limit}
}

// Reserve takes the room of one encoder of e, if it fits.
func (l *Limiter) Reserve(e Encoding) bool {
	if l == nil || e == None {
		return true
	}
	c := Cost(e)
	if l.used.Add(c) > l.limit {
		l.used.Add(-c)
		return false
	}
	return true
}

// Release gives back the room Reserve took for e.
func (l *Limiter) Release(e Encoding) {
	if l != nil && e != None {
		l.used.Add(-Cost(e))
	}
}

// InUse reports the bytes reserved now.
func (l *Limiter) InUse() int64 {
	if l == nil {
		return 0
	}
	return l.used.Load()
}
