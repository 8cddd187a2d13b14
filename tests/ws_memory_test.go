package tests

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestWebSocketIdleParks opens many WebSockets, exchanges a message on
// each, and checks through /metrics that, once they are quiet, the front
// holds no goroutine per WebSocket (the client's side is parked in an
// epoll set, internal/websocket/park.go; the application's side on its
// slot, workers.Exchange.WSPark). Then every one echoes again and parks
// again, and a graceful stop closes every parked one with 1001. Over
// plain TCP and over TLS.
func TestWebSocketIdleParks(t *testing.T) {
	t.Parallel()
	t.Run("plain", func(t *testing.T) { testWebSocketIdleParks(t, false) })
	t.Run("tls", func(t *testing.T) { testWebSocketIdleParks(t, true) })
}

func testWebSocketIdleParks(t *testing.T, overTLS bool) {
	const n = 200
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"-w", "1", "--metrics-bind", maddr, "--graceful-timeout", "5"}
	var tlsConf *tls.Config
	if overTLS {
		p := newPKI(t)
		cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
		args = append(args, "--certfile", cf, "--keyfile", kf)
		tlsConf = &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
	}
	s, _ := startWS(t, args...)
	dial := func() (*http.Response, string, net.Conn, *bufio.Reader) {
		if tlsConf == nil {
			return wsDial(t, s.Addr, "/echo")
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr, tlsConf)
		if err != nil {
			t.Fatalf("TLS: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return wsHandshake(t, c, "/echo")
	}
	goroutines := func() float64 {
		v, _ := metricValue(scrapeMetrics(t, maddr), "go_goroutines")
		return v
	}
	if tlsConf == nil {
		wsEcho(t, s, "warm-up")
	}
	base := goroutines()

	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		resp, body, c, br := dial()
		if resp.StatusCode != 101 {
			t.Fatalf("WebSocket %d: %s %q", i, resp.Status, body)
		}
		c.SetDeadline(time.Now().Add(90 * time.Second))
		conns[i], readers[i] = c, br
	}
	for r := 1; r <= 2; r++ {
		// Every WebSocket sends at once, then every echo is read.
		for i, c := range conns {
			wsFrame(t, c, ws.OpText, []byte("round "+strconv.Itoa(r)+" from "+strconv.Itoa(i)))
		}
		for i, br := range readers {
			op, p := wsNext(t, br)
			if want := "round " + strconv.Itoa(r) + " from " + strconv.Itoa(i); op != ws.OpText || string(p) != want {
				t.Fatalf("round %d, WebSocket %d: %v %q, want the echo %q", r, i, op, p, want)
			}
		}
		// Quiet: no goroutine per WebSocket. A few come and go (metrics,
		// the supervisor), so the bound is a quarter of n, far below one
		// per WebSocket (two per WebSocket without parking).
		var g float64
		if !waitFor(15*time.Second, func() bool { g = goroutines(); return g < base+n/4 }) {
			t.Fatalf("round %d: %v goroutines with %d quiet WebSockets (%v before they opened)", r, g, n, base)
		}
	}
	// A graceful stop reaches every parked WebSocket: 1001 (Going Away).
	s.Signal(syscall.SIGTERM)
	for i, br := range readers {
		if code, _ := wsClosed(t, br); code != 1001 {
			t.Fatalf("WebSocket %d: closed with %d on a graceful stop, want 1001", i, code)
		}
		wsFrame(t, conns[i], ws.OpClose, []byte{0x03, 0xe9})
	}
	if code := s.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after a graceful stop", code)
	}
}

// TestWebSocketIdleCloseAndPingTimeout: parked WebSockets still close
// cleanly both ways, and keep-alive pings still find a dead client: one
// that answers nothing is closed with 1011 within --ws-ping-interval and
// --ws-ping-timeout, although its reader is parked, and the application
// gets websocket.disconnect; the front then holds no more goroutines than
// before it opened.
func TestWebSocketIdleCloseAndPingTimeout(t *testing.T) {
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, p := startWS(t, "-w", "1", "--metrics-bind", maddr, "--ws-ping-interval", "1", "--ws-ping-timeout", "1")
	goroutines := func() float64 {
		v, _ := metricValue(scrapeMetrics(t, maddr), "go_goroutines")
		return v
	}
	wsEcho(t, s, "warm-up")
	base := goroutines()

	open := func() (net.Conn, *bufio.Reader) {
		resp, body, c, br := wsDial(t, s.Addr, "/echo")
		if resp.StatusCode != 101 {
			t.Fatalf("handshake: %s %q", resp.Status, body)
		}
		c.SetDeadline(time.Now().Add(60 * time.Second))
		wsFrame(t, c, ws.OpText, []byte("hello"))
		if op, m := wsNext(t, br); op != ws.OpText || string(m) != "hello" {
			t.Fatalf("echo: %v %q", op, m)
		}
		return c, br
	}

	// A client that answers pings and closes after a quiet while.
	c, br := open()
	deadline := time.Now().Add(20 * time.Second)
	for pings := 0; pings < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no ping from the server within 20 s")
		}
		h, err := ws.ReadHeader(br)
		if err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatalf("reading a frame's payload: %v", err)
		}
		if h.OpCode != ws.OpPing {
			t.Fatalf("a %v frame while quiet, want pings", h.OpCode)
		}
		wsFrame(t, c, ws.OpPong, payload)
		pings++
	}
	wsFrame(t, c, ws.OpClose, []byte{0x03, 0xe8})
	if code, _ := wsClosed(t, br); code != 1000 {
		t.Fatalf("the server answered a close with %d, want 1000", code)
	}

	// A client that answers nothing: 1011 after the ping's timeout.
	c, br = open()
	start := time.Now()
	code, reason := wsClosed(t, br)
	if code != 1011 {
		t.Fatalf("a dead client was closed with %d %q, want 1011", code, reason)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the dead client was closed after %v; ping interval and timeout are 1 s each", d)
	}
	if !waitFor(10*time.Second, func() bool { return readFile(t, p.Path("echo-disconnect")) == "1011" }) {
		t.Errorf("the app saw websocket.disconnect with %q, want 1011", readFile(t, p.Path("echo-disconnect")))
	}
	var g float64
	if !waitFor(15*time.Second, func() bool { g = goroutines(); return g <= base+2 }) {
		t.Errorf("%v goroutines after both WebSockets ended, %v before", g, base)
	}
	// And the server goes on serving.
	wsEcho(t, s, "after")
	resp, _ := get(t, s, "GET", "/browser", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /browser: %s", resp.Status)
	}
}
