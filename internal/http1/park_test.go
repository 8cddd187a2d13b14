package http1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// waitUntil polls cond (a counter, a descriptor count) until it holds, or
// fails the test after 10 s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// parkServer serves a hello that says which request of its connection it
// is, with connections parked after 5 ms idle.
func parkServer(t *testing.T, opts ...func(*Server)) (*Server, string) {
	t.Helper()
	if closeWatcher() == nil {
		t.Skip("no epoll: connections never park")
	}
	return startServer(t, func(w *ResponseWriter, r *Request) {
		n, _ := r.ConnState.(int)
		r.ConnState = n + 1
		w.WriteHeader(200, "OK", nil)
		fmt.Fprintf(w, "%s #%d", r.Path, n+1)
	}, append([]func(*Server){func(s *Server) {
		s.IdlePark = 5 * time.Millisecond
		s.IdleTimeout = 30 * time.Second
	}}, opts...)...)
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// connParked reports whether the server's end of client c is parked.
func (s *Server) connParked(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pc := range s.conns {
		if pc.rwc.RemoteAddr().String() == c.LocalAddr().String() {
			return pc.state.Load() == stateParked
		}
	}
	return false
}

func parkedIs(s *Server, n int64) func() bool {
	return func() bool { return s.parked.Load() == n }
}

func get(c *client, path string) string {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
	r := c.read("GET")
	if r.Status != 200 {
		c.t.Fatalf("%s", r.Raw)
	}
	return string(r.Body)
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// An idle connection parks (no goroutine, no buffers), wakes when its next
// request comes, keeps its state across (ConnState), and parks again.
func TestParkAndWake(t *testing.T) {
	s, addr := parkServer(t)
	c := dial(t, addr)
	for i := 1; i <= 5; i++ {
		if got, want := get(c, "/p"), "/p #"+strconv.Itoa(i); got != want {
			t.Fatalf("request %d: %q, want %q", i, got, want)
		}
		waitUntil(t, "the connection to park", parkedIs(s, 1))
		s.mu.Lock()
		for pc := range s.conns {
			pc.pmu.Lock()
			if pc.rbuf != nil || pc.out != nil || pc.state.Load() != stateParked {
				t.Errorf("parked with rbuf %d bytes, out %v, state %d", len(pc.rbuf), pc.out != nil, pc.state.Load())
			}
			pc.pmu.Unlock()
		}
		s.mu.Unlock()
	}
	c.Close()
	waitUntil(t, "the connection to go", func() bool { return s.connCount() == 0 && s.parked.Load() == 0 })
}

// A pipelined request that arrived with the previous one is served, never
// parked with its bytes; so is one whose head is split across the park.
func TestParkPipelined(t *testing.T) {
	s, addr := parkServer(t)
	c := dial(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HT")
	for _, want := range []string{"/a #1", "/b #2"} {
		if r := c.read("GET"); string(r.Body) != want {
			t.Fatalf("%q, want %q", r.Body, want)
		}
	}
	// Bytes of /c are buffered: the connection waits for the rest of the
	// head (header timeout), it does not park. Another connection, idle
	// from later on, parks: time enough.
	clock := dial(t, addr)
	get(clock, "/")
	waitUntil(t, "the other connection to park", func() bool { return s.connParked(clock) })
	if s.connParked(c) {
		t.Fatal("parked with a partial head buffered")
	}
	c.send("TP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); string(r.Body) != "/c #3" {
		t.Fatalf("%q", r.Body)
	}
	waitUntil(t, "both connections to park", parkedIs(s, 2))
}

// park itself refuses a connection with input buffered.
func TestParkRefusesBufferedInput(t *testing.T) {
	c := &conn{rbuf: []byte("GET / HTTP/1.1\r\n"), rpos: 0, rend: 4}
	c.state.Store(stateIdle)
	if got := c.park(time.Second); got != 0 {
		t.Fatalf("park with input buffered = %d, want 0", got)
	}
	if c.state.Load() != stateIdle || c.rbuf == nil {
		t.Fatal("park touched a connection with input buffered")
	}
}

// The keep-alive timeout closes a parked connection on time: its
// descriptor is closed and the counters are back to zero.
func TestParkKeepAliveTimeout(t *testing.T) {
	s, addr := parkServer(t, func(s *Server) { s.IdleTimeout = 400 * time.Millisecond })
	fds := openFDs(t)
	c := dial(t, addr)
	get(c, "/")
	waitUntil(t, "the connection to park", parkedIs(s, 1))
	start := time.Now()
	c.expectEOF()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v, keep-alive 400ms", d)
	}
	c.Close()
	waitUntil(t, "counters and descriptors back", func() bool {
		return s.connCount() == 0 && s.parked.Load() == 0 && openFDs(t) == fds
	})
}

// A client that closes its parked connection: the server closes its end at
// once (no wait for the keep-alive timeout), the descriptor is gone.
func TestParkClientCloses(t *testing.T) {
	s, addr := parkServer(t)
	fds := openFDs(t)
	for i := 0; i < 3; i++ {
		c := dial(t, addr)
		get(c, "/")
		waitUntil(t, "the connection to park", parkedIs(s, 1))
		c.Close()
		waitUntil(t, "counters and descriptors back", func() bool {
			return s.connCount() == 0 && s.parked.Load() == 0 && openFDs(t) == fds
		})
	}
}

// Shutdown closes parked connections at once and returns; Close does too.
func TestParkShutdown(t *testing.T) {
	for _, name := range []string{"Shutdown", "Close"} {
		t.Run(name, func(t *testing.T) {
			s, addr := parkServer(t)
			fds := openFDs(t)
			var cs []*client
			for i := 0; i < 4; i++ {
				c := dial(t, addr)
				get(c, "/")
				cs = append(cs, c)
			}
			waitUntil(t, "the connections to park", parkedIs(s, 4))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if name == "Shutdown" {
				if err := s.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			} else {
				s.Close()
			}
			for _, c := range cs {
				c.expectEOF()
				c.Close()
			}
			waitUntil(t, "counters and descriptors back", func() bool {
				return s.connCount() == 0 && s.parked.Load() == 0 && openFDs(t) < fds
			})
		})
	}
}

// A parked connection keeps its place under MaxConns until it closes.
func TestParkMaxConns(t *testing.T) {
	s, addr := parkServer(t, func(s *Server) { s.MaxConns = 1; s.IdleTimeout = 500 * time.Millisecond })
	c1 := dial(t, addr)
	get(c1, "/")
	waitUntil(t, "the connection to park", parkedIs(s, 1))
	c2 := dial(t, addr)
	c2.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
	c1.expectEOF() // the keep-alive timeout frees the place...
	if r := c2.read("GET"); string(r.Body) != "/2 #1" {
		t.Fatalf("%q", r.Body)
	}
	if s.connCount() != 1 {
		t.Fatalf("%d connections, want 1", s.connCount())
	}
}

// Many connections parked and woken at once, again and again (run with
// -race): every request is answered, nothing is served twice or lost.
func TestParkManyConcurrent(t *testing.T) {
	s, addr := parkServer(t)
	const n = 40
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = dial(t, addr)
	}
	for round := 1; round <= 4; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, c := range cs {
			wg.Add(1)
			go func(c *client) {
				defer wg.Done()
				c.send("GET /m HTTP/1.1\r\nHost: x\r\n\r\n")
				r, err := readResponse(c.br, "GET")
				if err == nil && string(r.Body) != "/m #"+strconv.Itoa(round) {
					err = fmt.Errorf("%q in round %d", r.Body, round)
				}
				if err != nil {
					errs <- err
				}
			}(c)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		waitUntil(t, "every connection to park", parkedIs(s, n))
	}
	for _, c := range cs {
		c.Close()
	}
	waitUntil(t, "the connections to go", func() bool { return s.connCount() == 0 && s.parked.Load() == 0 })
}

// IdlePark < 0 keeps the goroutine; so does a wrapper that may read ahead.
func TestParkOff(t *testing.T) {
	s, addr := parkServer(t, func(s *Server) { s.IdlePark = -1; s.IdleTimeout = 300 * time.Millisecond })
	c := dial(t, addr)
	get(c, "/")
	c.expectEOF()
	if s.parked.Load() != 0 {
		t.Fatal("parked with IdlePark < 0")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s2 := &Server{Handler: HandlerFunc(echo), ErrorLog: discardLog, IdlePark: time.Millisecond, IdleTimeout: 300 * time.Millisecond}
	go s2.Serve(wrapListener{ln})
	defer s2.Close()
	c2 := dial(t, ln.Addr().String())
	c2.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c2.read("GET")
	c2.expectEOF()
	if s2.parked.Load() != 0 {
		t.Fatal("parked a connection under a wrapper that may read ahead")
	}
}

// wrapListener hands out connections under a layer that says which
// socket is under it, as TLS and the read-ahead wrappers do.
type wrapListener struct{ net.Listener }

type wrapConn struct{ net.Conn }

func (c wrapConn) NetConn() net.Conn { return c.Conn }

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrapConn{c}, nil
}

// A hijacked connection is never parked, however long it stays quiet: a
// plain connection that went idle after it parks (the clock), the
// hijacked one does not, and its new owner still reads from it.
func TestParkNeverHijacked(t *testing.T) {
	got := make(chan string, 1)
	s, addr := parkServer(t, func(s *Server) {
		s.Handler = HandlerFunc(func(w *ResponseWriter, r *Request) {
			if r.Path != "/hijack" {
				w.WriteHeader(200, "OK", nil)
				return
			}
			nc, _, err := w.Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			go func() { // the handler returns; the connection is the new owner's
				defer nc.Close()
				io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
				line, _ := bufio.NewReader(nc).ReadString('\n')
				got <- line
			}()
		})
	})
	h := dial(t, addr)
	h.send("GET /hijack HTTP/1.1\r\nHost: a\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	if r := h.read("GET"); r.Status != 101 {
		t.Fatalf("%s", r.Raw)
	}
	c := dial(t, addr)
	get(c, "/")
	waitUntil(t, "the plain connection to park", parkedIs(s, 1))
	if n := s.parked.Load(); n != 1 {
		t.Fatalf("%d parked", n)
	}
	h.send("still mine\n")
	select {
	case line := <-got:
		if line != "still mine\n" {
			t.Fatalf("the hijacker read %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hijacker read nothing")
	}
}

// After reclaimParks connections park, free memory goes back to the OS
// once, after a quiet moment.
func TestParkReclaim(t *testing.T) {
	called := make(chan struct{}, 4)
	old := freeOSMemory
	freeOSMemory = func() { called <- struct{}{} }
	defer func() { freeOSMemory = old }()
	reclaim.mu.Lock()
	reclaim.parks, reclaim.last = 0, time.Time{}
	reclaim.mu.Unlock()
	for i := 0; i < reclaimParks-1; i++ {
		noteParked()
	}
	reclaim.mu.Lock()
	if reclaim.timer != nil && reclaim.timer.Stop() {
		t.Error("a reclaim was scheduled before reclaimParks parks")
	}
	reclaim.mu.Unlock()
	noteParked()
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("no reclaim after reclaimParks parks")
	}
	reclaim.mu.Lock()
	defer reclaim.mu.Unlock()
	if reclaim.parks != 0 || reclaim.last.IsZero() {
		t.Fatalf("after a reclaim: parks %d, last %v", reclaim.parks, reclaim.last)
	}
}

// A request that reaches a parked connection as Shutdown begins is served
// (with "Connection: close"), as it is on a connection waiting in a read;
// the watcher is held back so that the wake comes after Shutdown started.
func TestParkShutdownRequestArriving(t *testing.T) {
	s, addr := parkServer(t)
	c := dial(t, addr)
	get(c, "/")
	waitUntil(t, "the connection to park", func() bool { return s.connParked(c) })
	release := watcher.set.Hold()
	locked := true
	defer func() {
		if locked {
			release()
		}
	}()
	c.send("GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
	waitUntil(t, "the request to reach the server's socket", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for pc := range s.conns {
			return pendingInput(pc.rwc)
		}
		return false
	})
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	waitUntil(t, "Shutdown to start", s.shuttingDown)
	release()
	locked = false
	r := c.read("GET")
	if string(r.Body) != "/last #2" || r.get("Connection") != "close" {
		t.Fatalf("%s%q", r.Raw, r.Body)
	}
	c.expectEOF()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
