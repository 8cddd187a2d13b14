package front

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// The relay is tested against a fake upstream, through the real HTTP/1.1
// engine on a loopback socket: no Python, no worker processes.

// fakeExchange answers one request as its fields say, and records what
// the front did with it.
type fakeExchange struct {
	status  string
	fields  [][2]string
	chunks  []string // the body: the first comes with the head
	whole   bool     // the body is complete with the head
	file    *os.File // a file body (wsgi.file_wrapper)
	headErr error    // Head fails with this
	endErr  error    // after the chunks, Next fails with this (nil: io.EOF)
	endless bool     // after the chunks, Next keeps giving chunks until aborted

	mu      sync.Mutex
	aborted bool
	closed  bool
	gone    chan struct{} // closed on Abort
}

func (x *fakeExchange) Head(header func(name, value string)) (*workers.Response, error) {
	if x.headErr != nil {
		return nil, x.headErr
	}
	for _, f := range x.fields {
		header(f[0], f[1])
	}
	r := &workers.Response{Status: x.status, Complete: x.whole}
	if x.file != nil {
		st, _ := x.file.Stat()
		r.File, r.FileLength, r.Complete = x.file, st.Size(), true
		return r, nil
	}
	if len(x.chunks) > 0 {
		r.Body = []byte(x.chunks[0])
		x.chunks = x.chunks[1:]
	}
	return r, nil
}

func (x *fakeExchange) Next() ([]byte, bool, error) {
	if len(x.chunks) > 0 {
		c := x.chunks[0]
		x.chunks = x.chunks[1:]
		return []byte(c), len(x.chunks) > 0, nil
	}
	if x.endless {
		select {
		case <-x.gone:
			return nil, false, workers.ErrCanceled
		default:
			return bytes.Repeat([]byte("e"), 16<<10), false, nil
		}
	}
	if x.endErr != nil {
		return nil, false, x.endErr
	}
	return nil, false, io.EOF
}

func (x *fakeExchange) Ready() bool { return len(x.chunks) > 0 }

func (x *fakeExchange) Abort() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.aborted {
		x.aborted = true
		close(x.gone)
	}
}

func (x *fakeExchange) Close() {
	x.mu.Lock()
	x.closed = true
	x.mu.Unlock()
}

func (x *fakeExchange) Slot() *workers.Slot { return nil }

func (x *fakeExchange) state() (aborted, closed bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.aborted, x.closed
}

// fakeUpstream hands out one exchange (or fails with err) and records the
// request.
type fakeUpstream struct {
	x    *fakeExchange
	err  error
	sent chan *workers.Request
}

func (u *fakeUpstream) Send(ctx context.Context, req *workers.Request) (Exchange, error) {
	u.sent <- req
	if u.err != nil {
		return nil, u.err
	}
	return u.x, nil
}

