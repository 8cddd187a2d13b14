package websocket

import (
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// startParkWS is startWS with connections served by Start (so they park
// when quiet, after opts.IdlePark) and echoed by a goroutine of their own.
func startParkWS(t *testing.T, opts Options) *testServer {
	t.Helper()
	ts := &testServer{conns: make(chan *Conn, 16), summaries: make(chan Summary, 16)}
	h := func(w *http1.ResponseWriter, r *http1.Request) {
		hs, herr := CheckHTTP1(FromHTTP1(r), HandshakeOptions{})
		if herr != nil {
			RefuseHTTP1(w, herr)
			return
		}
		c, err := AcceptHTTP1(w, hs, "", nil, &http1.Defaults{}, opts)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		ts.conns <- c
		go echo(c)
		c.Start(func(s Summary) { ts.summaries <- s })
	}
	ts.addr = serveHTTP1(t, h)
	return ts
}

// waitParked waits (bounded) until c is parked, or not parked.
func waitParked(t *testing.T, c *Conn, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Parked() != want {
		if time.Now().After(deadline) {
			t.Fatalf("the connection's parked state stayed %v", !want)
		}
		time.Sleep(time.Millisecond) // polling an observable state, not ordering events
	}
}

// A quiet connection parks (no goroutine, no input buffer), wakes on the
// next frame, and serves it as before: whole messages, fragments with a
// ping among them, a frame split by a pause longer than IdlePark, and the
// close handshake.
func TestParkWakesOnInput(t *testing.T) {
	opts := testOpts()
	opts.IdlePark = 20 * time.Millisecond
	ts := startParkWS(t, opts)
	cl, _ := dialWS(t, ts.addr, "/", "")
	c := ts.conn(t)

	cl.send(ws.OpText, []byte("one"))
	cl.expect(ws.OpText, []byte("one"))
	waitParked(t, c, true) // (its input buffer went back before: see park)

	cl.send(ws.OpBinary, []byte("two"))
	cl.expect(ws.OpBinary, []byte("two"))
	waitParked(t, c, true)

	// A message in fragments, a ping among them, with pauses: a pause
	// inside a message is a slow peer, not a quiet one.
	cl.write(frame(false, 0, ws.OpText, []byte("thr")))
	time.Sleep(3 * opts.IdlePark) // a slow peer
	cl.write(frame(true, 0, ws.OpPing, []byte("p")))
	cl.expect(ws.OpPong, []byte("p"))
	cl.write(frame(true, 0, ws.OpContinuation, []byte("ee")))
	cl.expect(ws.OpText, []byte("three"))

	// A frame cut in the middle of its header, then of its payload.
	f := frame(true, 0, ws.OpText, []byte("four, in pieces"))
	cl.write(f[:1])
	time.Sleep(3 * opts.IdlePark) // a slow peer
	cl.write(f[1:8])
	time.Sleep(3 * opts.IdlePark)
	cl.write(f[8:])
	cl.expect(ws.OpText, []byte("four, in pieces"))
	waitParked(t, c, true)

	cl.send(ws.OpClose, closePayload(1000, "bye"))
	cl.expectClose(1000)
	if s := ts.summary(t); s.Code != 1000 || s.MessagesIn != 4 || !s.ClosedByPeer {
		t.Fatalf("summary %+v", s)
	}
}

// Abort (a shutdown's hard stop) and an unanswered keep-alive ping both
// end a parked connection, once, with its summary.
func TestParkEnds(t *testing.T) {
	t.Run("abort", func(t *testing.T) {
		opts := testOpts()
		opts.IdlePark = 10 * time.Millisecond
		ts := startParkWS(t, opts)
		cl, _ := dialWS(t, ts.addr, "/", "")
		c := ts.conn(t)
		cl.send(ws.OpText, []byte("x"))
		cl.expect(ws.OpText, []byte("x"))
		waitParked(t, c, true)
		c.Abort()
		if s := ts.summary(t); s.Code != CloseAbnormal {
			t.Fatalf("summary %+v, want 1006", s)
		}
		cl.expectEOF()
	})
	t.Run("ping timeout", func(t *testing.T) {
		opts := testOpts()
		opts.IdlePark = 10 * time.Millisecond
		opts.PingInterval, opts.PingTimeout = 100*time.Millisecond, 2*time.Second // time to answer on a loaded machine
		ts := startParkWS(t, opts)
		cl, _ := dialWS(t, ts.addr, "/", "")
		c := ts.conn(t)
		waitParked(t, c, true)
		// Answered pings keep it open (each wakes the reader, which parks
		// again); then the client stops answering.
		for i := 0; i < 2; i++ {
			h, p := cl.readFrame()
			if h.OpCode != ws.OpPing {
				t.Fatalf("got %v, want a ping", h.OpCode)
			}
			cl.send(ws.OpPong, p)
		}
		if h, _ := cl.readFrame(); h.OpCode != ws.OpPing {
			t.Fatalf("got %v, want a ping", h.OpCode)
		}
		cl.expectClose(CloseInternalError)
		if s := ts.summary(t); s.Code != CloseInternalError || !s.ClosedByServer {
			t.Fatalf("summary %+v, want 1011 by the server", s)
		}
		select {
		case s := <-ts.summaries:
			t.Fatalf("a second summary: %+v", s)
		default:
		}
	})
}
