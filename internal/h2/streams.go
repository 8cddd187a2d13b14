package h2

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// streamLimit bounds the HTTP/2 streams served at once over all
// connections (Config.MaxStreamsTotal); Go's server bounds them per
// connection (MaxConcurrentStreams). A stream over the bound is the newest
// work: it gets 503 with Retry-After at once, and costs nothing more.
// Refusals are logged at most once a second.
type streamLimit struct {
	h      http.Handler
	max    int64
	n      atomic.Int64
	logged atomic.Int64 // unix seconds of the last refusal logged
	log    *slog.Logger
	// defaults are the server's own fields (nil: http1's zero Defaults).
	defaults *http1.Defaults
}

func (l *streamLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.n.Add(1) > l.max {
		l.n.Add(-1)
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
		return
	}
	defer l.n.Add(-1)
	l.h.ServeHTTP(w, r)
}
