package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echo answers with the request path and body.
func echo(w *ResponseWriter, r *Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(400, "Bad Body", nil)
		return
	}
	w.WriteHeader(200, "OK", []Field{{"Content-Type", "text/plain"}})
	w.Write([]byte(r.Path + ":" + string(b)))
}

func TestKeepAlive(t *testing.T) {
	_, addr := startServer(t, echo)
	c := dial(t, addr)
	for i := 0; i < 3; i++ {
		p := "/" + strconv.Itoa(i)
		c.send("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
		r := c.read("GET")
		if r.Status != 200 || string(r.Body) != p+":" || r.get("Content-Length") != strconv.Itoa(len(p)+1) || r.get("Connection") != "" {
			t.Fatalf("response %d:\n%s%q", i, r.Raw, r.Body)
		}
	}
	c.send("GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if r := c.read("GET"); r.get("Connection") != "close" {
		t.Fatalf("no Connection: close:\n%s", r.Raw)
	}
	c.expectEOF()
}

func TestPipelining(t *testing.T) {
	_, addr := startServer(t, echo)
	c := dial(t, addr)
	c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz" +
		"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" +
		"HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n")
	for i, want := range []string{"/a:", "/b:xyz", "/c:hi", ""} {
		m := "GET"
		if i == 3 {
			m = "HEAD"
		}
		if r := c.read(m); string(r.Body) != want {
			t.Fatalf("response %d: body %q, want %q", i, r.Body, want)
		}
	}
	c.send("GET /e HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); string(r.Body) != "/e:" {
		t.Fatalf("after pipeline: %q", r.Body)
	}
}

func TestHTTP10(t *testing.T) {
	stream := func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte("part1 "))
		w.Flush()
		w.Write([]byte("part2"))
	}
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		if r.Path == "/stream" {
			stream(w, r)
			return
		}
		echo(w, r)
	})

	t.Run("close", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /x HTTP/1.0\r\n\r\n")
		r := c.read("GET")
		if r.get("Connection") != "close" || r.get("Content-Length") != "3" || string(r.Body) != "/x:" {
			t.Fatalf("%s%q", r.Raw, r.Body)
		}
		c.expectEOF()
	})
	t.Run("keep-alive", func(t *testing.T) {
		c := dial(t, addr)
		for i := 0; i < 2; i++ {
			c.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			r := c.read("GET")
			if r.get("Connection") != "keep-alive" || string(r.Body) != "/x:" {
				t.Fatalf("%s%q", r.Raw, r.Body)
			}
		}
	})
	t.Run("keep-alive without length", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		r := c.read("GET") // body read until EOF
		if r.get("Connection") != "close" || r.get("Transfer-Encoding") != "" || string(r.Body) != "part1 part2" {
			t.Fatalf("%s%q", r.Raw, r.Body)
		}
	})
}

func TestExpectContinue(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		if r.Path == "/read" {
			echo(w, r)
			return
		}
		w.WriteHeader(413, "Too Big", nil)
		w.Write([]byte("no"))
	})
	const head = " HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n"

	t.Run("read", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /read" + head)
		line, err := c.br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("got %q %v", line, err)
		}
		if l, _ := c.br.ReadString('\n'); l != "\r\n" {
			t.Fatalf("100 not followed by an empty line: %q", l)
		}
		c.send("hello")
		if r := c.read("POST"); r.Status != 200 || string(r.Body) != "/read:hello" {
			t.Fatalf("%s%q", r.Raw, r.Body)
		}
		// The connection persists.
		c.send("GET /read HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); string(r.Body) != "/read:" {
			t.Fatalf("%q", r.Body)
		}
	})
	t.Run("not read", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /reject" + head)
		r := c.read("POST")
		if r.Status != 413 || r.Reason != "Too Big" || r.get("Connection") != "close" {
			t.Fatalf("%s", r.Raw)
		}
		c.expectEOF()
	})
	t.Run("no body", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n")
		if r := c.read("POST"); r.Status != 200 {
			t.Fatalf("%s", r.Raw)
		}
	})
}

