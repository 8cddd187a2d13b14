package tests

// Streamed request bodies (issue 17): an ASGI application's body reaches
// receive() as it comes from the client, with receive() as the
// backpressure, instead of being read whole by the front first. Each
// behaviour is checked under gowsgi, and where uvicorn has it, under
// Debian's uvicorn too, with the same client code (TestASGIBodyStreamLikeUvicorn).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const asgiBodyStream = "tests/testdata/apps/asgi_bodystream.py:app"

// startBodyStream runs the body-stream app under gowsgi with args.
func startBodyStream(t *testing.T, args ...string) (*Server, *probeState) {
	t.Helper()
	return startASGI(t, nil, append([]string{asgiBodyStream}, args...)...)
}

// chunk is one piece of a chunked HTTP/1.1 request body.
func chunk(p string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(p), p) }

// echoHTTP1 streams pieces to /echo over one HTTP/1.1 connection, chunked,
// and reads each one back before it sends the next: a server that reads
// the whole body before the application sees it never answers the first
// (the read deadline ends the test).
func echoHTTP1(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "POST /echo?name=echo1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The head comes once the application has started its response; the
	// first piece goes before it, since the app reads before it answers.
	if _, err := io.WriteString(c, chunk("piece-0;")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("no response head while the body streams (the app must see the first piece before the last is sent): %v", err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := make([]byte, 0, 256)
	buf := make([]byte, 256)
	for i := 0; i < 8; i++ {
		want := fmt.Sprintf("piece-%d;", i)
		if i > 0 {
			if _, err := io.WriteString(c, chunk(want)); err != nil {
				t.Fatal(err)
			}
		}
		for !bytes.HasSuffix(got, []byte(want)) {
			n, err := resp.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("piece %d: the echo of what was sent so far did not come back (%v); got %q", i, err, got)
			}
		}
	}
	io.WriteString(c, "0\r\n\r\n")
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the end of the echo: %v", err)
	}
	if len(rest) != 0 {
		t.Fatalf("more echo than was sent: %q", rest)
	}
}

// TestASGIBodyStreamEchoHTTP1 streams a chunked body both ways over
// HTTP/1.1: each piece is echoed before the next is sent.
func TestASGIBodyStreamEchoHTTP1(t *testing.T) {
	s, p := startBodyStream(t)
	echoHTTP1(t, s.Addr)
	p.WaitFile("echo1.received", 10*time.Second)
}

// TestASGIBodyStreamEchoHTTP2 does the same on an HTTP/2 stream (h2c).
func TestASGIBodyStreamEchoHTTP2(t *testing.T) {
	s, p := startBodyStream(t, "--http2-cleartext", "prior-knowledge")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL("/echo?name=echo2"), pr)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := io.WriteString(pw, "piece-0;")
		first <- err
	}()
	resp, err := h2Client(nil, "").Do(req)
	if err != nil {
		t.Fatalf("no response head while the body streams: %v", err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 256)
	buf := make([]byte, 256)
	for i := 0; i < 8; i++ {
		want := fmt.Sprintf("piece-%d;", i)
		if i > 0 {
			if _, err := io.WriteString(pw, want); err != nil {
				t.Fatal(err)
			}
		}
		for !bytes.HasSuffix(got, []byte(want)) {
			n, err := resp.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("piece %d: the echo did not come back (%v); got %q", i, err, got)
			}
		}
	}
	pw.Close()
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(rest) != 0 {
		t.Fatalf("the end of the echo: %q %v", rest, err)
	}
	p.WaitFile("echo2.received", 10*time.Second)
}

// continueSent sends a request with "Expect: 100-continue" and waits for
// the 100 before it sends the body, as curl does: the 100 comes when the
// application first calls receive().
func continueSent(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "POST /count?name=cont HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("the 100 Continue did not come before the body was sent: %q %v", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after the 100: %q", blank)
	}
	io.WriteString(c, "hello")
	resp, body := readResponse(t, br, "POST")
	if resp.StatusCode != 200 || body != "5" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// continueNotSent: an application that answers without reading the body
// sends no 100 (uvicorn's test_100_continue_not_sent_when_body_not_consumed).
func continueNotSent(t *testing.T, addr string) {
	t.Helper()
	out := raw(t, addr, "POST /nobody HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", 2*time.Second)
	if strings.Contains(out, "100 Continue") {
		t.Fatalf("100 Continue sent to a request whose body the application did not read:\n%s", out)
	}
	if !strings.HasPrefix(out, "HTTP/1.1 204 ") {
		t.Fatalf("want 204:\n%s", out)
	}
}

