package tests

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/net/http2"
)

// Attack traffic against WebSockets (issue 18): each case holds the front's
// memory under a stated bound while it lasts, still serves other HTTP and
// WebSocket clients, and gives every descriptor back afterwards.

const upgradeHead = "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// fdCount is the number of descriptors a process has open.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// wsEcho checks that a WebSocket echo on /echo still works.
func wsEcho(t *testing.T, s *Server, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, _, err := ws.Dialer{}.Dial(ctx, wsURL(s, "/echo"))
	if err != nil {
		t.Fatalf("an echo client was not served: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wsutil.WriteClientText(c, []byte(msg)); err != nil {
		t.Fatalf("echo write: %v", err)
	}
	got, err := wsutil.ReadServerText(c)
	if err != nil || string(got) != msg {
		t.Fatalf("echo read %q, %v; want %q", got, err, msg)
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
}

// httpServed checks that a plain HTTP request is answered.
func httpServed(t *testing.T, s *Server) {
	t.Helper()
	resp, body := get(t, s, "GET", "/browser", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "WebSocket") {
		t.Fatalf("an HTTP client was not served: %d %q", resp.StatusCode, body)
	}
}

// dialAll opens n connections to addr and writes head on each (nothing
// when head is empty).
func dialAll(t *testing.T, addr string, n int, head string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d of %d: %v", i, n, err)
		}
		conns = append(conns, c)
		if head != "" {
			if _, err := io.WriteString(c, head); err != nil {
				t.Fatalf("write %d of %d: %v", i, n, err)
			}
		}
	}
	return conns
}

// waitAllClosed waits until the server has closed every one of conns (a
// read ends), within d, and returns what each read before that.
func waitAllClosed(t *testing.T, conns []net.Conn, d time.Duration) []string {
	t.Helper()
	out := make([]string, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(d))
			b, _ := io.ReadAll(c)
			out[i] = string(b)
		}()
	}
	wg.Wait()
	return out
}

// A handshake flood and slowloris during the handshake. Upgrade requests
// the app never accepts hold slots up to --limit-concurrency, a few more
// wait in the queue, the rest get 503; thousands of connections that send
// nothing, and request heads trickled a byte at a time, are closed at
// --header-timeout. Meanwhile HTTP and WebSocket clients are served, the
// front stays under 256 MiB, and once the flood ends every descriptor is
// given back and the app sees every stalled handshake leave.
func TestWebSocketAttackHandshakeFlood(t *testing.T) {
	s, p := startWS(t, "-w", "1", "--limit-concurrency", "200", "--max-queue", "20", "--queue-timeout", "1s", "--header-timeout", "2s")
	pid := s.Cmd.Process.Pid
	httpServed(t, s)
	wsEcho(t, s, "before")
	fd0, rss0 := fdCount(t, pid), rssKiB(t, pid)

	// Handshakes the app takes and never accepts: 150 of 200 slots.
	stall := "GET /stall/ HTTP/1.1\r\nHost: x\r\n" + upgradeHead + "\r\n"
	stalled := dialAll(t, s.Addr, 150, stall)
	if !waitFor(30*time.Second, func() bool { return p.Exists("stalled") && readFile(t, p.Path("stalled")) == "150" }) {
		t.Fatalf("the app did not get 150 stalled handshakes")
	}
	// Connections that send nothing, and heads trickled byte by byte.
	silent := dialAll(t, s.Addr, 2000, "")
	slow := dialAll(t, s.Addr, 200, "")
	stop := make(chan struct{})
	var trickle sync.WaitGroup
	for _, c := range slow {
		trickle.Add(1)
		go func() {
			defer trickle.Done()
			head := "GET /echo HTTP/1.1\r\nHost: x\r\n" + upgradeHead + strings.Repeat("X-Pad: 0123456789\r\n", 1000)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < len(head); i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := c.Write([]byte{head[i]}); err != nil {
					return // closed by the server
				}
			}
		}()
	}
	t.Cleanup(func() { close(stop); trickle.Wait() })

	// Other clients are served meanwhile; the front's memory is bounded.
	httpServed(t, s)
	wsEcho(t, s, "during the flood")
	rss1 := rssKiB(t, pid)
	t.Logf("front RSS %d KiB before, %d KiB with 150 stalled handshakes, 2000 silent and 200 slowloris connections", rss0, rss1)
	if rss1 > 256<<10 {
		t.Errorf("front RSS %d KiB under the flood, bound 256 MiB", rss1)
	}

	// More handshakes than the worker takes: 50 fill its slots, 20
	// wait, then all 70 past the limit get a 503 within the queue timeout.
	over := dialAll(t, s.Addr, 120, stall)
	if !waitFor(30*time.Second, func() bool { return readFile(t, p.Path("stalled")) == "200" }) {
		t.Fatalf("the app holds %s stalled handshakes, want 200", readFile(t, p.Path("stalled")))
	}
	refused := 0
	for _, got := range waitAllClosed(t, over, 15*time.Second) {
		if strings.HasPrefix(got, "HTTP/1.1 503 ") {
			refused++
		}
	}
	if refused != 70 {
		t.Errorf("%d of the 120 handshakes past the first 150 got 503, want 70 (200 slots, the rest past --max-queue or --queue-timeout)", refused)
	}

	// --header-timeout closes the silent and the slow connections.
	for i, got := range waitAllClosed(t, append(silent, slow...), 30*time.Second) {
		if got != "" && !strings.HasPrefix(got, "HTTP/1.1 408 ") {
			t.Fatalf("connection %d of the flood was answered %q", i, got)
		}
	}

	// The flood ends: the app sees every stalled handshake go, and the
	// front gives back every descriptor.
	for _, c := range append(stalled, over...) {
		c.Close()
	}
	if !waitFor(30*time.Second, func() bool { return readFile(t, p.Path("stalled")) == "0" }) {
		t.Errorf("the app still holds %s stalled handshakes after their clients left", readFile(t, p.Path("stalled")))
	}
	if !waitFor(30*time.Second, func() bool { return fdCount(t, pid) <= fd0 }) {
		t.Errorf("the front holds %d descriptors after the flood, %d before", fdCount(t, pid), fd0)
	}
	httpServed(t, s)
	wsEcho(t, s, "after")
}

