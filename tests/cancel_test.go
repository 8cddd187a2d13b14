package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A client that goes away cancels its request wherever the request is
// (issue 15): these tests attack the server the way the attack kit
// did and check what the application ran.

// h2Flood is an HTTP/2 attacker on n h2c (prior knowledge) connections:
// every stream is a HEADERS frame for path(conn, stream) followed, in the
// same write, by what gets it reset: RST_STREAM from the client (rapid
// reset, CVE-2023-44487), or with forced a WINDOW_UPDATE of 0 on the
// stream, which makes the server reset it. A connection the server closes
// (GOAWAY) is opened again. Stop ends it and returns the streams sent.
type h2Flood struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	streams atomic.Int64
	conns   atomic.Int64
	mu      sync.Mutex
	open    map[net.Conn]bool
}

func startH2Flood(t testing.TB, addr string, n int, forced bool, path func(conn int, id uint32) string) *h2Flood {
	f := &h2Flood{stop: make(chan struct{}), open: map[net.Conn]bool{}}
	for i := 0; i < n; i++ {
		f.wg.Add(1)
		go func(conn int) {
			defer f.wg.Done()
			for !f.stopped() {
				f.attack(addr, conn, forced, path)
			}
		}(i)
	}
	return f
}

func (f *h2Flood) stopped() bool {
	select {
	case <-f.stop:
		return true
	default:
		return false
	}
}

// Stop ends the attack, closing its connections, and returns the number
// of streams it opened.
func (f *h2Flood) Stop() int64 {
	close(f.stop)
	f.mu.Lock()
	for c := range f.open {
		c.Close() // a write blocked on a full socket returns
	}
	f.mu.Unlock()
	f.wg.Wait()
	return f.streams.Load()
}

// attack runs one connection until the server drops it or the flood stops.
func (f *h2Flood) attack(addr string, conn int, forced bool, path func(int, uint32) string) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	f.mu.Lock()
	if f.stopped() {
		f.mu.Unlock()
		c.Close()
		return
	}
	f.open[c] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.open, c)
		f.mu.Unlock()
		c.Close()
	}()
	f.conns.Add(1)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	bw := bufio.NewWriterSize(c, 16<<10)
	io.WriteString(bw, http2.ClientPreface)
	wr := http2.NewFramer(bw, nil)
	wr.AllowIllegalWrites = true // a WINDOW_UPDATE of 0
	wr.WriteSettings()
	bw.Flush()
	// The reader acknowledges the server's SETTINGS (through acks, since
	// only this goroutine writes) and notices the end of the connection.
	acks := make(chan struct{}, 4)
	dead := make(chan struct{})
	go func() {
		defer close(dead)
		rd := http2.NewFramer(nil, c)
		for {
			fr, err := rd.ReadFrame()
			if err != nil {
				return
			}
			switch fr := fr.(type) {
			case *http2.SettingsFrame:
				if !fr.IsAck() {
					acks <- struct{}{}
				}
			case *http2.GoAwayFrame:
				return
			}
		}
	}()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for id := uint32(1); id < 1<<20; id += 2 {
		select {
		case <-f.stop:
			return
		case <-dead:
			return
		case <-acks:
			wr.WriteSettingsAck()
		default:
		}
		hb.Reset()
		for _, h := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", path(conn, id)}, {":authority", "localhost"}} {
			enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
		}
		wr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
		if forced {
			wr.WriteWindowUpdate(id, 0)
		} else {
			wr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		if err := bw.Flush(); err != nil {
			return
		}
		f.streams.Add(1)
	}
}

// mixedLegit sends requests one after the other until stopped, each with
// a legitBudget, over HTTP/2 and HTTP/1.1 in turn, and counts the answers
// that came in time (bounds_test.go's legitClient speaks HTTP/1.1 only).
type mixedLegit struct {
	stop     chan struct{}
	done     chan struct{}
	sent, ok atomic.Int64
	failures []string
}

