package http1

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestBodyArrived: a body of known length that has all come (with the
// head, or since into the socket) is in hand without waiting; one still
// on its way, a chunked one or a larger one is not, and BodyArrived never
// waits for the client.
func TestBodyArrived(t *testing.T) {
	ready := make(chan struct{})
	arrived := make(chan bool, 1)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		<-ready
		a := r.BodyArrived(64 << 10)
		arrived <- a
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(400, "Bad Request", nil)
			return
		}
		w.WriteHeader(200, "OK", nil)
		fmt.Fprintf(w, "arrived=%v len=%d", a, len(b))
	})
	body := strings.Repeat("b", 20000)

	// All of it sent (in the socket) before the handler asks.
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + body)
	ready <- struct{}{}
	if got := string(c.read("POST").Body); got != "arrived=true len=20000" {
		t.Errorf("whole body sent: %q", got)
	}
	<-arrived

	// Part of it: not in hand, and the rest is read as usual.
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + body[:100])
	ready <- struct{}{}
	if <-arrived {
		t.Error("a body still on its way was in hand")
	}
	c.send(body[100:])
	if got := string(c.read("POST").Body); got != "arrived=false len=20000" {
		t.Errorf("part of the body: %q", got)
	}

	// Larger than max, or chunked: not in hand, whatever came.
	c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("b", 70000))
	ready <- struct{}{}
	if got := string(c.read("POST").Body); got != "arrived=false len=70000" {
		t.Errorf("larger body: %q", got)
	}
	<-arrived
	c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	ready <- struct{}{}
	if got := string(c.read("POST").Body); got != "arrived=false len=5" {
		t.Errorf("chunked body: %q", got)
	}
	<-arrived
	// No body: in hand.
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	ready <- struct{}{}
	if got := string(c.read("GET").Body); got != "arrived=true len=0" {
		t.Errorf("no body: %q", got)
	}
}
