package front

import (
	"bytes"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"strconv"
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

// statusWriter is a logOnlyWriter with a chosen status and size.
type statusWriter struct {
	responseWriter
	status  int
	written int64
}

func (w statusWriter) Status() int    { return w.status }
func (w statusWriter) Written() int64 { return w.written }

// TestAccessLogCLFBytes pins the Combined Log Format line byte for byte
// against the plain formatting it replaced (every byte escaped one at a
// time, Referer and User-Agent looked up apart, the status by AppendInt),
// over clean and hostile values, repeated fields and odd statuses.
func TestAccessLogCLFBytes(t *testing.T) {
	ref := func(rq *request, status int, written int64, start time.Time) string {
		esc := func(b []byte, s string) []byte {
			const hex = "0123456789abcdef"
			for i := 0; i < len(s); i++ {
				c := s[i]
				if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
					b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
					continue
				}
				b = append(b, c)
			}
			return b
		}
		b := []byte(rq.RemoteAddr.(*net.TCPAddr).IP.String())
		b = append(b, " - - ["...)
		b = start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
		b = append(b, "] \""...)
		b = esc(b, rq.Method)
		b = append(b, ' ')
		b = esc(b, rq.Target)
		b = append(b, ' ')
		b = append(b, rq.Proto()...)
		b = append(b, "\" "...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		if written > 0 {
			b = strconv.AppendInt(b, written, 10)
		} else {
			b = append(b, '-')
		}
		b = append(b, " \""...)
		b = esc(b, headerOr(rq.Request, "Referer", "-"))
		b = append(b, "\" \""...)
		b = esc(b, headerOr(rq.Request, "User-Agent", "-"))
		return string(append(b, "\"\n"...))
	}
	values := []string{"", "/", "/a?b=c", "caf\xe9", "evil\" 200 0 \"x", "back\\slash", "tab\there", "\x00\x1f\x7f\xff",
		strings.Repeat("long-clean-path/", 20), "ends with quote\""}
	statuses := []int{200, 404, 0, 99, 100, 999, 1000}
	start := time.Unix(1700000000, 0).In(time.FixedZone("x", 3600))
	rnd := mathrand.New(mathrand.NewPCG(1, 2))
	var out syncBuffer
	l := NewAccessLog(&out)
	var want []string
	for i := 0; i < 400; i++ {
		pick := func() string { return values[rnd.IntN(len(values))] }
		var fields []http1.Field
		for n := rnd.IntN(5); n > 0; n-- {
			name := []string{"Referer", "User-Agent", "referer", "USER-AGENT", "Host", "X-Other"}[rnd.IntN(6)]
			fields = append(fields, http1.Field{Name: name, Value: pick()})
		}
		rq := &request{Request: &http1.Request{Method: []string{"GET", "PO\"ST", "M\x01"}[rnd.IntN(3)], Target: pick(),
			RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, byte(i)), Port: 1234}, Header: fields}, proto: "HTTP/1.1"}
		status, written := statuses[rnd.IntN(len(statuses))], int64(rnd.IntN(3)*100)
		l.Log(rq, statusWriter{status: status, written: written}, start)
		want = append(want, ref(rq, status, written, start))
	}
	l.Close()
	got := strings.SplitAfter(out.String(), "\n")
	if len(got) != len(want)+1 || got[len(want)] != "" {
		t.Fatalf("%d lines, want %d", len(got)-1, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d\n%q, want\n%q", i, got[i], want[i])
		}
	}
}
