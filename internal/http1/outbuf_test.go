package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pattern returns n bytes that differ from position to position, so that a
// byte out of place shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// sizedHandler answers /N (HTTP/1.1 chunked unless ?cl, in which case with a
// Content-Length) with pattern(N), written in pieces of ?piece bytes (all at
// once by default).
func sizedHandler(w *ResponseWriter, r *Request) {
	path, query, _ := strings.Cut(r.Target, "?")
	n, _ := strconv.Atoi(path[1:])
	piece := n
	var fields []Field
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "cl":
			fields = append(fields, Field{"Content-Length", strconv.Itoa(n)})
		case "piece":
			piece, _ = strconv.Atoi(v)
		}
	}
	w.WriteHeader(200, "OK", fields)
	body := pattern(n)
	for len(body) > 0 {
		k := min(piece, len(body))
		if _, err := w.Write(body[:k]); err != nil {
			return
		}
		body = body[k:]
	}
}

// seqpacket serves h on a unix SOCK_SEQPACKET socket and returns a client
// connection to it. On such a socket every write(2) or writev(2) of the
// server arrives as one message, so the client sees how many system calls
// a response took.
func seqpacket(t *testing.T, h HandlerFunc) net.Conn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unixpacket", path)
	if err != nil {
		t.Skip(err)
	}
	s := &Server{Handler: h, ErrorLog: discardLog}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	c, err := net.Dial("unixpacket", path)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// readMessages reads messages from c until they make one whole response
// to a GET, and returns their sizes and the response.
func readMessages(t *testing.T, c net.Conn) ([]int, *response) {
	t.Helper()
	buf := make([]byte, 256<<10) // more than any message of these tests
	var msgs []int
	var all []byte
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d messages (%v): %v", len(msgs), msgs, err)
		}
		msgs = append(msgs, n)
		all = append(all, buf[:n]...)
		br := bufio.NewReader(bytes.NewReader(all))
		if r, err := readResponse(br, "GET"); err == nil {
			if br.Buffered() > 0 {
				t.Fatalf("%d bytes after the response", br.Buffered())
			}
			return msgs, r
		}
	}
}

// TestLargeBodyOneWrite: a large body piece goes out with the bytes
// buffered before it (the head, a chunk-size line, a short start of the
// body) in one system call, without a copy into the output buffer; small
// pieces are still gathered in the buffer.
func TestLargeBodyOneWrite(t *testing.T) {
	c := seqpacket(t, sizedHandler)
	for _, tc := range []struct {
		target string
		writes int // system calls for the response; 0: no more than full buffers take
	}{
		{"/5", 1},
		{"/5?cl", 1},
		{"/8000?cl", 1},               // held in bodyBuf, then sent with the head
		{"/9000?cl&piece=4500", 1},    // bodyBuf, then the last piece: one writev
		{"/16000?cl", 1},              // head and body overflow the buffer
		{"/65536?cl", 1},              // the echo64k response: bufio took two writes
		{"/65536", 2},                 // chunked: head, size line, data and CRLF; then the last chunk
		{"/131072?cl&piece=65536", 2}, // head with the first piece, then the second
		{"/100000?cl&piece=1000", 0},  // small pieces: full buffers, as bufio
		{"/100000?piece=1000", 0},     // chunked, the same
		{"/65536?cl&piece=3000", 0},   // pieces under largeWrite are copied
		{"/65536?cl", 1},              // again, on the same connection
	} {
		if _, err := io.WriteString(c, "GET "+tc.target+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		msgs, r := readMessages(t, c)
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(tc.target, "?", 2)[0], "/"))
		if !bytes.Equal(r.Body, pattern(n)) {
			t.Fatalf("%s: body of %d bytes is not the one sent", tc.target, len(r.Body))
		}
		switch {
		case tc.writes > 0 && len(msgs) != tc.writes:
			t.Errorf("%s: %d writes %v, want %d", tc.target, len(msgs), msgs, tc.writes)
		case tc.writes == 0:
			total := len(r.Raw) + n
			if r.get("Transfer-Encoding") != "" {
				total = 0
				for _, m := range msgs {
					total += m
				}
			}
			if max := (total + writeBufSize - 1) / writeBufSize; len(msgs) > max {
				t.Errorf("%s: writes %v, want at most %d (full buffers)", tc.target, msgs, max)
			}
		}
		if tc.writes == 1 && len(msgs) == 1 && msgs[0] != len(r.Raw)+n {
			t.Errorf("%s: one write of %d bytes, want the head (%d) and the body (%d)", tc.target, msgs[0], len(r.Raw), n)
		}
	}

	// Pipelined: each response still goes out whole, in one write.
	io.WriteString(c, "GET /65536?cl HTTP/1.1\r\nHost: x\r\n\r\nGET /5 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, n := range []int{65536, 5} {
		msgs, r := readMessages(t, c)
		if len(msgs) != 1 || !bytes.Equal(r.Body, pattern(n)) {
			t.Fatalf("pipelined /%d: writes %v, body of %d bytes", n, msgs, len(r.Body))
		}
	}

	// HTTP/1.0, delimited by the close.
	io.WriteString(c, "GET /65536 HTTP/1.0\r\n\r\n")
	buf := make([]byte, 256<<10)
	var msgs []int
	var all []byte
	for {
		n, err := c.Read(buf)
		if n == 0 || err != nil {
			break
		}
		msgs = append(msgs, n)
		all = append(all, buf[:n]...)
	}
	r, err := readResponse(bufio.NewReader(bytes.NewReader(all)), "GET")
	if err != nil || !bytes.Equal(r.Body, pattern(65536)) || len(msgs) != 1 {
		t.Fatalf("HTTP/1.0: writes %v, %v", msgs, err)
	}
}