func TestNoBodyResponses(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		switch r.Path {
		case "/204":
			w.WriteHeader(204, "No Content", nil)
		case "/304":
			w.WriteHeader(304, "Not Modified", []Field{{"ETag", `"x"`}})
		case "/empty":
			w.WriteHeader(200, "OK", nil)
			return
		case "/big":
			w.WriteHeader(200, "OK", nil)
			w.Write(make([]byte, 3*bodyBufSize))
			return
		default:
			w.WriteHeader(200, "OK", nil)
		}
		n, err := w.Write([]byte("hello"))
		if n != 5 || err != nil {
			panic("Write on a bodyless response failed")
		}
	})
	c := dial(t, addr)
	check := func(method, path, cl string) {
		t.Helper()
		c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		r := c.read(method)
		if r.get("Content-Length") != cl || r.get("Transfer-Encoding") != "" || r.get("Connection") != "" {
			t.Fatalf("%s %s:\n%s", method, path, r.Raw)
		}
	}
	check("HEAD", "/", "5")     // the length GET would have
	check("HEAD", "/empty", "") // nothing written: no length
	check("HEAD", "/big", "")   // too big to buffer: GET is chunked, HEAD has neither
	check("GET", "/204", "")
	check("GET", "/304", "")
	check("GET", "/empty", "0")
	// Nothing leaked into the connection: the next response parses.
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); string(r.Body) != "hello" {
		t.Fatalf("%q", r.Body)
	}
}

func TestAppContentLength(t *testing.T) {
	written := make(chan int64, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		switch r.Path {
		case "/short":
			w.WriteHeader(200, "OK", []Field{{"content-length", "10"}})
			w.Write([]byte("12345"))
		case "/long":
			w.WriteHeader(200, "OK", []Field{{"Content-Length", "5"}})
			n, err := w.Write([]byte("1234567890"))
			if n != 10 || err != nil {
				panic("Write beyond Content-Length must report success")
			}
			w.Write([]byte("more"))
		case "/streamed":
			w.WriteHeader(200, "OK", []Field{{"Content-Length", "20000"}})
			for i := 0; i < 4; i++ {
				w.Write(make([]byte, 5000))
				w.Flush()
			}
		}
		written <- w.Written()
	})
	t.Run("long", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /long HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); string(r.Body) != "12345" || r.count("Content-Length") != 1 {
			t.Fatalf("%s%q", r.Raw, r.Body)
		}
		if n := <-written; n != 5 {
			t.Fatalf("Written() = %d, want 5", n)
		}
		c.send("GET /long HTTP/1.1\r\nHost: x\r\n\r\n") // still in sync
		if r := c.read("GET"); string(r.Body) != "12345" {
			t.Fatalf("%q", r.Body)
		}
		<-written
	})
	t.Run("short", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
		_, err := readResponse(c.br, "GET")
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want a truncated body, got %v", err)
		}
		<-written
	})
	t.Run("streamed", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /streamed HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); len(r.Body) != 20000 || r.get("Transfer-Encoding") != "" {
			t.Fatalf("%s %d", r.Raw, len(r.Body))
		}
		<-written
	})
}

func TestChunkedStreaming(t *testing.T) {
	step := make(chan bool)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte("a"))
		w.Flush()
		<-step // the client must have the first chunk before we go on
		w.Write([]byte("bb"))
		w.Write([]byte("cc"))
		w.Flush()
		w.Write(make([]byte, 20000)) // bigger than the buffer: goes out as chunks
		w.Write([]byte("end"))
	})
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	var head []string
	for {
		l, err := readCRLF(c.br)
		if err != nil {
			t.Fatal(err)
		}
		if l == "" {
			break
		}
		head = append(head, l)
	}
	if !strings.Contains(strings.Join(head, "\n"), "Transfer-Encoding: chunked") {
		t.Fatalf("not chunked: %q", head)
	}
	if l, _ := readCRLF(c.br); l != "1" {
		t.Fatalf("first chunk size %q", l)
	}
	if l, _ := readCRLF(c.br); l != "a" {
		t.Fatalf("first chunk %q", l)
	}
	step <- true
	if l, _ := readCRLF(c.br); l != "4" {
		t.Fatalf("second chunk size %q", l)
	}
	if l, _ := readCRLF(c.br); l != "bbcc" {
		t.Fatalf("second chunk %q", l)
	}
	var body []byte
	for {
		l, _ := readCRLF(c.br)
		n, err := strconv.ParseInt(l, 16, 64)
		if err != nil {
			t.Fatalf("chunk size %q", l)
		}
		if n == 0 {
			break
		}
		b := make([]byte, n+2)
		io.ReadFull(c.br, b)
		body = append(body, b[:n]...)
	}
	if len(body) != 20003 || string(body[20000:]) != "end" {
		t.Fatalf("streamed body: %d bytes", len(body))
	}
	if l, _ := readCRLF(c.br); l != "" {
		t.Fatalf("after last chunk: %q", l)
	}
}

