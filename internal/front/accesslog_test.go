package front

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/proxy"
)

// syncBuffer is an io.Writer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Every line sent before Close is written, whole and in each sender's
// order, and lines from many requests share writes.
func TestAccessLogWriterKeepsEveryLine(t *testing.T) {
	var out syncBuffer
	l := NewAccessLog(&out)
	const senders, lines = 8, 2000
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				l.send([]byte(fmt.Sprintf("s%d line %d\n", s, i)))
			}
		}()
	}
	wg.Wait()
	l.Close()
	l.send([]byte("after close\n")) // dropped, not a panic
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != senders*lines {
		t.Fatalf("%d lines written, want %d", len(got), senders*lines)
	}
	next := make([]int, senders)
	for _, line := range got {
		var s, i int
		if _, err := fmt.Sscanf(line, "s%d line %d", &s, &i); err != nil || i != next[s] {
			t.Fatalf("line %q out of order or torn (want line %d of s%d)", line, next[s], s)
		}
		next[s]++
	}
	if out.writes >= senders*lines {
		t.Errorf("%d writes for %d lines: nothing batched", out.writes, senders*lines)
	}
}

// A line logged while nothing else comes is written without waiting for
// more lines or Close.
func TestAccessLogWriterIdleLine(t *testing.T) {
	var out syncBuffer
	l := NewAccessLog(&out)
	defer l.Close()
	l.send([]byte("alone\n"))
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != "alone\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the line was not written within 10s: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// logOnlyWriter is the part of a responseWriter the access log reads.
type logOnlyWriter struct{ responseWriter }

func (logOnlyWriter) Status() int    { return 200 }
func (logOnlyWriter) Written() int64 { return 13 }

// BenchmarkAccessLogCLF is the default line's cost per request: format,
// hand to the writer, written in batches to a discarding file.
func BenchmarkAccessLogCLF(b *testing.B) {
	l := NewAccessLog(io.Discard)
	defer l.Close()
	rq := &request{Request: &http1.Request{Method: "GET", Target: "/",
		RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
		Header:     []http1.Field{{Name: "Host", Value: "127.0.0.1:8000"}, {Name: "User-Agent", Value: "wrk"}}}, proto: "HTTP/1.1"}
	start := time.Now()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Log(rq, logOnlyWriter{}, start)
	}
}

// TestAccessLogReusesOrigin: a request whose environ was built (the
// origin kept on it) logs the very line that one without it does: the
// peer's IP, the forwarded client of a trusted proxy, "-" for a unix socket
// peer, in the Combined Log Format and in a format's %(h)s.
func TestAccessLogReusesOrigin(t *testing.T) {
	trusted, err := proxy.ParseAllowList([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	fwd := proxy.NewForwarding(trusted, nil)
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }
	cases := []struct {
		peer   net.Addr
		fields []http1.Field
		host   string
	}{
		{tcp("203.0.113.5"), nil, "203.0.113.5"},
		{tcp("203.0.113.5"), []http1.Field{{Name: "X-Forwarded-For", Value: "198.51.100.1"}}, "203.0.113.5"},
		{tcp("127.0.0.1"), []http1.Field{{Name: "X-Forwarded-For", Value: "198.51.100.1"}}, "198.51.100.1"},
		{tcp("127.0.0.1"), nil, "127.0.0.1"},
		{tcp("::1"), nil, "::1"},
		{&net.UnixAddr{Name: "/run/g.sock", Net: "unix"}, nil, "-"},
	}
	for _, format := range []string{"", "%(h)s %(s)s"} {
		for _, c := range cases {
			lines := [2]string{}
			for i, withOrigin := range []bool{false, true} {
				var out syncBuffer
				l, err := NewAccessLogWith(&out, AccessLogOptions{Format: format, Forwarded: fwd, Scheme: "http"})
				if err != nil {
					t.Fatal(err)
				}
				rq := &request{Request: &http1.Request{Method: "GET", Target: "/", Path: "/", ProtoMinor: 1,
					RemoteAddr: c.peer, Header: c.fields}, proto: "HTTP/1.1"}
				if withOrigin {
					rq.org = originOf(fwd, "http", rq.Request)
				}
				l.Log(rq, logOnlyWriter{}, time.Unix(1700000000, 0))
				l.Close()
				lines[i] = out.String()
			}
			if lines[0] != lines[1] {
				t.Errorf("format %q, peer %v: line %q with the environ's origin, %q without", format, c.peer, lines[1], lines[0])
			}
			if !strings.HasPrefix(lines[1], c.host+" ") {
				t.Errorf("format %q, peer %v: line %q, want the host %q", format, c.peer, lines[1], c.host)
			}
		}
	}
}
