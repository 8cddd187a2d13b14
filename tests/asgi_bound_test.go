package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The total bound on the bytes the front holds for an ASGI worker's
// responses (internal/wire's doc, "Flow control"): what its clients have
// not read is under --response-memory-total, with WSGI's responses, plus
// a small floor per slot (wire.MuxFloor, 64 KiB), however many clients
// stall.

// residentKiB is a process's VmRSS.
func residentKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// stalledReader opens a connection with a small receive buffer, asks for
// path and reads nothing.
func stalledReader(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	return c
}

// TestASGIStalledReadersBounded: 100 clients that ask for 100 MiB
// responses and read nothing hold, in the front, no more than
// --response-memory-total (the gauge gowsgi_response_memory_bytes, which
// counts what is under it, never passes it) and a floor per slot: the
// front's live heap (half the Go collector's next target, which is twice
// what the last collection found live) stays under the limit and 320 KiB
// per stalled client (the 64 KiB window, and buffers of the slot's and the
// connection's own: about 180 KiB in all); with a fixed 512 KiB window per
// slot it was about 800 KiB each. Meanwhile a fresh client reads a large
// response whole and a normal request is answered; once the stalled
// clients go, the budget is all given back.
func TestASGIStalledReadersBounded(t *testing.T) {
	const (
		stalled  = 100
		limit    = 8 << 20
		perSlot  = 320 << 10
		big      = 100 << 20
		fresh    = 16 << 20
		slotsMax = 200
	)
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, _ := startASGI(t, nil, asgiRaw, "--workers", "1", "--interface", "asgi", "--metrics-bind", maddr,
		"--response-memory-total", strconv.Itoa(limit), "--limit-concurrency", strconv.Itoa(slotsMax), "--no-access-log")
	gauge := func() (float64, int) {
		return metricValue(scrapeMetrics(t, maddr), "gowsgi_response_memory_bytes")
	}
	liveHeap := func(mf map[string]*dto.MetricFamily) float64 {
		v, _ := metricValue(mf, "go_memstats_next_gc_bytes")
		return v / 2
	}
	inFlight := func() float64 {
		v, _ := metricValue(scrapeMetrics(t, maddr), "gowsgi_requests_in_flight")
		return v
	}
	if resp, _ := get(t, s, "GET", "/stream?n=1", nil); resp.StatusCode != 200 {
		t.Fatalf("warm-up: %d", resp.StatusCode)
	}
	pid := s.Cmd.Process.Pid
	base := residentKiB(t, pid)
	baseHeap := liveHeap(scrapeMetrics(t, maddr))

	conns := make([]net.Conn, 0, stalled)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < stalled; i++ {
		conns = append(conns, stalledReader(t, s.Addr, fmt.Sprintf("/big?size=%d&name=s%d", big, i)))
	}
	if !waitFor(30*time.Second, func() bool { return inFlight() >= stalled }) {
		t.Fatalf("the %d stalled requests never were all in flight (%v)", stalled, inFlight())
	}
	// Sample while they stall, and while a fresh client reads a large
	// response whole and a normal request is answered.
	peakRSS, peakGauge, peakHeap := 0, 0.0, 0.0
	sample := func() {
		peakRSS = max(peakRSS, residentKiB(t, pid))
		mf := scrapeMetrics(t, maddr)
		g, n := metricValue(mf, "gowsgi_response_memory_bytes")
		if n != 1 {
			t.Fatalf("no gowsgi_response_memory_bytes gauge on /metrics")
		}
		peakGauge = max(peakGauge, g)
		peakHeap = max(peakHeap, liveHeap(mf))
	}
	done := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		fmt.Fprintf(c, "GET /big?size=%d&name=fresh HTTP/1.1\r\nHost: x\r\n\r\n", fresh)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
		if err != nil {
			done <- err
			return
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && n != fresh {
			err = fmt.Errorf("the fresh client read %d bytes of %d", n, fresh)
		}
		done <- err
	}()
	// The peaks while the fresh client reads its response, sampled every
	// 100 ms until it has it all.
	late := time.After(60 * time.Second)
	for arrived := false; !arrived; {
		sample()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			arrived = true
		case <-late:
			t.Fatal("the fresh client's large response did not arrive")
		case <-time.After(100 * time.Millisecond):
		}
	}
	sample()
	if resp, body := get(t, s, "GET", "/stream?n=2", nil); resp.StatusCode != 200 || body != "chunk 0\nchunk 1\n" {
		t.Fatalf("a normal request beside the stalled clients: %d %q", resp.StatusCode, body)
	}
	growth := int(peakHeap - baseHeap)
	t.Logf("front live heap %.0f KiB → peak %.0f KiB (+%d KiB, %d KiB per stalled client); RSS %d → %d KiB; response memory peak %.0f of %d",
		baseHeap/1024, peakHeap/1024, growth>>10, growth>>10/stalled, base, peakRSS, peakGauge, limit)
	if peakGauge > limit {
		t.Errorf("response memory %.0f bytes, past --response-memory-total %d", peakGauge, limit)
	}
	if bound := limit + stalled*perSlot; growth > bound {
		t.Errorf("the front's live heap grew by %d KiB with %d stalled clients, past the limit and %d KiB each (%d KiB)",
			growth>>10, stalled, perSlot>>10, bound>>10)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if !waitFor(30*time.Second, func() bool { g, _ := gauge(); return g == 0 }) {
		g, _ := gauge()
		t.Errorf("%.0f bytes of response memory still taken after the stalled clients left", g)
	}
}
