package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer serves h on a fresh 127.0.0.1 listener and returns the server
// and its address. The server is closed when the test ends.
func startServer(t testing.TB, h HandlerFunc, opts ...func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, ErrorLog: discardLog}
	for _, o := range opts {
		o(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

type client struct {
	t testing.TB
	net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t, c, bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one response to a request with the given method.
func (c *client) read(method string) *response {
	c.t.Helper()
	r, err := readResponse(c.br, method)
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	return r
}

// expectEOF checks that the server closed the connection with nothing more
// to read.
func (c *client) expectEOF() {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("expected EOF, got more data: %q", append([]byte{b}, rest...))
	}
	if err != io.EOF && !isReset(err) {
		c.t.Fatalf("expected EOF, got %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

type response struct {
	Status int
	Reason string
	Header []Field
	Body   []byte
	Raw    []byte // status line and head as received
}

func (r *response) get(name string) string {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

func (r *response) count(name string) int {
	n := 0
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

func readCRLF(br *bufio.Reader) (string, error) {
	l, err := br.ReadString('\n')
	if err != nil {
		return l, err
	}
	if !strings.HasSuffix(l, "\r\n") {
		return l, fmt.Errorf("line not ended by CRLF: %q", l)
	}
	return l[:len(l)-2], nil
}

// readResponse reads one response strictly: any framing problem is an
// error, so the tests catch what a strict client would reject.
func readResponse(br *bufio.Reader, method string) (*response, error) {
	line, err := readCRLF(br)
	if err != nil {
		return nil, err
	}
	r := &response{Raw: []byte(line + "\r\n")}
	if len(line) < 13 || line[:9] != "HTTP/1.1 " || line[12] != ' ' {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	r.Status, err = strconv.Atoi(line[9:12])
	if err != nil {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	r.Reason = line[13:]
	for {
		l, err := readCRLF(br)
		if err != nil {
			return nil, err
		}
		r.Raw = append(r.Raw, l+"\r\n"...)
		if l == "" {
			break
		}
		name, v, ok := strings.Cut(l, ": ")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		r.Header = append(r.Header, Field{name, v})
	}
	if method == "HEAD" || r.Status < 200 || r.Status == 204 || r.Status == 304 {
		return r, nil
	}
	te, cl := r.get("Transfer-Encoding"), r.get("Content-Length")
	switch {
	case te != "" && cl != "":
		return nil, errors.New("both Transfer-Encoding and Content-Length")
	case te == "chunked":
		for {
			l, err := readCRLF(br)
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(l, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("bad chunk size %q", l)
			}
			if n == 0 {
				if l, err := readCRLF(br); err != nil || l != "" {
					return nil, fmt.Errorf("bad last chunk: %q %v", l, err)
				}
				return r, nil
			}
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(br, buf); err != nil {
				return nil, err
			}
			if !bytes.HasSuffix(buf, []byte("\r\n")) {
				return nil, errors.New("chunk not followed by CRLF")
			}
			r.Body = append(r.Body, buf[:n]...)
		}
	case te != "":
		return nil, fmt.Errorf("unexpected Transfer-Encoding %q", te)
	case cl != "":
		n, err := strconv.Atoi(cl)
		if err != nil {
			return nil, err
		}
		r.Body = make([]byte, n)
		if _, err := io.ReadFull(br, r.Body); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	default:
		r.Body, err = io.ReadAll(br)
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}