func startMixedLegit(s *Server) *mixedLegit {
	l := &mixedLegit{stop: make(chan struct{}), done: make(chan struct{})}
	h2 := h2Client(nil, "")
	h2.Timeout = legitBudget
	h1 := &http.Client{Timeout: legitBudget}
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			c := h1
			if i%2 == 0 {
				c = h2
			}
			l.sent.Add(1)
			resp, err := c.Get(s.URL("/"))
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr == nil && resp.StatusCode == 200 && string(b) == "hello from probe\n" {
					l.ok.Add(1)
					continue
				}
				err = fmt.Errorf("%d %q %v", resp.StatusCode, b, rerr)
			}
			if len(l.failures) < 10 {
				l.failures = append(l.failures, err.Error())
			}
		}
	}()
	return l
}

func (l *mixedLegit) Stop() (sent, ok int64) {
	close(l.stop)
	<-l.done
	return l.sent.Load(), l.ok.Load()
}

// entered counts the probe's markers NAME.entered whose name starts with
// prefix: the requests of that kind the application started.
func (p *probeState) entered(prefix string) int {
	m, _ := filepath.Glob(filepath.Join(p.Dir, prefix+"*.entered"))
	return len(m)
}

// enteredAfter counts the markers NAME.entered, NAME starting with prefix,
// written after t: requests the application started after then.
func (p *probeState) enteredAfter(prefix string, t time.Time) int {
	m, _ := filepath.Glob(filepath.Join(p.Dir, prefix+"*.entered"))
	n := 0
	for _, f := range m {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(t) {
			n++
		}
	}
	return n
}