func TestResponseHead(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		switch r.Path {
		case "/reason":
			w.WriteHeader(200, "Everything Fine", []Field{{"x-MiXeD-case", "Value  with  spaces"}})
		case "/empty-reason":
			w.WriteHeader(499, "", nil)
		case "/date":
			w.WriteHeader(200, "OK", []Field{{"date", "Thu, 01 Jan 1970 00:00:00 GMT"}, {"SERVER", "app"}})
		case "/conn":
			w.WriteHeader(200, "OK", []Field{{"Connection", "close"}, {"Transfer-Encoding", "chunked"}})
		case "/bad":
			w.WriteHeader(200, "OK", []Field{{"X", "a\r\nSet-Cookie: evil"}})
		case "/badreason":
			w.WriteHeader(200, "OK\r\nX: y", nil)
		}
		w.Write([]byte("body"))
	}, func(s *Server) { s.Defaults.Server = "test-server" })
	c := dial(t, addr)
	get := func(path string) *response {
		c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		return c.read("GET")
	}
	r := get("/reason")
	if !strings.HasPrefix(string(r.Raw), "HTTP/1.1 200 Everything Fine\r\n") ||
		!strings.Contains(string(r.Raw), "\r\nx-MiXeD-case: Value  with  spaces\r\n") {
		t.Fatalf("%s", r.Raw)
	}
	if r.count("Date") != 1 || r.count("Server") != 1 || r.get("Server") != "test-server" {
		t.Fatalf("Date/Server:\n%s", r.Raw)
	}
	if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", r.get("Date")); err != nil {
		t.Fatalf("Date: %v", err)
	}
	r = get("/empty-reason")
	if !strings.HasPrefix(string(r.Raw), "HTTP/1.1 499 \r\n") {
		t.Fatalf("%s", r.Raw)
	}
	r = get("/date")
	if r.count("Date") != 1 || r.get("Date") != "Thu, 01 Jan 1970 00:00:00 GMT" || r.count("Server") != 1 || r.get("Server") != "app" {
		t.Fatalf("%s", r.Raw)
	}
	r = get("/conn")
	if r.count("Connection") != 1 || r.get("Connection") != "close" || r.get("Transfer-Encoding") != "" || string(r.Body) != "body" {
		t.Fatalf("%s", r.Raw)
	}
	c.expectEOF()
	for _, p := range []string{"/bad", "/badreason"} {
		c = dial(t, addr)
		r = get(p)
		if r.Status != 500 || strings.Contains(string(r.Raw), "evil") || r.get("Connection") != "close" {
			t.Fatalf("%s: %s", p, r.Raw)
		}
		c.expectEOF()
	}
}

func TestHandlerMistakes(t *testing.T) {
	panicked := make(chan any, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		switch r.Path {
		case "/nothing":
		case "/panic":
			panic("boom")
		case "/twice":
			w.WriteHeader(200, "OK", nil)
			func() {
				defer func() { panicked <- recover() }()
				w.WriteHeader(201, "Created", nil)
			}()
			w.Write([]byte("x"))
		case "/write-only":
			w.Write([]byte("implicit"))
		case "/panic-after-flush":
			w.WriteHeader(200, "OK", nil)
			w.Write([]byte("partial"))
			w.Flush()
			panic("late boom")
		}
	})
	c := dial(t, addr)
	c.send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.Status != 500 {
		t.Fatalf("%s", r.Raw)
	}
	c.send("GET /twice HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.Status != 200 || <-panicked == nil {
		t.Fatalf("second WriteHeader did not panic: %s", r.Raw)
	}
	c.send("GET /write-only HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.Status != 200 || string(r.Body) != "implicit" {
		t.Fatalf("%s", r.Raw)
	}
	c.send("GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.Status != 500 || r.get("Connection") != "close" {
		t.Fatalf("%s", r.Raw)
	}
	c.expectEOF()

	c = dial(t, addr)
	c.send("GET /panic-after-flush HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := readResponse(c.br, "GET"); err == nil {
		t.Fatal("a response broken by a panic must not look complete")
	}
}