// TestASGIBodyStreamContinue: the 100 goes out when the application asks
// for the body, and not when it answers without it.
func TestASGIBodyStreamContinue(t *testing.T) {
	s, _ := startBodyStream(t)
	continueSent(t, s.Addr)
	continueNotSent(t, s.Addr)
}

// earlyAnswer uploads a large body to an application that answers 401
// without reading it: the answer comes while the client is still sending.
// With closes, the connection must then end (nothing left hanging): gowsgi
// reads and drops at most 256 KiB of what is left of a body, as net/http
// does, and closes the connection beyond that; uvicorn (h11) reads and
// drops all of it, however large, and keeps the connection.
func earlyAnswer(t *testing.T, addr string, closes bool) {
	t.Helper()
	const total = 64 << 20
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "POST /early?status=401 HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(total)+"\r\n\r\n")
	var written atomic.Int64
	go func() {
		buf := make([]byte, 64<<10)
		for written.Load() < total {
			n, err := c.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	resp, body := readResponse(t, bufio.NewReader(c), "POST")
	if resp.StatusCode != 401 || body != "refused before the body\n" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if w := written.Load(); w >= total {
		t.Fatalf("the answer came only after the whole body (%d bytes) was sent", w)
	}
	if !closes {
		return
	}
	// Then the connection ends: the rest of a 64 MiB body is not read.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
		t.Fatalf("the connection did not end after the early answer: %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// TestASGIBodyStreamEarlyAnswer: an application answers a large upload
// before it reads it.
func TestASGIBodyStreamEarlyAnswer(t *testing.T) {
	s, _ := startBodyStream(t)
	earlyAnswer(t, s.Addr, true)
	// And over HTTP/2: the stream ends with the answer.
	s2, _ := startBodyStream(t, "--http2-cleartext", "prior-knowledge")
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
	}()
	req, _ := http.NewRequest("POST", s2.URL("/early?status=413"), pr)
	resp, err := h2Client(nil, "").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(body) != "refused before the body\n" {
		t.Fatalf("HTTP/2: %d %q", resp.StatusCode, body)
	}
}

// disconnectMidUpload: a client that goes away in the middle of its body;
// the application, waiting in receive(), gets http.disconnect.
func disconnectMidUpload(t *testing.T, addr string, p *probeState) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /count?name=gone HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
	io.WriteString(c, strings.Repeat("x", 1000))
	p.WaitFile("gone.first", 20*time.Second)
	c.Close()
	p.WaitFile("gone.disconnect", 20*time.Second)
	if p.Exists("gone.received") {
		t.Fatal("the application got the whole body of a client that went away")
	}
}

// TestASGIBodyStreamDisconnect: a client gone mid-upload reaches receive()
// as http.disconnect, over HTTP/1.1 and HTTP/2.
func TestASGIBodyStreamDisconnect(t *testing.T) {
	s, p := startBodyStream(t, "--http2-cleartext", "both")
	disconnectMidUpload(t, s.Addr, p)

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL("/count?name=gone2"), pr)
	req.ContentLength = 1000000
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := h2Client(nil, "").Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	pw.Write(bytes.Repeat([]byte("x"), 1000))
	p.WaitFile("gone2.first", 20*time.Second)
	cancel() // resets the stream
	pw.CloseWithError(context.Canceled)
	<-done
	p.WaitFile("gone2.disconnect", 20*time.Second)
}

// TestASGIBodyStreamLimit: --max-body-size still holds while a chunked
// body streams: 413 when it is passed before the response began, the
// response cut off when after, and either way the application's
// receive() says http.disconnect.
func TestASGIBodyStreamLimit(t *testing.T) {
	s, p := startBodyStream(t, "--max-body-size", "100000")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "POST /count?name=big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	go func() {
		piece := chunk(strings.Repeat("y", 10000))
		for i := 0; i < 30; i++ {
			if _, err := io.WriteString(c, piece); err != nil {
				return
			}
		}
		io.WriteString(c, "0\r\n\r\n")
	}()
	resp, _ := readResponse(t, bufio.NewReader(c), "POST")
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	p.WaitFile("big.disconnect", 20*time.Second)
	if p.Exists("big.received") {
		t.Fatal("the application got the whole of a body over the limit")
	}
	// Passed after the response began (an echo): the response is cut off
	// (no last chunk), and the app is told http.disconnect.
	c2, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(20 * time.Second))
	piece := chunk(strings.Repeat("e", 10000))
	io.WriteString(c2, "POST /echo?name=bigecho HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+piece)
	resp2, err := http.ReadResponse(bufio.NewReader(c2), &http.Request{Method: "POST"})
	if err != nil || resp2.StatusCode != 200 {
		t.Fatalf("echo over the limit: %v %v", resp2, err)
	}
	go func() { // the rest, once the response has begun
		for i := 1; i < 30; i++ {
			if _, err := io.WriteString(c2, piece); err != nil {
				return
			}
		}
		io.WriteString(c2, "0\r\n\r\n")
	}()
	echoed, err := io.ReadAll(resp2.Body)
	if err == nil {
		t.Fatalf("an echo whose request passed the limit ended as if whole (%d bytes)", len(echoed))
	}
	if len(echoed) > 100000 {
		t.Fatalf("%d bytes echoed: more than the limit reached the app", len(echoed))
	}
	p.WaitFile("bigecho.disconnect", 20*time.Second)

	// A declared length over the limit is refused before the app sees it.
	out := raw(t, s.Addr, "POST /count?name=big2 HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n", 2*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 413 ") || p.Exists("big2.first") {
		t.Fatalf("declared length over the limit:\n%s", out)
	}
}