// A decompression bomb under permessage-deflate: 64 clients at once each
// send one compressed frame that inflates to 256 MiB. Each is closed with
// 1009 at --ws-max-size (1 MiB) of output, the front's memory stays under
// 128 MiB, other clients are served, and the descriptors come back.
func TestWebSocketAttackDeflateBomb(t *testing.T) {
	s, _ := startWS(t, "-w", "1", "--ws-max-size", "1048576")
	pid := s.Cmd.Process.Pid
	wsEcho(t, s, "before")
	fd0, rss0 := fdCount(t, pid), rssKiB(t, pid)

	// One message of 256 MiB of zeros, deflated (about 256 KiB), without
	// the 00 00 ff ff tail (RFC 7692 7.2.1).
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 256; i++ {
		fw.Write(zeros)
	}
	fw.Flush()
	bomb := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	var frame bytes.Buffer
	mask := [4]byte{9, 8, 7, 6}
	ws.WriteHeader(&frame, ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: ws.OpBinary, Length: int64(len(bomb)), Masked: true, Mask: mask})
	payload := append([]byte(nil), bomb...)
	ws.Cipher(payload, mask, 0)
	frame.Write(payload)

	const n = 64
	codes := make([]ws.StatusCode, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c, "GET /echo HTTP/1.1\r\nHost: x\r\n"+upgradeHead+"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 || !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
				t.Errorf("handshake with permessage-deflate: %v %v", resp, err)
				return
			}
			c.Write(frame.Bytes()) // may fail part way: the server closes first
			for {
				h, err := ws.ReadHeader(br)
				if err != nil {
					t.Errorf("no close frame after the bomb: %v", err)
					return
				}
				body := make([]byte, h.Length)
				if _, err := io.ReadFull(br, body); err != nil {
					t.Errorf("reading a frame: %v", err)
					return
				}
				if h.OpCode == ws.OpClose {
					codes[i], _ = ws.ParseCloseFrameData(body)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != ws.StatusMessageTooBig {
			t.Fatalf("bomb %d was closed with %d, want 1009", i, c)
		}
	}
	rss1 := rssKiB(t, pid)
	t.Logf("front RSS %d KiB before, %d KiB after %d bombs of 256 MiB", rss0, rss1, n)
	if rss1 > 128<<10 {
		t.Errorf("front RSS %d KiB after the bombs, bound 128 MiB", rss1)
	}
	httpServed(t, s)
	wsEcho(t, s, "after the bombs")
	if !waitFor(30*time.Second, func() bool { return fdCount(t, pid) <= fd0 }) {
		t.Errorf("the front holds %d descriptors after the bombs, %d before", fdCount(t, pid), fd0)
	}
}

