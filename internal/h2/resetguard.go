package h2

import (
	"net/http"
	"sync/atomic"
	"time"
)

// resetGuard serves one HTTP/2 connection's requests and keeps count of
// the streams its client resets while they are being served.
//
// A stream reset a moment after its HEADERS (the rapid-reset attack,
// CVE-2023-44487) is canceled before it reaches a worker when the reset
// is read first; but under a flood the reset can be read after the
// request was handed to an idle worker, which then runs it for nobody.
// Go's server limits the handlers that run at once, which does not slow
// an attacker whose handlers end at once. So once a connection's client
// has reset most of its streams (at least resetSuspect of them), each of
// its new requests is held for up to resetHold before it is served: a
// stream reset meanwhile costs nothing, and the held handlers bring Go's
// own limits (and its GOAWAY ENHANCE_YOUR_CALM) to bear on the attacker.
// Clients that reset a stream now and then are never held.
type resetGuard struct {
	h       http.Handler
	streams atomic.Int64
	resets  atomic.Int64
}

const (
	resetSuspect = 8
	resetHold    = 100 * time.Millisecond
)

// suspect reports whether the client has reset most of its streams.
func (g *resetGuard) suspect() bool {
	r := g.resets.Load()
	return r >= resetSuspect && 2*r >= g.streams.Load()
}

func (g *resetGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.streams.Add(1)
	ctx := r.Context()
	if g.suspect() {
		t := time.NewTimer(resetHold)
		select {
		case <-ctx.Done():
			t.Stop()
			g.resets.Add(1)
			return
		case <-t.C:
		}
	}
	defer func() {
		// The stream's context ends after the handler returns, unless the
		// client reset it (or left) first.
		if ctx.Err() != nil {
			g.resets.Add(1)
		}
	}()
	g.h.ServeHTTP(w, r)
}
