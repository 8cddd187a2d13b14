package http1

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// connCtx runs the one function registered when it ends, never one that
// was stopped, and at once one registered after the end.
func TestConnCtxNotifyEnd(t *testing.T) {
	c := newConnCtx()
	ran := make(chan string, 3)
	stop := c.NotifyEnd(func() { ran <- "stopped" })
	if !stop() {
		t.Fatal("stop of a pending function reported false")
	}
	c.NotifyEnd(func() { ran <- "first" })
	c.NotifyEnd(func() { ran <- "second" }) // replaces it
	c.end()
	if got := <-ran; got != "second" {
		t.Fatalf("ran %q", got)
	}
	if c.Err() == nil {
		t.Fatal("the context did not end")
	}
	c.NotifyEnd(func() { ran <- "late" })
	if got := <-ran; got != "late" {
		t.Fatalf("ran %q", got)
	}
	select {
	case got := <-ran:
		t.Fatalf("also ran %q", got)
	default:
	}
}

// A request's context ends when its client resets the connection while
// the handler runs; a FIN alone (the client half-closed) only closes
// Finished.
func TestRequestContextEndsWithClient(t *testing.T) {
	type seen struct{ fin, ctx bool }
	got := make(chan seen, 2)
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	releases := make(chan chan struct{}, 2)
	releases <- release
	releases <- make(chan struct{}) // the second request is never released
	s := &Server{Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		release := <-releases
		entered <- struct{}{}
		var v seen
		select {
		case <-r.Finished():
			v.fin = true
		case <-time.After(10 * time.Second):
		}
		select {
		case <-r.Context().Done():
			v.ctx = true
		case <-release:
		case <-time.After(10 * time.Second):
		}
		got <- v
		w.WriteHeader(200, "OK", nil)
		w.Write([]byte("ok"))
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	// Half-close: Finished closes, the context lives, the answer arrives.
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	c.(*net.TCPConn).CloseWrite()
	close(release)
	if v := <-got; !v.fin || v.ctx {
		t.Fatalf("half-close: %+v, want Finished closed and the context alive", v)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Fatalf("half-closed client got %q", line)
	}

	// Reset: both.
	c2, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	c2.(*net.TCPConn).SetLinger(0)
	c2.Close()
	if v := <-got; !v.fin || !v.ctx {
		t.Fatalf("reset: %+v, want both", v)
	}
}