// A frame flood from 20 clients into an app that never receives: each is
// held by bounded buffers and then TCP, so the front stays under 256 MiB
// and other clients are served. When the clients leave, nothing reads
// their connections (the front waits for the app to take a message), so
// the server's pings find them gone: within --ws-ping-interval and
// --ws-ping-timeout (1 s each here) the front gives back every descriptor.
func TestWebSocketAttackFrameFlood(t *testing.T) {
	s, p := startWS(t, "-w", "1", "--ws-ping-interval", "1", "--ws-ping-timeout", "1", "--graceful-timeout", "1")
	pid := s.Cmd.Process.Pid
	wsEcho(t, s, "before")
	fd0, rss0 := fdCount(t, pid), rssKiB(t, pid)

	var msg bytes.Buffer
	payload := make([]byte, 32<<10)
	ws.WriteHeader(&msg, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(len(payload)), Masked: true, Mask: [4]byte{1, 2, 3, 4}})
	msg.Write(payload)
	const n = 20
	conns := dialAll(t, s.Addr, n, "GET /hold HTTP/1.1\r\nHost: x\r\n"+upgradeHead+"\r\n")
	held := make([]int, n)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 101 {
				t.Errorf("handshake: %v %v", resp, err)
				return
			}
			c.(*net.TCPConn).SetWriteBuffer(64 << 10)
			for held[i] < 256<<20 {
				c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				m, err := c.Write(msg.Bytes())
				held[i] += m
				if err != nil {
					return // a timeout: held; anything else shows below
				}
			}
		}()
	}
	wg.Wait()
	for i, w := range held {
		if w >= 256<<20 {
			t.Fatalf("client %d wrote 256 MiB into an app that reads nothing: nothing held it", i)
		}
	}
	p.WaitFile("hold-accepted", 10*time.Second)
	rss1 := rssKiB(t, pid)
	t.Logf("front RSS %d KiB before, %d KiB with %d clients flooding", rss0, rss1, n)
	if rss1 > 256<<10 {
		t.Errorf("front RSS %d KiB under the flood, bound 256 MiB", rss1)
	}
	httpServed(t, s)
	wsEcho(t, s, "during the flood")
	for _, c := range conns {
		c.Close()
	}
	if !waitFor(30*time.Second, func() bool { return fdCount(t, pid) <= fd0 }) {
		t.Errorf("the front holds %d descriptors after the flooding clients left, %d before", fdCount(t, pid), fd0)
	}
}

// A frame flood on HTTP/2: 20 WebSockets on one h2c connection flood an
// app that never receives. Each stream is held by its flow-control window,
// and the connection's window has room for all of them: a 21st WebSocket
// on the same connection (a browser puts all of an origin's on one) still
// gets its echo, the front's memory stays bounded, and SIGTERM is not held
// up by the stalled streams.
func TestWebSocketAttackFrameFloodHTTP2(t *testing.T) {
	py := debianPython(t, "starlette", "fastapi")
	s, p := startASGI(t, []string{"GODEBUG=http2xconnect=1"}, wsApp, "--python", py, "-w", "1",
		"--http2-cleartext", "prior-knowledge", "--graceful-timeout", "1")
	pid := s.Cmd.Process.Pid
	rss0 := rssKiB(t, pid)
	nc, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cc, err := (&http2.Transport{AllowHTTP: true}).NewClientConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	open := func(path string) (*io.PipeWriter, io.ReadCloser) {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		req, _ := http.NewRequestWithContext(ctx, "CONNECT", "http://"+s.Addr+path, pr)
		req.Header.Set(":protocol", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		resp, err := cc.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("extended CONNECT %s: %v %v", path, resp, err)
		}
		return pw, resp.Body
	}
	frame := wsEncode(true, 0, ws.OpBinary, make([]byte, 16<<10))
	const n, each = 20, 64 << 20
	var written atomic.Int64
	for i := 0; i < n; i++ {
		pw, _ := open("/hold")
		go func() {
			for k := 0; k < each/len(frame); k++ {
				if _, err := pw.Write(frame); err != nil {
					return
				}
				written.Add(int64(len(frame)))
			}
		}()
	}
	p.WaitFile("hold-accepted", 10*time.Second)
	// Held: nothing more goes out for 2 s.
	last, since := int64(-1), time.Now()
	if !waitFor(60*time.Second, func() bool {
		if w := written.Load(); w != last {
			last, since = w, time.Now()
		}
		return time.Since(since) >= 2*time.Second
	}) || last >= n*each {
		t.Fatalf("%d MiB written into an app that reads nothing: nothing held the streams", last>>20)
	}
	rss1 := rssKiB(t, pid)
	t.Logf("held after %d KiB on %d streams; front RSS %d -> %d KiB", last>>10, n, rss0, rss1)
	if rss1 > 256<<10 {
		t.Errorf("front RSS %d KiB with %d stalled streams, bound 256 MiB", rss1, n)
	}

	pw, body := open("/echo")
	msg := bytes.Repeat([]byte("e"), 100000)
	go pw.Write(wsEncode(true, 0, ws.OpText, msg))
	echoed := make(chan error, 1)
	go func() {
		h, p, err := wsReadFrame(bufio.NewReader(body))
		if err == nil && (h.OpCode != ws.OpText || !bytes.Equal(p, msg)) {
			err = fmt.Errorf("got %v of %d bytes", h.OpCode, len(p))
		}
		echoed <- err
	}()
	select {
	case err := <-echoed:
		if err != nil {
			t.Errorf("echo on the flooded connection: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("no echo on the flooded connection within 15 s: the stalled streams hold the connection's flow-control window")
	}
	// And on another connection.
	st, err := h2Connect(t, s, "/echo")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.send(ws.OpText, []byte("another connection"))
	if op, got := st.recv(); op != ws.OpText || string(got) != "another connection" {
		t.Errorf("echo on another connection: %v %q", op, got)
	}
}
