package tests

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestBoundsEvictStalledReaders: stalled readers fill the response bounds
// (memory, then the spool) with responses they never read, in the issue's
// two shapes, with the bounds scaled down from the defaults (64M of memory
// and 1G of disk, which 2,000 stalled 1 MB responses overfill) to
// --response-memory-total 8M and --response-spool-total 32M, which 200
// overfill:
//   - http2: 20 connections × 10 streams with a zero window, 1 MB each;
//   - http1: 100 connections that never read, with a small receive buffer,
//     4 MB each: the kernel takes about 2.8 MB of a stalled loopback
//     connection's response (1 MB responses never reach the front's
//     buffers), the front holds the rest.
//
// Once every attack response is on its way (the attack's burst is through
// the queue), new stalled requests keep coming, and a legitimate client
// on a fresh connection gets 95% of its small GETs, and another 95% of its
// 1 MB GETs (read at once), within a second: responses whose clients took
// nothing for a second are evicted when others need the room. The front
// stays under 150 MiB above its baseline, and once the attack ends every
// descriptor it took and the spool file are gone. Without eviction the
// stalled responses hold the workers, waiting for room, until --timeout,
// and the legitimate clients time out or get 503s.
func TestBoundsEvictStalledReaders(t *testing.T) {
	for _, shape := range []string{"http2", "http1"} {
		t.Run(shape, func(t *testing.T) {
			s, _ := StartProbe(t, "--http2-cleartext", "both", "-w", "2", "--threads", "2",
				"--response-memory-total", "8M", "--response-spool-total", "32M", "--write-timeout", "120s")
			pid := s.Cmd.Process.Pid
			base := rssMiB(t, pid)
			baseFDs, _ := fds(pid, "")
			peak := peakRSS(t, pid)
			a := &attacker{t: t, addr: s.Addr, ports: map[int]bool{}}
			burst, every := 20, 500*time.Millisecond
			if shape == "http1" {
				a.http1, burst, every = true, 10, time.Second
			}
			began := time.Now()
			for i := 0; i < burst; i++ {
				a.attack()
			}
			// Every response has its head out: the burst is through the
			// queue (each response waits for room, which eviction makes).
			if !waitFor(90*time.Second, func() bool { return a.started(s.port()) >= burst*10 }) {
				t.Fatalf("%d of %d attack responses started", a.started(s.port()), burst*10)
			}
			stop := make(chan struct{})
			attacking := make(chan struct{})
			go func() {
				defer close(attacking)
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						a.attack()
					}
				}
			}()
			small := startLegit(s.URL("/"))
			large := startLegitBody(s.URL("/cl?declared=1000000&actual=1000000"), 1000000)
			small.check(t, 100)
			large.check(t, 20)
			close(stop)
			<-attacking
			high := peak()
			n := a.close()
			t.Logf("RSS: baseline %.0f MiB, peak %.0f MiB; %d attack connections", base, high, n)
			// Evictions are logged, a line a second at most.
			if n, most := s.LogCount("responses cut off"), int(time.Since(began)/time.Second)+2; n == 0 || n > most {
				t.Errorf("%d eviction lines in the log, want 1 to %d:\n%s", n, most, s.Stderr)
			}
			if high > base+memBound(150) {
				t.Errorf("front RSS peaked at %.0f MiB, baseline %.0f MiB: more than 150 MiB", high, base)
			}
			// Nothing is left behind: the connections' descriptors and the
			// spool file go (a little slack for the harness's own).
			var now, spools int
			if !waitFor(30*time.Second, func() bool {
				now, spools = fds(pid, "gowsgi-response-")
				return now <= baseFDs+2 && spools == 0
			}) {
				t.Errorf("after the attack: %d descriptors (%d at rest), %d response spool files", now, baseFDs, spools)
			}
		})
	}
}

// attacker opens stalled readers, 10 at a time: HTTP/1.1 connections that
// ask for 4 MB and never read, with a small receive buffer; or an HTTP/2
// connection with a zero window asking for 1 MB on 10 streams.
type attacker struct {
	t     *testing.T
	addr  string
	http1 bool

	mu    sync.Mutex
	conns []net.Conn
	ports map[int]bool // HTTP/1.1 connections' local ports
	heads atomic.Int64 // HTTP/2 response heads
}

func (a *attacker) keep(c net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conns = append(a.conns, c)
	if a.http1 {
		a.ports[c.LocalAddr().(*net.TCPAddr).Port] = true
	}
}

// started counts the attack responses on their way: HTTP/1.1 connections
// with bytes to read, HTTP/2 response heads.
func (a *attacker) started(serverPort int) int {
	if !a.http1 {
		return int(a.heads.Load())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return answered(serverPort, a.ports)
}

func (a *attacker) close() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.conns {
		c.Close()
	}
	return len(a.conns)
}

func (a *attacker) attack() {
	if a.http1 {
		d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		for i := 0; i < 10; i++ {
			c, err := d.Dial("tcp", a.addr)
			if err != nil {
				a.t.Error(err)
				return
			}
			a.keep(c)
			io.WriteString(c, "GET /cl?declared=4000000&actual=4000000 HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		return
	}
	c, fr, err := h2cDial(a.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	if err != nil {
		a.t.Error(err)
		return
	}
	a.keep(c)
	// Count response heads; never open a window.
	go readStatuses(fr, func(string) { a.heads.Add(1) })
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for k := 0; k < 10; k++ {
		buf.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/cl?declared=1000000&actual=1000000"}, {":authority", "localhost"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*k + 1), BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			a.t.Error(err)
			return
		}
	}
}