func TestAbort(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", []Field{{"Content-Length", "100"}})
		w.Write([]byte("partial"))
		w.Flush()
		w.Abort()
		if _, err := w.Write([]byte("x")); err == nil {
			panic("Write after Abort succeeded")
		}
	})
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := readResponse(c.br, "GET"); !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
		t.Fatalf("want truncated response, got %v", err)
	}
}

func TestUnreadBody(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte("ignored body"))
	})
	t.Run("small is discarded", func(t *testing.T) {
		c := dial(t, addr)
		body := strings.Repeat("x", 100000)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + body)
		c.read("POST")
		c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		c.read("POST")
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.get("Connection") != "" {
			t.Fatalf("%s", r.Raw)
		}
	})
	t.Run("large closes", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\nxxxx")
		c.read("POST")
		c.expectEOF()
	})
	t.Run("large chunked closes", func(t *testing.T) {
		c := dial(t, addr)
		go func() {
			c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
			chunk := []byte("10000\r\n" + strings.Repeat("y", 0x10000) + "\r\n")
			for i := 0; i < 10; i++ {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}()
		c.read("POST")
		c.expectEOF()
	})
}

func TestTimeouts(t *testing.T) {
	bodyErr := make(chan error, 1)
	writeErr := make(chan error, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		switch r.Path {
		case "/body":
			_, err := io.ReadAll(r.Body)
			bodyErr <- err
			w.WriteHeader(400, "Bad", nil)
		case "/write":
			w.WriteHeader(200, "OK", nil)
			buf := make([]byte, 64<<10)
			var err error
			for i := 0; i < 4096 && err == nil; i++ { // up to 256 MiB
				_, err = w.Write(buf)
			}
			writeErr <- err
		default:
			w.WriteHeader(200, "OK", nil)
		}
	}, func(s *Server) {
		s.ReadHeaderTimeout = 200 * time.Millisecond
		s.IdleTimeout = 200 * time.Millisecond
		s.BodyReadTimeout = 200 * time.Millisecond
		s.WriteTimeout = 200 * time.Millisecond
	})

	t.Run("idle new connection", func(t *testing.T) {
		c := dial(t, addr)
		c.expectEOF()
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.read("GET")
		c.expectEOF()
	})
	t.Run("slow head", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\n")
		r := c.read("GET")
		if r.Status != 408 || r.get("Connection") != "close" {
			t.Fatalf("%s", r.Raw)
		}
		c.expectEOF()
	})
	t.Run("slowloris", func(t *testing.T) {
		c := dial(t, addr)
		go func() { // trickle bytes faster than any per-read timeout
			for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-A: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		if r := c.read("GET"); r.Status != 408 {
			t.Fatalf("%s", r.Raw)
		}
	})
	t.Run("body", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		if err := <-bodyErr; !IsTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("body read error %v, want a timeout", err)
		}
		c.read("POST")
		c.expectEOF()
	})
	t.Run("write", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /write HTTP/1.1\r\nHost: x\r\n\r\n")
		// Never read.
		select {
		case err := <-writeErr:
			if err == nil {
				t.Fatal("writes to a stalled client never failed")
			}
		case <-time.After(8 * time.Second):
			t.Fatal("writes to a stalled client never timed out")
		}
	})
}

func TestShutdown(t *testing.T) {
	started := make(chan bool)
	release := make(chan bool)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ErrorLog: discardLog, Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		if r.Path == "/slow" {
			started <- true
			<-release
		}
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte("done"))
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()

	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")

	busy := dial(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()

	idle.expectEOF() // idle keep-alive connections are closed at once
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
	release <- true
	r := busy.read("GET")
	if string(r.Body) != "done" || r.get("Connection") != "close" {
		t.Fatalf("%s%q", r.Raw, r.Body)
	}
	busy.expectEOF()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
}

// Shutdown gives up when its context ends while a request is still being
// handled.
func TestShutdownContext(t *testing.T) {
	release, entered := make(chan bool), make(chan bool)
	s, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		close(entered)
		<-release
		w.WriteHeader(200, "OK", nil)
	})
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-entered: // the request is in the handler: the connection is active
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never ran")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	close(release)
}