// serveFake starts the HTTP/1.1 engine with a Handler on up, and returns
// its address.
func serveFake(t *testing.T, h *Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if h.Log == nil {
		h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := &http1.Server{Handler: h, ErrorLog: h.Log}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// roundTrip sends a raw request and reads the response; a response cut
// short gives its body so far and the read error.
func roundTrip(t *testing.T, addr, req string) (*http.Response, string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestRelay(t *testing.T) {
	text := strings.Repeat("all work and no play makes jack a dull boy\n", 2000)
	file := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	get := "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
	cases := []struct {
		name     string
		compress bool
		req      string
		x        *fakeExchange
		err      error // Send fails
		check    func(t *testing.T, resp *http.Response, body string, err error, x *fakeExchange)
	}{
		{name: "whole", req: get, x: &fakeExchange{status: "200 OK", fields: [][2]string{{"Content-Type", "text/plain"}}, chunks: []string{"hello"}, whole: true},
			check: func(t *testing.T, resp *http.Response, body string, err error, _ *fakeExchange) {
				if err != nil || resp.StatusCode != 200 || body != "hello" {
					t.Errorf("got %v %q %v", resp, body, err)
				}
			}},
		{name: "status without reason", req: get, x: &fakeExchange{status: "200", chunks: []string{"x"}, whole: true}, check: want500},
		{name: "informational status", req: get, x: &fakeExchange{status: "100 Continue", whole: true}, check: want500},
		{name: "status with a control character", req: get, x: &fakeExchange{status: "200 O\nK", whole: true}, check: want500},
		{name: "two Content-Lengths", req: get, x: &fakeExchange{status: "200 OK", fields: [][2]string{{"Content-Length", "1"}, {"Content-Length", "1"}}, chunks: []string{"x"}, whole: true}, check: want500},
		{name: "hop-by-hop header", req: get, x: &fakeExchange{status: "200 OK", fields: [][2]string{{"Connection", "close"}}, whole: true}, check: want500},
		{name: "streamed head refused", req: get, x: &fakeExchange{status: "2xx OK", chunks: []string{"a", "b"}},
			check: func(t *testing.T, resp *http.Response, body string, err error, x *fakeExchange) {
				want500(t, resp, body, err, x)
				if aborted, _ := x.state(); !aborted {
					t.Errorf("the rest of a refused stream was not stopped")
				}
			}},
		{name: "HEAD of a stream", req: "HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n", x: &fakeExchange{status: "200 OK", fields: [][2]string{{"Content-Type", "text/plain"}}, chunks: []string{"a", "b", "c"}},
			check: func(t *testing.T, resp *http.Response, body string, err error, x *fakeExchange) {
				if err != nil || resp.StatusCode != 200 || body != "" {
					t.Errorf("got %v %q %v", resp, body, err)
				}
				if aborted, _ := x.state(); !aborted {
					t.Errorf("HEAD: the application was not told to stop making the body")
				}
			}},
		{name: "compressed file body", compress: true, req: "GET /x HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n",
			x: &fakeExchange{status: "200 OK", fields: [][2]string{{"Content-Type", "text/plain"}}, file: mustOpen(t, file)},
			check: func(t *testing.T, resp *http.Response, body string, err error, _ *fakeExchange) {
				if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("got %v %v", resp, err)
				}
				zr, err := gzip.NewReader(strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil || string(plain) != text {
					t.Errorf("decompressed %d bytes (%v), want the file's %d", len(plain), err, len(text))
				}
			}},
		{name: "uncompressed file body", req: get, x: &fakeExchange{status: "200 OK", file: mustOpen(t, file)},
			check: func(t *testing.T, resp *http.Response, body string, err error, _ *fakeExchange) {
				if err != nil || body != text || resp.ContentLength != int64(len(text)) {
					t.Errorf("file body: %d bytes, length %d, %v", len(body), resp.ContentLength, err)
				}
			}},
		{name: "worker dies after the head", req: get, x: &fakeExchange{status: "200 OK", chunks: []string{"before "}, endErr: &workers.WorkerError{Worker: "worker 1", Err: workers.ErrWorkerGone}},
			check: func(t *testing.T, resp *http.Response, body string, err error, _ *fakeExchange) {
				if resp == nil || resp.StatusCode != 200 || err == nil || body != "before " {
					t.Errorf("want the head, the bytes before, and a cut body; got %v %q %v", resp, body, err)
				}
			}},
		{name: "application fails before the head", req: get, x: &fakeExchange{headErr: &workers.AppError{Msg: "boom"}}, check: want500},
		{name: "worker dies before the head", req: get, x: &fakeExchange{headErr: &workers.WorkerError{Worker: "worker 1", Err: workers.ErrWorkerGone}},
			check: func(t *testing.T, resp *http.Response, _ string, err error, _ *fakeExchange) {
				if resp == nil || resp.StatusCode != 502 {
					t.Errorf("got %v %v, want 502", resp, err)
				}
			}},
		{name: "queue full", req: get, err: workers.ErrQueueFull,
			check: func(t *testing.T, resp *http.Response, _ string, err error, _ *fakeExchange) {
				if resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
					t.Errorf("got %v %v, want 503 with Retry-After", resp, err)
				}
			}},
		{name: "client gone", req: get, err: workers.ErrCanceled,
			check: func(t *testing.T, resp *http.Response, _ string, err error, _ *fakeExchange) {
				if resp != nil || err == nil {
					t.Errorf("a canceled request was answered: %v", resp)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := &fakeUpstream{x: tc.x, err: tc.err, sent: make(chan *workers.Request, 1)}
			if tc.x != nil {
				tc.x.gone = make(chan struct{})
			}
			addr := serveFake(t, &Handler{Upstream: up, Scheme: "http", Compress: tc.compress})
			resp, body, err := roundTrip(t, addr, tc.req)
			tc.check(t, resp, body, err, tc.x)
			if tc.x != nil {
				waitClosed(t, tc.x)
			}
		})
	}
}

// TestRelayClientLeaves: a client that goes away in the middle of a
// streamed response gets the application stopped (Abort) and the exchange
// closed.
func TestRelayClientLeaves(t *testing.T) {
	x := &fakeExchange{status: "200 OK", fields: [][2]string{{"Content-Type", "text/plain"}}, chunks: []string{"first"}, endless: true, gone: make(chan struct{})}
	up := &fakeUpstream{x: x, sent: make(chan *workers.Request, 1)}
	addr := serveFake(t, &Handler{Upstream: up, Scheme: "http"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Fatalf("head: %q %v", line, err)
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	select {
	case <-x.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange was not aborted after the client left")
	}
	waitClosed(t, x)
}

// TestRelayPassesClientContext: the request carries the connection's
// context, which ends when the client resets the connection while the
// request waits upstream.
func TestRelayPassesClientContext(t *testing.T) {
	ended := make(chan error, 1)
	entered := make(chan struct{})
	up := upstreamFunc(func(ctx context.Context, req *workers.Request) (Exchange, error) {
		close(entered)
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
		case <-time.After(10 * time.Second):
			ended <- nil
		}
		return nil, workers.ErrCanceled
	})
	addr := serveFake(t, &Handler{Upstream: up, Scheme: "http"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("the upstream's context did not end with the client (%v)", err)
	}
}

type upstreamFunc func(ctx context.Context, req *workers.Request) (Exchange, error)

func (f upstreamFunc) Send(ctx context.Context, req *workers.Request) (Exchange, error) {
	return f(ctx, req)
}

func want500(t *testing.T, resp *http.Response, body string, err error, _ *fakeExchange) {
	t.Helper()
	if resp == nil || resp.StatusCode != 500 || body != "500 Internal Server Error\n" {
		t.Errorf("got %v %q %v, want 500", resp, body, err)
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// waitClosed waits until the front has closed x, as it must every
// exchange (the handler may still be finishing when the client has read
// the response).
func waitClosed(t *testing.T, x *fakeExchange) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, closed := x.state(); closed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the exchange was never closed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLogLimit(t *testing.T) {
	var l logLimit
	now := time.Unix(1000, 0)
	if ok, _ := l.allow(now); !ok {
		t.Fatal("first line held back")
	}
	for i := 0; i < 5; i++ {
		if ok, _ := l.allow(now.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatal("a second line within the second")
		}
	}
	if ok, held := l.allow(now.Add(time.Second)); !ok || held != 5 {
		t.Fatalf("after a second: %v, held %d (want 5)", ok, held)
	}
}