// frontRSS is the resident memory of gowsgi's own process (the front), in
// bytes.
func frontRSS(t *testing.T, s *Server) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestASGIBodyStreamBackpressure: an application that does not receive()
// holds its client: the client's writes block once the window and the
// socket buffers are full, far short of the body, and the front's memory
// stays bounded; once the application reads, the whole body arrives.
func TestASGIBodyStreamBackpressure(t *testing.T) {
	const total = 64 << 20
	s, p := startBodyStream(t)
	before := frontRSS(t, s)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /hold?name=hold HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(total)+"\r\n\r\n")
	p.WaitFile("hold.holding", 20*time.Second)
	buf := make([]byte, 64<<10)
	var written int64
	blocked := false
	for written < total {
		// A write that cannot finish within a second is held by flow
		// control: the front stopped reading.
		c.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := c.Write(buf[:min(int64(len(buf)), total-written)])
		written += int64(n)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				blocked = true
				break
			}
			t.Fatal(err)
		}
	}
	if !blocked || written > 32<<20 {
		t.Fatalf("the client wrote %d bytes of %d to an application that reads nothing: no backpressure", written, total)
	}
	if grew := frontRSS(t, s) - before; grew > 64<<20 {
		t.Fatalf("the front grew by %d bytes holding a body the application does not read", grew)
	}
	p.Release("hold")
	c.SetWriteDeadline(time.Now().Add(60 * time.Second))
	go func() {
		for written < total {
			n, err := c.Write(buf[:min(int64(len(buf)), total-written)])
			written += int64(n)
			if err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, body := readResponse(t, bufio.NewReader(c), "POST")
	if resp.StatusCode != 200 || body != strconv.Itoa(total) {
		t.Fatalf("%d %q, want the whole body's length", resp.StatusCode, body)
	}
}

// TestASGIBodyStreamLikeUvicorn runs the cases uvicorn has too against
// Debian's uvicorn and gowsgi, with the same client code: both must pass.
func TestASGIBodyStreamLikeUvicorn(t *testing.T) {
	py := debianPython(t, "uvicorn")
	gw, gp := startBodyStream(t)
	up := newProbeState(t)
	uv := startUvicorn(t, py, up.Env(), "asgi_bodystream:app")
	for _, srv := range []struct {
		name string
		addr string
		p    *probeState
	}{{"uvicorn", uv, up}, {"gowsgi", gw.Addr, gp}} {
		t.Run(srv.name, func(t *testing.T) {
			t.Run("echo", func(t *testing.T) {
				echoHTTP1(t, srv.addr)
				srv.p.WaitFile("echo1.received", 10*time.Second)
			})
			t.Run("continue-sent", func(t *testing.T) { continueSent(t, srv.addr) })
			t.Run("continue-not-sent", func(t *testing.T) { continueNotSent(t, srv.addr) })
			t.Run("early-answer", func(t *testing.T) { earlyAnswer(t, srv.addr, false) })
			t.Run("disconnect", func(t *testing.T) { disconnectMidUpload(t, srv.addr, srv.p) })
		})
	}
}

// TestASGIBodyStreamTimeout: the body read timeout still holds while a
// body streams: a client that stops in the middle of its body gets 408
// (no response had begun), and the application's receive() says
// http.disconnect.
func TestASGIBodyStreamTimeout(t *testing.T) {
	s, p := startBodyStream(t, "--body-timeout", "1s")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "POST /count?name=slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	io.WriteString(c, strings.Repeat("z", 100))
	p.WaitFile("slow.first", 20*time.Second)
	resp, _ := readResponse(t, bufio.NewReader(c), "POST")
	if resp.StatusCode != 408 {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	p.WaitFile("slow.disconnect", 20*time.Second)
}