func TestMaxConns(t *testing.T) {
	var n atomic.Int32
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		n.Add(1)
		w.WriteHeader(200, "OK", nil)
	}, func(s *Server) { s.MaxConns = 1 })
	c1 := dial(t, addr)
	c1.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c1.read("GET")

	c2 := dial(t, addr) // the kernel completes the handshake; the server does not accept
	c2.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c2.br.ReadByte(); !isTimeout(err) {
		t.Fatalf("second connection served over the limit (err %v)", err)
	}
	c1.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if r := c2.read("GET"); r.Status != 200 || n.Load() != 2 {
		t.Fatalf("%s", r.Raw)
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Skip(err)
	}
	s := &Server{Handler: HandlerFunc(echo), ErrorLog: discardLog}
	go s.Serve(ln)
	defer s.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"))
	r, err := readResponse(bufio.NewReader(conn), "POST")
	if err != nil || string(r.Body) != "/u:ok" {
		t.Fatalf("%v %v", r, err)
	}
	os.Remove(path)
}

func TestLargeHead(t *testing.T) {
	got := make(chan *seen, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		got <- snapshot(r)
		w.WriteHeader(200, "OK", nil)
	})
	big := strings.Repeat("v", 8000) // fields up to the default per-field limit (8190)
	c := dial(t, addr)
	// Sent in pieces, so the buffer fills, compacts and grows.
	head := "GET /" + strings.Repeat("p", 8000) + " HTTP/1.1\r\nHost: x\r\nBig: " + big + "\r\nBig2: " + big + "\r\n\r\n"
	for i := 0; i < len(head); i += 3000 {
		c.send(head[i:min(i+3000, len(head))])
		time.Sleep(time.Millisecond)
	}
	if r := c.read("GET"); r.Status != 200 {
		t.Fatalf("%s", r.Raw)
	}
	if s := <-got; len(s.Path) != 8001 || s.Header[1].Value != big || s.Header[2].Value != big {
		t.Fatal("large head mangled")
	}
	// Default limits: 8190 for the request line, 64 KiB of fields.
	c.send("GET /" + strings.Repeat("p", 8190) + " HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.Status != 414 {
		t.Fatalf("%s", r.Raw)
	}
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("Big: "+big+"\r\n", 9) + "\r\n")
	if r := c.read("GET"); r.Status != 431 {
		t.Fatalf("%s", r.Raw)
	}
	// One field over the per-field limit (gunicorn's limit_request_field_size).
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nBig: " + strings.Repeat("v", 8190) + "\r\n\r\n")
	if r := c.read("GET"); r.Status != 431 {
		t.Fatalf("%s", r.Raw)
	}
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("A: b\r\n", 100) + "\r\n")
	if r := c.read("GET"); r.Status != 431 {
		t.Fatalf("%s", r.Raw)
	}
}

func TestChunkLineLimit(t *testing.T) {
	got := make(chan error, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
		w.WriteHeader(400, "Bad Request", nil)
	})
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("e", chunkLineMax) + "\r\nhello\r\n0\r\n\r\n")
	var be *BodyError
	if err := <-got; !errors.As(err, &be) || !strings.Contains(be.Error(), "too long") {
		t.Fatalf("got %v", err)
	}
	c.read("POST")
	c.expectEOF()
}

func TestResponseWriterAccessors(t *testing.T) {
	type info struct {
		proto         string
		status        int
		written       int64
		close, expect bool
		remote, local string
	}
	got := make(chan info, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(201, "Created", nil)
		w.Write([]byte("abc"))
		w.SetClose()
		w.Finish()
		w.Finish() // idempotent
		if _, err := w.Write([]byte("x")); err == nil {
			panic("Write after Finish succeeded")
		}
		got <- info{r.Proto(), w.Status(), w.Written(), r.Close, r.ExpectContinue(), r.RemoteAddr.String(), r.LocalAddr.String()}
	})
	c := dial(t, addr)
	c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	r := c.read("GET")
	if r.Status != 201 || r.get("Connection") != "close" || string(r.Body) != "abc" {
		t.Fatalf("%s", r.Raw)
	}
	i := <-got
	if i.proto != "HTTP/1.0" || i.status != 201 || i.written != 3 || i.close || i.expect ||
		i.remote != c.LocalAddr().String() || i.local != c.RemoteAddr().String() {
		t.Fatalf("%+v", i)
	}
	c.expectEOF()
}