// recConn is a net.Conn without writev (as a TLS connection) that records
// the writes made to it; failAfter > 0 makes writes fail once that many
// bytes went out.
type recConn struct {
	fakeConn
	writes    [][]byte
	failAfter int
	wrote     int
}

var errBroken = errors.New("broken pipe")

func (c *recConn) Write(p []byte) (int, error) {
	if c.failAfter > 0 && c.wrote+len(p) > c.failAfter {
		n := c.failAfter - c.wrote
		c.wrote += n
		c.out.Write(p[:n])
		return n, errBroken
	}
	c.wrote += len(p)
	c.writes = append(c.writes, p)
	return c.fakeConn.Write(p)
}

// TestLargeBodyNotCopied: on a connection without writev the head and a
// large body piece are two writes, and the piece is the application's own
// slice (bufio.Writer copied the start of it behind the head).
func TestLargeBodyNotCopied(t *testing.T) {
	body := pattern(65536)
	s := &Server{ErrorLog: discardLog, Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", []Field{{"Content-Length", "65536"}})
		w.Write(body)
	})}
	s.init()
	rc := &recConn{fakeConn: fakeConn{in: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}}
	newConn(s, rc).serve()
	if len(rc.writes) != 2 || &rc.writes[1][0] != &body[0] || len(rc.writes[1]) != len(body) {
		t.Fatalf("%d writes, want the head and then the body itself", len(rc.writes))
	}
	r, err := readResponse(bufio.NewReader(&rc.out), "GET")
	if err != nil || !bytes.Equal(r.Body, body) {
		t.Fatalf("response: %v", err)
	}
}

// TestWriteErrors: a failed write (buffered bytes, or a large piece sent
// with them) fails that Write and every later one, and closes the
// connection after the response.
func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failAfter int
		pieces    []int
	}{
		{"in the writev of head and piece", 1000, []int{65536, 65536}},
		{"in a flush of the buffer", 20000, []int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}},
		{"in a later piece", 70000, []int{65536, 65536, 65536}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs []error
			calls := 0
			s := &Server{ErrorLog: discardLog, Handler: HandlerFunc(func(w *ResponseWriter, r *Request) {
				calls++
				w.WriteHeader(200, "OK", nil)
				for _, n := range tc.pieces {
					_, err := w.Write(make([]byte, n))
					errs = append(errs, err)
				}
				errs = append(errs, w.Finish())
			})}
			s.init()
			// A second request: it must not be served.
			req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
			rc := &recConn{fakeConn: fakeConn{in: []byte(req + req)}, failAfter: tc.failAfter}
			newConn(s, rc).serve()
			failed := false
			for i, err := range errs {
				if err != nil {
					failed = true
				} else if failed {
					t.Fatalf("call %d succeeded after a failed one: %v", i, errs)
				}
			}
			if !failed || errs[len(errs)-1] == nil {
				t.Fatalf("no error: %v", errs)
			}
			if calls != 1 || !rc.closed || rc.wrote != tc.failAfter {
				t.Fatalf("handler calls %d, closed %v, wrote %d of %d", calls, rc.closed, rc.wrote, tc.failAfter)
			}
		})
	}
}

// TestLargeBodiesTCP: bodies around the buffer sizes, in pieces of all
// sizes, framed each way, arrive byte-exact over a TCP connection (writev,
// short writes under a small socket buffer).
func TestLargeBodiesTCP(t *testing.T) {
	_, addr := startServer(t, sizedHandler)
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		// A small window: the server's large writes go out in several
		// goes (short writes, EAGAIN) and wait for the client's reads.
		tc.SetReadBuffer(32 << 10)
	}
	sizes := []int{0, 1, largeWrite - 1, largeWrite, bodyBufSize, bodyBufSize + 1,
		writeBufSize - 200, writeBufSize, writeBufSize + 1, 65536, 1<<20 + 17}
	pieces := []int{1, 1000, largeWrite, bodyBufSize, writeBufSize, 65536, 0}
	for _, n := range sizes {
		for _, piece := range pieces {
			for _, cl := range []string{"", "&cl"} {
				target := "/" + strconv.Itoa(n) + "?piece=" + strconv.Itoa(piece) + cl
				if piece == 0 {
					target = "/" + strconv.Itoa(n) + "?x" + cl
				}
				// Two requests pipelined, the second small.
				c.send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
				if r := c.read("GET"); !bytes.Equal(r.Body, pattern(n)) {
					t.Fatalf("%s: body of %d bytes is not the one sent", target, len(r.Body))
				}
				if r := c.read("GET"); !bytes.Equal(r.Body, pattern(3)) {
					t.Fatalf("after %s: %q", target, r.Body)
				}
			}
		}
	}
}

// TestHeadFieldsAcrossBufferEnd: a head larger than the output buffer, its
// field lines falling across the buffer's end at every offset (writeField's
// slow path), arrives whole and in order.
func TestHeadFieldsAcrossBufferEnd(t *testing.T) {
	var want []Field
	for i := 0; i < 120; i++ {
		want = append(want, Field{Name: "X-F" + strconv.Itoa(i), Value: strings.Repeat(string(rune('a'+i%26)), 200+i*7)})
	}
	c := seqpacket(t, func(w *ResponseWriter, r *Request) {
		w.WriteHeader(200, "OK", append([]Field{{"Content-Length", "2"}}, want...))
		w.Write([]byte("ok"))
	})
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_, resp := readMessages(t, c)
	if resp.Status != 200 || string(resp.Body) != "ok" {
		t.Fatalf("status %d, body %q", resp.Status, resp.Body)
	}
	for _, f := range want {
		if got := resp.get(f.Name); got != f.Value {
			t.Fatalf("%s: %d bytes, want %d", f.Name, len(got), len(f.Value))
		}
	}
}
