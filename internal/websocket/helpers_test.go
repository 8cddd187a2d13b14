package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gowsgi/gowsgi/internal/http1"
)

// testServer is gowsgi's HTTP/1.1 engine with a WebSocket handler in front
// of an in-process upstream chosen by path:
//
//	/echo   echoes every message (the default)
//	/hold   reads nothing: the test drives the Conn from ts.conns
//	/deny   refuses the handshake with a 403, as a close before accept
type testServer struct {
	addr      string
	conns     chan *Conn
	summaries chan Summary
}

func startWS(t *testing.T, opts Options, hsOpts HandshakeOptions) *testServer {
	t.Helper()
	ts := &testServer{conns: make(chan *Conn, 16), summaries: make(chan Summary, 1024)}
	h := func(w *http1.ResponseWriter, r *http1.Request) {
		if !IsUpgradeHTTP1(r) {
			w.WriteHeader(200, "OK", nil)
			w.Write([]byte("plain\n"))
			w.Finish()
			return
		}
		hs, herr := CheckHTTP1(FromHTTP1(r), hsOpts)
		if herr != nil {
			RefuseHTTP1(w, herr)
			return
		}
		if r.Path == "/deny" {
			RefuseHTTP1(w, &HandshakeError{Status: 403, Reason: "denied by the app"})
			return
		}
		sub := ""
		if len(hs.Subprotocols) > 0 {
			sub = hs.Subprotocols[len(hs.Subprotocols)-1]
		}
		c, err := AcceptHTTP1(w, hs, sub, []http1.Field{{Name: "X-App", Value: "yes"}}, &http1.Defaults{}, opts)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		if r.Path == "/hold" {
			ts.conns <- c
		} else {
			go echo(c)
		}
		ts.summaries <- c.Run()
	}
	ts.addr = serveHTTP1(t, h)
	return ts
}

// serveHTTP1 serves h on a loopback port, until the test ends, and
// returns its address.
func serveHTTP1(t *testing.T, h func(*http1.ResponseWriter, *http1.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http1.Server{Handler: http1.HandlerFunc(h), ErrorLog: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return ln.Addr().String()
}

// echo is the in-process upstream: every message back, until the close.
func echo(c *Conn) {
	for {
		m, err := c.Receive(context.Background())
		if err != nil {
			return
		}
		if c.Send(context.Background(), m) != nil {
			return
		}
	}
}

func (ts *testServer) conn(t *testing.T) *Conn {
	t.Helper()
	select {
	case c := <-ts.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
	}
	return nil
}

func (ts *testServer) summary(t *testing.T) Summary {
	t.Helper()
	select {
	case s := <-ts.summaries:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("connection did not end")
	}
	return Summary{}
}

type wsClient struct {
	t *testing.T
	net.Conn
	br *bufio.Reader
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ=="

// rawHandshake sends a request head as given and reads the response head.
func rawHandshake(t *testing.T, addr, head string) (*wsClient, *http.Response) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { nc.Close() })
	c := &wsClient{t: t, Conn: nc, br: bufio.NewReader(nc)}
	if _, err := io.WriteString(nc, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	return c, resp
}

// dialWS opens a WebSocket on path with extra request fields ("Name: v\r\n"
// lines) and checks the 101.
func dialWS(t *testing.T, addr, path, extra string) (*wsClient, *http.Response) {
	t.Helper()
	c, resp := rawHandshake(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+testKey+"\r\nSec-WebSocket-Version: 13\r\n"+extra+"\r\n")
	if resp.StatusCode != 101 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("handshake: %d %s", resp.StatusCode, body)
	}
	return c, resp
}

// frame builds one masked client frame.
func frame(fin bool, rsv byte, op ws.OpCode, p []byte) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: int64(len(p)), Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	ws.WriteHeader(&b, h)
	q := append([]byte(nil), p...)
	ws.Cipher(q, h.Mask, 0)
	b.Write(q)
	return b.Bytes()
}

func unmaskedFrame(op ws.OpCode, p []byte) []byte {
	var b bytes.Buffer
	ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: op, Length: int64(len(p))})
	b.Write(p)
	return b.Bytes()
}

func (c *wsClient) write(frames ...[]byte) {
	c.t.Helper()
	for _, f := range frames {
		if _, err := c.Write(f); err != nil {
			c.t.Fatalf("write: %v", err)
		}
	}
}

func (c *wsClient) send(op ws.OpCode, p []byte) { c.t.Helper(); c.write(frame(true, 0, op, p)) }

// readFrame reads one server frame, which must be unmasked.
func (c *wsClient) readFrame() (ws.Header, []byte) {
	c.t.Helper()
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	if h.Masked {
		c.t.Fatal("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("reading a payload: %v", err)
	}
	return h, p
}

// expect reads the next frame and checks its opcode and payload.
func (c *wsClient) expect(op ws.OpCode, p []byte) {
	c.t.Helper()
	h, got := c.readFrame()
	if h.OpCode != op || !h.Fin || h.Rsv != 0 || !bytes.Equal(got, p) {
		c.t.Fatalf("got frame op=%v fin=%v rsv=%d payload %q (%d bytes), want op=%v payload %q (%d bytes)",
			h.OpCode, h.Fin, h.Rsv, trunc(got), len(got), op, trunc(p), len(p))
	}
}

func trunc(p []byte) []byte {
	if len(p) > 40 {
		return p[:40]
	}
	return p
}

// expectClose reads the server's close frame, checks its code (0: no
// code), and then that the server ends the connection.
func (c *wsClient) expectClose(code int) string {
	c.t.Helper()
	h, p := c.readFrame()
	if h.OpCode != ws.OpClose {
		c.t.Fatalf("got op %v (%q), want a close frame with %d", h.OpCode, trunc(p), code)
	}
	got, reason := 0, ""
	if len(p) >= 2 {
		got, reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
	}
	if got != code {
		c.t.Fatalf("close code %d (%q), want %d", got, reason, code)
	}
	c.expectEOF()
	c.Close() // as a client does: the server need not linger
	return reason
}

func (c *wsClient) expectEOF() {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	n, err := c.br.Read(b[:])
	if n > 0 || !(errors.Is(err, io.EOF) || isReset(err)) {
		c.t.Fatalf("after the close: read %d bytes, %v; want EOF", n, err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func closePayload(code int, reason string) []byte {
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	return append(b, reason...)
}

func testOpts() Options {
	return Options{MaxMessageSize: 64 << 10, PingInterval: -1}
}

var _ = fmt.Sprint

type http1Field = http1.Field

func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