func TestLargeBody(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		buf := make([]byte, 64<<10)
		var n int64
		var sum byte
		for {
			k, err := r.Body.Read(buf)
			for _, b := range buf[:k] {
				sum += b
			}
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				w.WriteHeader(400, "Bad", nil)
				return
			}
		}
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte(strconv.FormatInt(n, 10) + " " + strconv.Itoa(int(sum))))
	})
	body := make([]byte, 3<<20)
	var sum byte
	for i := range body {
		body[i] = byte(i * 7)
		sum += body[i]
	}
	want := strconv.Itoa(len(body)) + " " + strconv.Itoa(int(sum))
	c := dial(t, addr)
	go func() {
		c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"))
		c.Write(body)
		c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
		for i := 0; i < len(body); i += 100000 {
			chunk := body[i:min(i+100000, len(body))]
			c.Write([]byte(strconv.FormatInt(int64(len(chunk)), 16) + "\r\n"))
			c.Write(chunk)
			c.Write([]byte("\r\n"))
		}
		c.Write([]byte("0\r\n\r\n"))
	}()
	for i := 0; i < 2; i++ {
		if r := c.read("POST"); string(r.Body) != want {
			t.Fatalf("request %d: %q, want %q", i, r.Body, want)
		}
	}
}

// TestChunkExtensionBudget: chunk extensions count against a per-body budget,
// so 1-byte chunks with long extensions cannot push unbounded bytes past
// limits that count only body data.
func TestChunkExtensionBudget(t *testing.T) {
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		b, err := io.ReadAll(r.Body)
		got <- result{len(b), err}
		w.WriteHeader(400, "Bad Request", nil)
	})
	ext := ";" + strings.Repeat("e", 4000)
	chunk := "1" + ext + "\r\nx\r\n"

	// Just under the budget: the body is read whole.
	c := dial(t, addr)
	n := (64 << 10) / len(ext) // the documented budget: 64 KiB
	c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat(chunk, n) + "0\r\n\r\n")
	if r := <-got; r.err != nil || r.n != n {
		t.Fatalf("under the budget: %d bytes, %v", r.n, r.err)
	}
	c.read("POST")

	// Past it: a *BodyError after at most the budget's worth of chunks.
	c = dial(t, addr)
	go func() {
		c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
		for i := 0; i < n+5; i++ { // never ends the body
			if _, err := c.Write([]byte(chunk)); err != nil {
				return
			}
		}
	}()
	r := <-got
	var be *BodyError
	if !errors.As(r.err, &be) || be.Status != 400 || !strings.Contains(be.Error(), "extensions") {
		t.Fatalf("got %v", r.err)
	}
	if r.n > n+1 {
		t.Fatalf("read %d data bytes past the extension budget", r.n)
	}
	if resp := c.read("POST"); resp.Status != 400 {
		t.Fatalf("%s", resp.Raw)
	}
}

// TestBodyMinRate: with Server.BodyMinRate, a client that trickles its body,
// each byte well within BodyReadTimeout of the last, is still cut off after
// about BodyReadTimeout, while a prompt body of any size is read whole.
func TestBodyMinRate(t *testing.T) {
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		b, err := io.ReadAll(r.Body)
		got <- result{len(b), err}
		w.WriteHeader(200, "OK", nil)
	}, func(s *Server) {
		// A gap bound far above the client's 100ms pauses, so that only
		// the rate bound can cut it off, even on a loaded machine.
		s.BodyReadTimeout = time.Second
		s.BodyMinRate = 1000
	})

	t.Run("prompt", func(t *testing.T) {
		c := dial(t, addr)
		body := strings.Repeat("b", 1<<20)
		go c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
		if r := <-got; r.err != nil || r.n != len(body) {
			t.Fatalf("%d bytes, %v", r.n, r.err)
		}
		c.read("POST")
	})

	// The rate is over a sliding window: 100 KB at once buys about one
	// BodyReadTimeout of slack, not the 100s it would pay for at 1000/s.
	for _, framing := range []string{"Content-Length: 100", "Transfer-Encoding: chunked", "after a head start"} {
		t.Run("trickle "+framing, func(t *testing.T) {
			c := dial(t, addr)
			if framing == "after a head start" {
				c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100100\r\n\r\n" + strings.Repeat("h", 100000))
				framing = "Content-Length: 100"
			} else {
				c.send("POST / HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n\r\n")
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				// 10 bytes a second, a byte every 100ms: never a gap of
				// BodyReadTimeout, and the whole body would take 10s.
				msg := "x"
				if framing != "Content-Length: 100" {
					msg = "1\r\nx\r\n"
				}
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for i := 0; i < 100; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := c.Write([]byte(msg)); err != nil {
						return
					}
				}
			}()
			r := <-got
			if !IsTimeout(r.err) || !strings.Contains(r.err.Error(), "BodyMinRate") {
				t.Fatalf("after %d bytes: %v, want a BodyMinRate timeout", r.n, r.err)
			}
			if r.n%100000 >= 100 {
				t.Fatalf("read the whole trickled body (%d bytes)", r.n)
			}
			c.read("POST")
			c.expectEOF()
		})
	}
}