// drain makes sure every request the server accepted before it has been
// dispatched and finished: a wave of requests, one per slot and more,
// each of which waits behind whatever was queued before it.
func drain(t *testing.T, s *Server, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(s.URL("/sleep?s=0.01"))
			if err != nil {
				t.Errorf("drain request: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
}

// rssBoundMiB bounds the front's memory under the floods below: it idles
// near 20 MiB, and Go's HTTP/2 server bounds what each connection holds.
const rssBoundMiB = 256

// testH2Flood runs one flood variant for 3 s against 2 workers × 2
// threads while a legitimate client keeps asking, then checks what the
// application ran. Each attack stream asks for /sleep?s=0.05 with a mark
// of its own.
func testH2Flood(t *testing.T, forced bool) {
	s, p := StartProbe(t, "--http2-cleartext", "both", "-w", "2", "--threads", "2")
	rss := peakRSS(t, s.Cmd.Process.Pid)
	legit := startMixedLegit(s)
	flood := startH2Flood(t, s.Addr, 4, forced, func(conn int, id uint32) string {
		return fmt.Sprintf("/sleep?s=0.05&mark=atk-%d-%d", conn, id)
	})
	// The attack runs until the legitimate client has made 60 requests
	// (at least 3 s), bounded at 20 s.
	deadline := time.Now().Add(20 * time.Second)
	attackEnd := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && (time.Now().Before(attackEnd) || legit.sent.Load() < 60) {
		time.Sleep(50 * time.Millisecond)
	}
	sent, ok := legit.Stop()
	streams := flood.Stop()
	stopped := time.Now()
	maxRSS := rss()
	drain(t, s, 8)
	ran := p.entered("atk-")
	// Once the attack's connections are closed every one of its requests
	// is canceled; one that had started may still write its mark in the
	// moments after, so "after" leaves it half a second.
	ranAfter := p.enteredAfter("atk-", stopped.Add(500*time.Millisecond))
	t.Logf("attack: %d streams on %d connections; legitimate client: %d/%d answered within the budget; app ran %d attack requests, %d after the attack; front RSS %.0f MiB at most",
		streams, flood.conns.Load(), ok, sent, ran, ranAfter, maxRSS)
	if streams < 1000 {
		t.Fatalf("the attack sent only %d streams: nothing was tested", streams)
	}
	if sent == 0 || float64(ok) < 0.95*float64(sent) {
		t.Errorf("legitimate client: %d of %d requests answered within %v, want ≥ 95%%; failures: %v", ok, sent, legitBudget, legit.failures)
	}
	if ranAfter != 0 {
		t.Errorf("the app ran %d requests of reset streams after the attack", ranAfter)
	}
	// A request dispatched to an idle slot in the moment before its
	// stream's reset is read starts (none that waits for a slot does);
	// once a connection resets most of its streams, its requests are held
	// until a reset that follows at once has been read.
	if limit := 100; ran > limit {
		t.Errorf("the app ran %d requests of reset streams (%d streams), want at most %d", ran, streams, limit)
	}
	if maxRSS > rssBoundMiB {
		t.Errorf("front RSS reached %.0f MiB under the attack, bound %d MiB", maxRSS, rssBoundMiB)
	}
	if n := s.LogCount("request refused"); n > 10 {
		t.Errorf("%d 'request refused' lines under the attack", n)
	}
	// Streams canceled before they reached a worker cost no log line
	// each: the access log has the few that did, the error log a line a
	// second.
	if n := strings.Count(s.Stdout.String(), "mark=atk-"); n > 1000 {
		t.Errorf("%d access log lines for %d attack streams", n, streams)
	}
	if n := s.LogCount("request canceled"); n > 60 {
		t.Errorf("%d 'request canceled' lines in the error log", n)
	}
}

// TestCancelH2RapidReset: HEADERS then RST_STREAM at once, from 4
// connections: the app runs (next to) nothing for the reset streams and a
// legitimate client is served throughout.
func TestCancelH2RapidReset(t *testing.T) { testH2Flood(t, false) }

// TestCancelH2ServerReset: the server-forced variant, WINDOW_UPDATE 0 on
// each stream, which the server answers with RST_STREAM.
func TestCancelH2ServerReset(t *testing.T) { testH2Flood(t, true) }

// TestCancelRefusalLogBounded: a flood of requests the queue cannot take
// (one slot held, --max-queue 1) is answered 503, and the error log says
// so about once a second, not once per request.
func TestCancelRefusalLogBounded(t *testing.T) {
	s, p := StartProbe(t, "--http2-cleartext", "both", "--threads", "1", "--max-queue", "1", "--log-level", "warning")
	hold := sendAsync(t, s.Addr, "GET", "/block?name=held")
	p.WaitEntered("held")
	c := h2Client(nil, "")
	c.Timeout = time.Second // the one that waits in the queue gives up (and leaves it)
	var refused atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 2*time.Second {
				resp, err := c.Get(s.URL("/"))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 503 {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	secs := int(time.Since(start)/time.Second) + 1
	lines := s.LogCount(`msg="request refused"`)
	t.Logf("%d requests refused in %d s; %d log lines", refused.Load(), secs, lines)
	if refused.Load() < 100 {
		t.Fatalf("only %d requests refused: nothing was tested", refused.Load())
	}
	if lines < 1 || lines > secs+1 {
		t.Errorf("%d 'request refused' lines for %d refusals in %d s, want 1 to %d", lines, refused.Load(), secs, secs+1)
	}
	if !strings.Contains(s.Stderr.String(), "refused_unlogged=") {
		t.Errorf("no line counts the refusals it did not log")
	}
	p.Release("held")
	if r := hold.wait(10 * time.Second); r.status != 200 {
		t.Errorf("held request: %+v", r)
	}
}

// TestCancelHTTP1Queued: requests queued behind a busy worker whose
// clients close their connections leave the queue and never run. No
// pipelining: on a loaded machine the first one may come within a
// millisecond of the held request's start, when the slot still counts as
// fast and would take it (not queued; see TestCancelH2Queued too).
func TestCancelHTTP1Queued(t *testing.T) {
	t.Parallel()
	s, p := StartProbe(t, "--threads", "1", "--pipeline-depth", "1", "--log-level", "debug")
	hold := sendAsync(t, s.Addr, "GET", "/block?name=held")
	p.WaitEntered("held")
	const n = 10
	base := s.LogCount(`msg="request queued"`)
	var ps []*pending
	for i := 0; i < n; i++ {
		ps = append(ps, sendAsync(t, s.Addr, "GET", fmt.Sprintf("/sleep?s=0&mark=q%d", i)))
	}
	s.waitQueued(t, base, n, ps...)
	for _, pc := range ps {
		pc.c.Close()
	}
	s.WaitLog(t, `msg="request canceled while queued: the client went away"`, n, 10*time.Second)
	p.Release("held")
	if r := hold.wait(10 * time.Second); r.status != 200 {
		t.Fatalf("held request: %+v", r)
	}
	if resp, body := get(t, s, "GET", "/sleep?s=0&mark=after", nil); resp.StatusCode != 200 || body != "slept" {
		t.Fatalf("after: %d %q", resp.StatusCode, body)
	}
	if k := p.entered("q"); k != 0 {
		t.Errorf("%d of %d requests whose clients had closed ran", k, n)
	}
	if !p.Exists("after.entered") {
		t.Errorf("the request after them did not run")
	}
}

// TestCancelHTTP1Running: a streamed response whose client closes the
// connection (FIN, or a reset) is stopped: the application's iterable is
// closed (the probe leaves a marker), long before it would end.
func TestCancelHTTP1Running(t *testing.T) {
	t.Parallel()
	s, p := StartProbe(t, "--threads", "1")
	for _, reset := range []bool{false, true} {
		name := fmt.Sprintf("run-%v.closed", reset)
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET /tracked?name="+name+"&chunks=100000&delay=0.02 HTTP/1.1\r\nHost: x\r\n\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
			t.Fatalf("head: %q %v", line, err)
		}
		if reset {
			c.(*net.TCPConn).SetLinger(0)
		}
		c.Close()
		p.WaitFile(name, 20*time.Second)
		if resp, body := get(t, s, "GET", "/", nil); resp.StatusCode != 200 || body != "hello from probe\n" {
			t.Fatalf("after: %d %q", resp.StatusCode, body)
		}
	}
}

// TestCancelHTTP1HalfClose: a client that half-closes after its request
// (shutdown(SHUT_WR)) is still answered: a FIN does not cancel a request
// that runs.
func TestCancelHTTP1HalfClose(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t, "--threads", "1")
	c := dialRaw(t, s.Addr)
	defer c.Close()
	io.WriteString(c, "GET /sleep?s=0.2 HTTP/1.1\r\nHost: x\r\n\r\n")
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 200 ") || !strings.HasSuffix(string(b), "slept") {
		t.Fatalf("half-closed client: %q", b)
	}
}

// TestCancelH2Queued: HTTP/2 streams queued behind a busy worker that
// their client resets leave the queue and never run; the connection
// goes on serving.
func TestCancelH2Queued(t *testing.T) {
	t.Parallel()
	s, p := StartProbe(t, "--http2-cleartext", "both", "--threads", "1", "--pipeline-depth", "1", "--log-level", "debug")
	hold := sendAsync(t, s.Addr, "GET", "/block?name=held")
	p.WaitEntered("held")
	fr, _ := h2cConn(t, s.Addr)
	h := newRawH2(fr)
	const n = 5
	base := s.LogCount(`msg="request queued"`)
	for i := 0; i < n; i++ {
		h.writeRequest(t, uint32(1+2*i), "GET", fmt.Sprintf("/sleep?s=0&mark=h2q%d", i), true)
	}
	s.WaitLog(t, `msg="request queued"`, base+n, 10*time.Second)
	for i := 0; i < n; i++ {
		fr.WriteRSTStream(uint32(1+2*i), http2.ErrCodeCancel)
	}
	s.WaitLog(t, `msg="request canceled while queued: the client went away"`, n, 10*time.Second)
	p.Release("held")
	if r := hold.wait(10 * time.Second); r.status != 200 {
		t.Fatalf("held request: %+v", r)
	}
	h.writeRequest(t, 11, "GET", "/sleep?s=0&mark=h2after", true)
	if status, body := h.readStream(t, 11); status != "200" || body != "slept" {
		t.Fatalf("after: %s %q", status, body)
	}
	if k := p.entered("h2q"); k != 0 {
		t.Errorf("%d of %d reset streams ran", k, n)
	}
}
