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
