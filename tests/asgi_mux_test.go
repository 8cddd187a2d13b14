package tests

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// The ASGI worker's one data socket (internal/workers/mux.go): every slot
// of an ASGI worker travels over it.

const asgiMux = "tests/testdata/apps/asgi_mux.py"

// socketCount counts the sockets a process holds.
func socketCount(t *testing.T, pid string) int {
	t.Helper()
	dir := "/proc/" + strings.TrimSpace(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if dest, _ := os.Readlink(dir + "/" + e.Name()); strings.HasPrefix(dest, "socket:") {
			n++
		}
	}
	return n
}

// TestASGIOneDataSocket: an ASGI worker serving 100 requests at once, with
// --limit-concurrency 1000, holds its control socket and its one data
// socket (and its event loop's own), not a socket per slot.
func TestASGIOneDataSocket(t *testing.T) {
	t.Parallel()
	for _, iface := range []string{"asgi", "auto"} {
		t.Run(iface, func(t *testing.T) {
			s, p := startASGI(t, nil, asgiMux, "--workers", "1", "--threads", "4", "--interface", iface, "--limit-concurrency", "1000")
			const n = 100
			wait := getConcurrently(t, s, n, fmt.Sprintf("/hold?n=%d&name=h", n), "held")
			p.WaitFile("h.held", 30*time.Second)
			pid, _ := os.ReadFile(p.Path("h.held"))
			// fd 4 (control), fd 5 (data), and the event loop's self-pipe
			// pair at most, with room for one more of the loop's own.
			got := socketCount(t, string(pid))
			t.Logf("%d sockets", got)
			if got > 5 {
				t.Errorf("the worker holds %d sockets with %d requests in flight: more than its control and data sockets", got, n)
			}
			p.Release("h")
			wait()
		})
	}
}

// TestASGIStreamWaitsOthersServed: a client that does not read a large
// streamed response makes the app's send() wait (its slot's credit runs
// out), while other requests on the same worker are answered; read on,
// the response arrives whole.
func TestASGIStreamWaitsOthersServed(t *testing.T) {
	t.Parallel()
	s, p := startASGI(t, nil, asgiMux, "--workers", "1", "--response-spool", "0", "--response-buffer", "256K")
	const size = 64 << 20
	c, br, resp := openStream(t, s, fmt.Sprintf("/stream?size=%d&name=s", size))
	defer c.Close()
	if resp.ContentLength != size {
		t.Fatalf("Content-Length %d", resp.ContentLength)
	}
	p.WaitFile("s.waited", 30*time.Second)
	for i := 0; i < 5; i++ {
		if resp, body := get(t, s, "GET", "/hello", nil); resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("another request while the stream waits: %d %q", resp.StatusCode, body)
		}
	}
	if p.Exists("s.done") {
		t.Fatal("the app sent the whole stream to a client that read none of it")
	}
	n, err := io.Copy(io.Discard, br)
	if err != nil || n != size {
		t.Fatalf("read %d bytes (%v), want %d", n, err, size)
	}
	p.WaitFile("s.done", 10*time.Second)
}
