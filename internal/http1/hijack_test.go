package http1

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"
)

// Hijack hands the connection over with the bytes read past the head; the
// engine then writes nothing and closes nothing, and the connection still
// counts until the handler returns.
func TestHijack(t *testing.T) {
	released := make(chan struct{})
	srv, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		nc, buffered, err := w.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer nc.Close()
		if _, _, err := w.Hijack(); err != ErrHijackTooLate {
			t.Errorf("second Hijack: %v", err)
		}
		if _, err := w.Write([]byte("x")); err == nil {
			t.Error("Write after Hijack succeeded")
		}
		io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		// The client sent "early" with its head: it is in buffered, the
		// rest comes from the connection.
		br := bufio.NewReader(io.MultiReader(bytesReader(buffered), nc))
		line, _ := br.ReadString('\n')
		io.WriteString(nc, "echo "+line)
		<-released
	})
	c := dial(t, addr)
	c.send("GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nearly")
	r := c.read("GET")
	if r.Status != 101 || r.get("Date") != "" {
		t.Fatalf("got %q", r.Raw)
	}
	c.send(" bytes\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "echo early bytes\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	// Shutdown waits for the hijacked connection's handler.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown with a hijacked connection in its handler: %v", err)
	}
	close(released)
	c.expectEOF()
}

func TestHijackTooLate(t *testing.T) {
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", nil)
		w.Flush()
		if _, _, err := w.Hijack(); err != ErrHijackTooLate {
			t.Errorf("Hijack after the head: %v", err)
		}
		w.Finish()
	})
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r := c.read("GET"); r.Status != 200 {
		t.Fatalf("got %q", r.Raw)
	}
	_, addr = startServer(t, func(w *ResponseWriter, r *Request) {
		if _, _, err := w.Hijack(); err != ErrHijackTooLate {
			t.Errorf("Hijack with an unread body: %v", err)
		}
		w.WriteHeader(204, "No Content", nil)
	})
	c = dial(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
	if r := c.read("POST"); r.Status != 204 {
		t.Fatalf("got %q", r.Raw)
	}
}

type byteSliceReader struct{ b []byte }

func (r *byteSliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &byteSliceReader{b} }