func TestIsTimeout(t *testing.T) {
	for _, err := range []error{nil, io.EOF, io.ErrUnexpectedEOF, bodyError("x"), errors.New("timeout")} {
		if IsTimeout(err) {
			t.Errorf("IsTimeout(%v) = true", err)
		}
	}
	if !IsTimeout(fmt.Errorf("wrapped: %w", os.ErrDeadlineExceeded)) {
		t.Error("IsTimeout(os.ErrDeadlineExceeded) = false")
	}
}

// TestShutdownServesNewConnection: a connection accepted just before
// Shutdown, whose first request has not arrived yet, gets that request
// served (with "Connection: close") instead of being closed under the
// client, which cannot tell it from a refused request and will not retry.
func TestShutdownServesNewConnection(t *testing.T) {
	s, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte("done"))
	})
	c := dial(t, addr)
	waitUntil(t, "the connection to be accepted", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 1
	})
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	for !s.shuttingDown() {
		time.Sleep(time.Millisecond)
	}
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	r := c.read("GET")
	if string(r.Body) != "done" || r.get("Connection") != "close" {
		t.Fatalf("%s%q", r.Raw, r.Body)
	}
	c.expectEOF()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestDefaults checks the Server's Defaults on handler responses and on
// the engine's own errors: no Server, no Date, and extra fields first,
// with the handler's own of the same name after them.
func TestDefaults(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", []Field{{"X-Frame-Options", "SAMEORIGIN"}})
		w.Write([]byte("body"))
	}, func(s *Server) {
		s.Defaults = Defaults{NoServer: true, NoDate: true, Extra: []Field{{"X-Frame-Options", "DENY"}, {"X-Env", "test"}}}
	})
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	r := c.read("GET")
	if r.count("Server") != 0 || r.count("Date") != 0 || r.get("X-Env") != "test" ||
		!strings.Contains(string(r.Raw), "X-Frame-Options: DENY\r\nX-Env: test\r\nX-Frame-Options: SAMEORIGIN\r\n") {
		t.Fatalf("%s", r.Raw)
	}
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n")
	r = c.read("GET")
	if r.Status != 400 || r.count("Server") != 0 || r.count("Date") != 0 || r.get("X-Env") != "test" {
		t.Fatalf("engine error:\n%s", r.Raw)
	}

	var d Defaults
	got := d.Append(nil, []Field{{"server", "app"}}, time.Unix(0, 0))
	if len(got) != 1 || got[0] != (Field{"Date", "Thu, 01 Jan 1970 00:00:00 GMT"}) {
		t.Fatalf("zero Defaults with the app's Server: %v", got)
	}
	d = Defaults{Server: "edge", Extra: []Field{{"Date", "x"}}}
	if got := d.Append(nil, nil, time.Unix(0, 0)); len(got) != 2 || got[0] != (Field{"Server", "edge"}) || got[1] != (Field{"Date", "x"}) {
		t.Fatalf("an Extra Date stands for the server's: %v", got)
	}
	if CheckField(Field{"X", "a\r\nb"}) == nil || CheckField(Field{"a b", "c"}) == nil || CheckField(Field{"X-Ok", "v\tw"}) != nil {
		t.Fatal("CheckField")
	}
}
