package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// A client flooding messages that the upstream does not read is held by
// the bounded incoming queue, then by TCP: the server stops reading, the
// client's writes stall, and the messages queued in the server stay under
// the bound. When the upstream reads again, every message arrives, in
// order.
func TestFloodNonReadingUpstream(t *testing.T) {
	opts := testOpts()
	opts.InQueueBytes = 256 << 10
	ts := startWS(t, opts, HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/hold", "")
	conn := ts.conn(t)
	c.Conn.(*net.TCPConn).SetWriteBuffer(64 << 10)

	const size = 32 << 10
	const maxTotal = 256 << 20 // far beyond every buffer on the way: reaching it means nothing holds the client
	payload := make([]byte, size)
	sent := 0
	for ; sent*size < maxTotal; sent++ {
		binary.BigEndian.PutUint64(payload, uint64(sent))
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(frame(true, 0, ws.OpBinary, payload)); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("write: %v", err)
			}
			break
		}
	}
	if sent*size >= maxTotal {
		t.Fatalf("the client wrote %d MiB into a connection whose upstream reads nothing", maxTotal>>20)
	}
	if q := conn.in.queued(); q > opts.InQueueBytes {
		t.Fatalf("the incoming queue holds %d bytes, over its bound of %d", q, opts.InQueueBytes)
	}
	t.Logf("the client stalled after %d messages (%d KiB); the queue holds %d KiB", sent, sent*size>>10, conn.in.queued()>>10)
	// The upstream reads again: the messages that were fully written
	// arrive in order.
	for i := 0; i < sent; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := conn.Receive(ctx)
		cancel()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if n := binary.BigEndian.Uint64(m.Data); n != uint64(i) || len(m.Data) != size {
			t.Fatalf("message %d is #%d of %d bytes", i, n, len(m.Data))
		}
	}
	conn.Abort()
}

// A client that reads nothing makes the upstream's Send wait once the
// socket buffers are full (Send writes; nothing is queued).
func TestSlowReaderBlocksSend(t *testing.T) {
	opts := testOpts()
	ts := startWS(t, opts, HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/hold", "")
	c.Conn.(*net.TCPConn).SetReadBuffer(64 << 10)
	conn := ts.conn(t)
	const size = 64 << 10
	const maxSends = 4096 // 256 MiB
	n := 0
	for ; n < maxSends; n++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := conn.Send(ctx, Message{Data: make([]byte, size)})
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("send %d: %v", n, err)
		}
	}
	if n == maxSends {
		t.Fatalf("Send never waited for a client that reads nothing")
	}
	t.Logf("Send waited after %d messages (%d KiB)", n, n*size>>10)
	// The client reads again: the queued messages flow.
	for i := 0; i < n; i++ {
		c.expect(ws.OpBinary, make([]byte, size))
	}
	conn.Abort()
}

// The server pings every PingInterval; a client that does not answer
// within PingTimeout is failed with 1011, one that answers stays.
func TestKeepalivePing(t *testing.T) {
	opts := testOpts()
	opts.PingInterval, opts.PingTimeout = 50*time.Millisecond, 2*time.Second // time to answer on a loaded machine
	ts := startWS(t, opts, HandshakeOptions{})

	c, _ := dialWS(t, ts.addr, "/echo", "")
	for i := 0; i < 3; i++ {
		h, p := c.readFrame()
		if h.OpCode != ws.OpPing {
			t.Fatalf("got %v, want a ping", h.OpCode)
		}
		c.send(ws.OpPong, p)
	}
	c.send(ws.OpText, []byte("alive"))
	for {
		h, p := c.readFrame()
		if h.OpCode == ws.OpPing {
			c.send(ws.OpPong, p)
			continue
		}
		if h.OpCode != ws.OpText || string(p) != "alive" {
			t.Fatalf("got %v %q", h.OpCode, p)
		}
		break
	}
	c.send(ws.OpClose, closePayload(1000, ""))
	for {
		h, _ := c.readFrame()
		if h.OpCode == ws.OpClose {
			break
		}
	}
	ts.summary(t)

	c, _ = dialWS(t, ts.addr, "/echo", "")
	h, _ := c.readFrame()
	if h.OpCode != ws.OpPing {
		t.Fatalf("got %v, want a ping", h.OpCode)
	}
	reason := c.expectClose(1011)
	if s := ts.summary(t); s.Code != 1011 {
		t.Errorf("summary %+v (reason %q)", s, reason)
	}
}

// With Options.Deliver the reader hands each message over itself, in
// order, and Receive gives only the final close.
func TestDeliver(t *testing.T) {
	got := make(chan Message, 10)
	opts := testOpts()
	opts.Deliver = func(m Message) error { // m.Data is the reader's until Deliver returns
		got <- Message{Text: m.Text, Data: append([]byte(nil), m.Data...)}
		return nil
	}
	ts := startWS(t, opts, HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/hold", "")
	conn := ts.conn(t)
	c.send(ws.OpText, []byte("one"))
	c.write(frame(false, 0, ws.OpBinary, []byte("tw")), frame(true, 0, ws.OpContinuation, []byte("o")))
	for _, want := range []Message{{Text: true, Data: []byte("one")}, {Data: []byte("two")}} {
		select {
		case m := <-got:
			if m.Text != want.Text || string(m.Data) != string(want.Data) {
				t.Fatalf("got %+v, want %+v", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing delivered")
		}
	}
	c.send(ws.OpClose, closePayload(1000, ""))
	c.expectClose(1000)
	if _, err := conn.Receive(context.Background()); err == nil || err.(*CloseError).Code != 1000 {
		t.Fatalf("Receive: %v", err)
	}
}
