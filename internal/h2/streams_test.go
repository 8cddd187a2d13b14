package h2

import (
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// holder is a handler that holds each request (one per path) until the
// test releases it.
type holder struct {
	mu       sync.Mutex
	released map[string]chan struct{}
	entered  chan string
}

func newHolder() *holder {
	return &holder{released: map[string]chan struct{}{}, entered: make(chan string, 100)}
}

func (h *holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	ch := h.released[r.URL.Path]
	h.mu.Unlock()
	h.entered <- r.URL.Path
	<-ch
}

// serve starts a request for path on c; its handler holds it until
// release(path). The returned channel gets the response's status once it
// is done. It returns after the request was admitted (and entered the
// handler) or refused.
func (h *holder) serve(t *testing.T, c http.Handler, path string) chan int {
	t.Helper()
	h.mu.Lock()
	h.released[path] = make(chan struct{})
	h.mu.Unlock()
	done := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		done <- rec.Code
	}()
	select {
	case p := <-h.entered:
		if p != path {
			t.Fatalf("entered %s, want %s", p, path)
		}
	case code := <-done:
		done <- code
	}
	return done
}

func (h *holder) release(path string) {
	h.mu.Lock()
	close(h.released[path])
	h.mu.Unlock()
}

func newLimit(max int64, h http.Handler) *streamLimit {
	return &streamLimit{max: max, h: h, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func wantCode(t *testing.T, what string, done chan int, want int) {
	t.Helper()
	if got := <-done; got != want {
		t.Fatalf("%s: %d, want %d", what, got, want)
	}
}

// pending reports whether a request is still being served.
func pending(done chan int) bool { return len(done) == 0 }

// Streams over the total get 503 at once while the others are served; a
// connection's first stream in flight takes no place of the total.
func TestStreamLimit(t *testing.T) {
	h := newHolder()
	l := newLimit(1, h)
	c := l.conn()
	a := h.serve(t, c, "/a") // the connection's first: not counted
	b := h.serve(t, c, "/b") // takes the one place
	if !pending(a) || !pending(b) || l.n.Load() != 1 {
		t.Fatalf("two streams on one connection with a total of 1: %v %v, %d places taken", pending(a), pending(b), l.n.Load())
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/c", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the limit: %d %v", rec.Code, rec.Header())
	}
	h.release("/a")
	h.release("/b")
	wantCode(t, "/a", a, 200)
	wantCode(t, "/b", b, 200)
	if l.n.Load() != 0 || c.n != 0 {
		t.Fatalf("%d places taken, %d streams counted on the connection after all ended", l.n.Load(), c.n)
	}
}

// While other connections hold the whole total, a connection with no
// stream in flight is served; its second stream at once is refused. When a
// connection's first stream ends while a later one runs, the later one is
// its first: the connection's place goes back to the total.
func TestStreamLimitFirstStreamFree(t *testing.T) {
	h := newHolder()
	l := newLimit(2, h)
	flood := l.conn()
	f0 := h.serve(t, flood, "/f0")
	f1 := h.serve(t, flood, "/f1")
	f2 := h.serve(t, flood, "/f2")
	wantCode(t, "a third stream beside 2 over a total of 2", h.serve(t, flood, "/f3"), 503)
	if l.n.Load() != 2 {
		t.Fatalf("%d places taken, want 2", l.n.Load())
	}

	fresh := l.conn()
	x := h.serve(t, fresh, "/x")
	if !pending(x) {
		t.Fatalf("a fresh connection's only stream, the total full: %d, want it served", <-x)
	}
	wantCode(t, "the fresh connection's second stream, the total full", h.serve(t, fresh, "/y"), 503)
	h.release("/x")
	wantCode(t, "/x", x, 200)
	// The fresh connection has none in flight again: its next is free.
	z := h.serve(t, fresh, "/z")
	if !pending(z) {
		t.Fatalf("the fresh connection's next stream: %d, want it served", <-z)
	}

	// The flood's first stream ends: f1 and f2 run on, one of them now
	// free; one place of the total comes back.
	h.release("/f0")
	wantCode(t, "/f0", f0, 200)
	if l.n.Load() != 1 || flood.n != 2 {
		t.Fatalf("after the first of 3 ended: %d places taken, %d in flight; want 1, 2", l.n.Load(), flood.n)
	}
	f4 := h.serve(t, flood, "/f4") // takes the place given back
	wantCode(t, "a stream over the total", h.serve(t, flood, "/f5"), 503)
	for _, p := range []string{"/f1", "/f2", "/f4", "/z"} {
		h.release(p)
	}
	for _, d := range []chan int{f1, f2, f4, z} {
		wantCode(t, "held stream", d, 200)
	}
	if l.n.Load() != 0 || flood.n != 0 || fresh.n != 0 {
		t.Fatalf("after all ended: %d places taken, %d and %d in flight", l.n.Load(), flood.n, fresh.n)
	}
}

// Many connections start and end streams at once, in any order: the
// places taken never pass the total, the streams in flight never pass
// the total plus the connections, and every count returns to zero.
// (Run with -race.)
func TestStreamLimitConcurrent(t *testing.T) {
	const conns, perConn, rounds, total = 8, 6, 200, 10
	var inFlight, peak atomic.Int64
	var served, refused atomic.Int64
	var l *streamLimit
	l = newLimit(total, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if taken := l.n.Load(); taken > total {
			t.Errorf("%d places of %d taken", taken, total)
		}
		for i := rand.Intn(3); i > 0; i-- {
			runtime.Gosched()
		}
		inFlight.Add(-1)
	}))
	cs := make([]*connStreams, conns)
	var wg sync.WaitGroup
	for i := range cs {
		cs[i] = l.conn()
		for j := 0; j < perConn; j++ {
			wg.Add(1)
			go func(c *connStreams) {
				defer wg.Done()
				for k := 0; k < rounds; k++ {
					rec := httptest.NewRecorder()
					c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
					if rec.Code == 503 {
						refused.Add(1)
					} else {
						served.Add(1)
					}
				}
			}(cs[i])
		}
	}
	wg.Wait()
	if p := peak.Load(); p > total+conns {
		t.Errorf("%d streams in flight at once, over the total (%d) plus the connections (%d)", p, total, conns)
	}
	if l.n.Load() != 0 {
		t.Errorf("%d places taken after all ended", l.n.Load())
	}
	for i, c := range cs {
		if c.n != 0 {
			t.Errorf("connection %d: %d streams counted after all ended", i, c.n)
		}
	}
	t.Logf("%d served, %d refused, at most %d in flight at once", served.Load(), refused.Load(), peak.Load())
}
