package tests

// Black-box tests of faults a hostile or unlucky client, or a misbehaving
// app, must not turn into a hang, a lost request or unbounded memory.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// treeRSS is the resident memory, in bytes, of process pid and all its
// descendants (found through the ppid field of /proc/*/stat).
func treeRSS(pid int) int64 {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var total int64
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[0]
		todo = append(todo[1:], children[p]...)
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					total += kb << 10
				}
			}
		}
	}
	return total
}

// Stalled uploads: 300 clients each send all but 576 bytes of a declared
// 1 MiB body and stall. Whatever gowsgi does with the bytes (keep them in
// memory up to a budget, spool them to disk, stop reading), the server and
// its workers must not hold 300 MiB of them in memory.
func TestStalledUploadsMemoryBounded(t *testing.T) {
	const conns, declared, sent = 300, 1048576, 1048000
	s := StartServer(t, probe, "--body-timeout", "60")
	var written atomic.Int64
	var wg sync.WaitGroup
	var dialErrs atomic.Int32
	cs := make([]net.Conn, conns)
	block := make([]byte, 64<<10)
	for i := range block {
		block[i] = 'u'
	}
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		cs[i] = c
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetWriteDeadline(time.Now().Add(60 * time.Second))
			if _, err := fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", declared); err != nil {
				dialErrs.Add(1)
				return
			}
			for left := sent; left > 0; {
				n := min(left, len(block))
				m, err := c.Write(block[:n])
				written.Add(int64(m))
				left -= m
				if err != nil {
					return // a server that stops reading: the write blocks until its deadline
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	// Measure until gowsgi has read everything sent, or until neither the
	// clients nor gowsgi make progress any more (it stopped reading): a
	// second with no change in the bytes written and left unread.
	var peak int64
	lastW, lastU, still := int64(-1), -1, 0
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		peak = max(peak, treeRSS(s.Cmd.Process.Pid))
		w, u := written.Load(), unreadBytes(s.port(), nil)
		select {
		case <-writersDone:
			if u == 0 {
				still = 1000
			}
		default:
		}
		if w == lastW && u == lastU {
			still++
		} else {
			still = 0
		}
		if still >= 10 {
			break
		}
		lastW, lastU = w, u
		time.Sleep(100 * time.Millisecond) // sampling interval of the measurement
	}
	peak = max(peak, treeRSS(s.Cmd.Process.Pid))
	t.Logf("%d MiB written by the clients, %d MiB unread by gowsgi, peak RSS of gowsgi and its workers %d MiB",
		written.Load()>>20, unreadBytes(s.port(), nil)>>20, peak>>20)
	if written.Load() < conns*64<<10 {
		t.Fatalf("only %d bytes could be sent: the test did not stall uploads", written.Load())
	}
	limit := int64(256 << 20)
	if raceBinary {
		limit *= 4 // the race detector's shadow memory, not gowsgi's
	}
	if peak >= limit {
		t.Errorf("with %d stalled uploads of %d bytes, gowsgi and its workers reached %d MiB resident (limit %d MiB)", conns, sent, peak>>20, limit>>20)
	}
	for _, c := range cs {
		c.Close()
	}
	if code, body, err := fetch(&http.Client{Timeout: 20 * time.Second}, s.URL("/")); code != 200 || body != "hello from probe\n" {
		t.Fatalf("after the stalled uploads closed: %d %q %v", code, body, err)
	}
}

// A body sent at 1 byte every 300 ms never pauses longer than
// --body-timeout, but is far below --body-min-rate: gowsgi must answer 408
// (or cut the connection) long before the body would be complete.
func TestSlowBodyCut(t *testing.T) {
	t.Parallel()
	const bodyLen = 60 // at 1 byte per 300 ms: 18 s
	s := StartServer(t, probe, "--body-timeout", "1", "--body-min-rate", "1K")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", bodyLen)
	type answer struct {
		status int
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "POST"})
		if err != nil {
			answered <- answer{err: err}
			return
		}
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode}
	}()
	sentAll := false
	var got answer
	var writeErr error
	for sent := 0; ; {
		select {
		case got = <-answered:
		case <-time.After(300 * time.Millisecond): // the client's pace: the subject of the test
			if sent == bodyLen {
				sentAll = true
				got = <-answered
				break
			}
			if _, err := c.Write([]byte{'s'}); err != nil {
				writeErr = err
				got = <-answered
				break
			}
			sent++
			continue
		}
		break
	}
	if sentAll {
		t.Fatalf("gowsgi waited for the whole %d-byte body sent at 1 byte/300ms (answer %d %v); want 408 or a cut after --body-timeout", bodyLen, got.status, got.err)
	}
	if got.err == nil && got.status != 408 {
		t.Fatalf("slow body answered %d, want 408", got.status)
	}
	t.Logf("ended before the body was complete: status %d, read error %v, write error %v", got.status, got.err, writeErr)
}

// Expect: 100-continue, then no body: the client gets the interim response,
// then 408 once --body-timeout passes, not a connection held open.
func TestExpectContinueNoBody(t *testing.T) {
	t.Parallel()
	s := StartServer(t, probe, "--body-timeout", "1")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim response: %q %v", line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q %v", blank, err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("no final response after 100 Continue and no body (--body-timeout 1): %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 408 {
		t.Fatalf("final response %d, want 408", resp.StatusCode)
	}
}

// BaseException out of the app (SystemExit, KeyboardInterrupt, sys.exit(),
// a close() that raises SystemExit) is an app error like any other: a 500,
// and the thread keeps serving.
func TestBaseExceptionFromApp(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"systemexit", "keyboard", "exit", "close"} {
		t.Run(kind, func(t *testing.T) {
			s := StartServer(t, probe, "-w", "1", "--threads", "1", "--timeout", "0", "--graceful-timeout", "3")
			c := &http.Client{Timeout: 10 * time.Second}
			code, body, err := fetch(c, s.URL("/raise-base?kind="+kind))
			switch {
			case err != nil:
				t.Fatalf("/raise-base?kind=%s: %v (status %d)", kind, err, code)
			case code == 500:
			case kind == "close" && code == 200 && body == "body before a close() that exits":
				// The body was complete before close() raised: sent as is.
			default:
				t.Fatalf("/raise-base?kind=%s: %d %q, want 500", kind, code, body)
			}
			if code, body, err := fetch(c, s.URL("/")); code != 200 || body != "hello from probe\n" {
				t.Fatalf("next request after kind=%s: %d %q %v", kind, code, body, err)
			}
		})
	}
}

// hammer runs n keep-alive clients, each fetching path in a loop with a
// bounded timeout, until stop is closed.
type hammer struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	progress []atomic.Int64
	mu       sync.Mutex
	status   map[int]int
	errs     []string
}

func startHammer(s *Server, n int, path string) *hammer {
	h := &hammer{stop: make(chan struct{}), progress: make([]atomic.Int64, n), status: map[int]int{}}
	for g := 0; g < n; g++ {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-h.stop:
					return
				default:
				}
				code, body, err := fetch(c, s.URL(path))
				h.mu.Lock()
				h.status[code]++
				if (err != nil || code != 200) && len(h.errs) < 10 {
					h.errs = append(h.errs, fmt.Sprintf("%d %q %v", code, body, err))
				}
				h.mu.Unlock()
				h.progress[g].Add(1)
			}
		}()
	}
	return h
}

// advance waits until every client has completed k more requests (bounded).
func (h *hammer) advance(t *testing.T, k int64) {
	t.Helper()
	from := make([]int64, len(h.progress))
	for i := range h.progress {
		from[i] = h.progress[i].Load()
	}
	if !waitFor(60*time.Second, func() bool {
		for i := range h.progress {
			if h.progress[i].Load() < from[i]+k {
				return false
			}
		}
		return true
	}) {
		t.Errorf("the clients did not each complete %d more requests within 60s", k)
	}
}

// end stops the clients and waits for their last requests.
func (h *hammer) end() (map[int]int, []string) {
	close(h.stop)
	h.wg.Wait()
	return h.status, h.errs
}

// Head-of-line: a slow request must not hold up fast ones behind it.
func TestNoHeadOfLineBlocking(t *testing.T) {
	t.Parallel()
	t.Run("held", func(t *testing.T) {
		s, st := StartProbe(t, "-w", "1", "--threads", "4")
		for i := 1; i <= 3; i++ {
			name := fmt.Sprintf("slow%d", i)
			h := startHammer(s, 6, "/")
			h.advance(t, 5)
			slow := sendAsync(t, s.Addr, "GET", "/block?name="+name)
			st.WaitEntered(name)
			h.advance(t, 30)
			status, errs := h.end()
			if status[200] == 0 || len(errs) > 0 {
				t.Fatalf("%s held: fast requests %v, failures %v: some waited behind the held request", name, status, errs)
			}
			if slow.answered() {
				t.Fatalf("%s answered before its release: %+v", name, slow.wait(0))
			}
			st.Release(name)
			if r := slow.wait(20 * time.Second); r.status != 200 || r.body != "released "+name {
				t.Fatalf("%s: %d %q %v", name, r.status, r.body, r.err)
			}
		}
	})
	t.Run("held then timed out", func(t *testing.T) {
		s, st := StartProbe(t, "-w", "1", "--threads", "4", "--timeout", "2")
		h := startHammer(s, 6, "/")
		h.advance(t, 5)
		stuck := sendAsync(t, s.Addr, "GET", "/block?name=stuck")
		st.WaitEntered("stuck")
		s.WaitLog(t, "request timed out", 1, 30*time.Second)
		if r := stuck.wait(20 * time.Second); r.status != 504 {
			t.Errorf("timed-out request: %d %v, want 504", r.status, r.err)
		}
		s.WaitLog(t, "worker ready", 2, 30*time.Second)
		h.advance(t, 10)
		status, errs := h.end()
		if status[502] > 0 || len(errs) > 0 {
			t.Fatalf("fast requests across a timeout of another one: %v, failures %v", status, errs)
		}
	})
}

// --timeout kills the worker of a stuck request, but not before the other
// threads' requests have finished.
func TestTimeoutSparesOtherThreads(t *testing.T) {
	t.Parallel()
	s, st := StartProbe(t, "-w", "1", "--threads", "2", "--timeout", "2")
	a := sendAsync(t, s.Addr, "GET", "/block?name=a")
	st.WaitEntered("a")
	// b streams a byte every 0.2 s while it is held, so it never goes
	// silent for --timeout itself; only a is stuck.
	b := sendAsync(t, s.Addr, "GET", "/block?name=b&beat=0.2")
	st.WaitEntered("b")
	s.WaitLog(t, "request timed out", 1, 30*time.Second)
	if r := a.wait(20 * time.Second); r.status != 504 {
		t.Errorf("stuck request: %d %v, want 504", r.status, r.err)
	}
	st.Release("b")
	if r := b.wait(20 * time.Second); r.status != 200 || r.err != nil || !strings.HasSuffix(r.body, "released b") {
		t.Fatalf("the other thread's request, released after the timeout: %d %q %v", r.status, r.body, r.err)
	}
	s.WaitLog(t, "worker ready", 2, 30*time.Second)
	if code, body, err := fetch(client(), s.URL("/")); code != 200 || body != "hello from probe\n" {
		t.Fatalf("after the replacement: %d %q %v", code, body, err)
	}
}

// A client that stops reading a large response holds a connection, not the
// worker thread: with a single thread, another client is still served.
func TestSlowReaderDoesNotHoldSlot(t *testing.T) {
	t.Parallel()
	const size = 32 << 20
	file := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(file, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"generator":    fmt.Sprintf("/big?n=%d", size),
		"file_wrapper": "/filewrapper?path=" + file,
	} {
		t.Run(name, func(t *testing.T) {
			s := StartServer(t, probe, "-w", "1", "--threads", "1")
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReaderSize(c, 4096)
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("stalled client's head: %v %v", resp, err)
			}
			// Client 1 now reads nothing more.
			if code, body, err := fetch(&http.Client{Timeout: 10 * time.Second}, s.URL("/")); code != 200 || body != "hello from probe\n" {
				t.Fatalf("second client while the first stalls on a %d MiB response: %d %q %v", size>>20, code, body, err)
			}
			// And client 1, reading again, gets all of it.
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || n != size {
				t.Fatalf("stalled client then read %d bytes (%v), want %d", n, err, size)
			}
		})
	}
}

// An endless response the client will never see (HEAD, or past the app's
// own Content-Length) is stopped, and close() called.
func TestEndlessBodyStopped(t *testing.T) {
	t.Parallel()
	s, st := StartProbe(t, "-w", "1", "--threads", "1", "--graceful-timeout", "3")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "HEAD /tracked?chunks=-1&name=head&delay=0.001 HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "HEAD"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD on an endless generator: %v %v", resp, err)
	}
	st.WaitFile("head", 10*time.Second)

	c2, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET /tracked?chunks=-1&name=cl&cl=10&delay=0.001 HTTP/1.1\r\nHost: x\r\n\r\n")
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(c2), &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Content-Length 10, endless body: %v %v", resp, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "xxxxxxxxxx" {
		t.Fatalf("Content-Length 10, endless body: %q %v", b, err)
	}
	st.WaitFile("cl", 10*time.Second)
	if code, body, err := fetch(&http.Client{Timeout: 10 * time.Second}, s.URL("/")); code != 200 || body != "hello from probe\n" {
		t.Fatalf("after: %d %q %v", code, body, err)
	}
}

// Chunk extensions count too: 1-byte chunks each carrying a 4000-byte
// extension must not let a client push gigabytes under --max-body-size 1M.
func TestChunkExtensionsBounded(t *testing.T) {
	t.Parallel()
	s := StartServer(t, probe, "--max-body-size", "1M")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetWriteBuffer(64 << 10)
	answered := make(chan int, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "POST"})
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	chunk := "1;ext=" + strings.Repeat("e", 4000) + "\r\nx\r\n"
	batch := []byte(strings.Repeat(chunk, 16))
	const giveUp, allowed = 64 << 20, 16 << 20
	written := 0
	var werr error
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, werr = io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"); werr != nil {
		t.Fatal(werr)
	}
	status, done := 0, false
	for written < giveUp && werr == nil && !done {
		select {
		case status = <-answered:
			done = true
			continue
		default:
		}
		var n int
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		n, werr = c.Write(batch)
		written += n
	}
	if !done {
		select {
		case status = <-answered:
		case <-time.After(10 * time.Second):
		}
	}
	t.Logf("%d KiB written; answer %d; write error %v", written>>10, status, werr)
	if ne, ok := werr.(net.Error); ok && ne.Timeout() {
		t.Fatalf("gowsgi stopped reading after %d KiB without answering or closing", written>>10)
	}
	if written >= allowed {
		t.Fatalf("gowsgi read %d MiB of 1-byte chunks with 4000-byte extensions under --max-body-size 1M", written>>20)
	}
	if status != 0 && status != 400 && status != 413 {
		t.Fatalf("answer %d, want 400 or 413", status)
	}
}

// Conflicting or repeated Content-Length headers are refused (request
// smuggling), even when the values agree.
func TestDuplicateContentLength(t *testing.T) {
	t.Parallel()
	s := StartServer(t, probe)
	for name, hdr := range map[string]string{
		"list":  "Content-Length: 5, 5\r\n",
		"lines": "Content-Length: 5\r\nContent-Length: 5\r\n",
	} {
		out := raw(t, s.Addr, "POST /echo HTTP/1.1\r\nHost: x\r\n"+hdr+"\r\nhello", 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Errorf("%s: %.80q, want 400", name, out)
		}
	}
}

// --max-memory bounds a fast leak: the worker is stopped while its
// resident memory is still near the limit, not after the request ends.
func TestMaxMemoryBoundsFastLeak(t *testing.T) {
	s, st := StartProbe(t, "-w", "1", "--max-memory", "200")
	before := pidOf(t, s)
	code, body, err := fetch(&http.Client{Timeout: 30 * time.Second}, s.URL("/leak?mb_per_s=300&secs=4"))
	t.Logf("leaking request: %d %q %v", code, body, err)
	if !waitFor(30*time.Second, func() bool {
		code, body, _ := fetch(client(), s.URL("/env"))
		return code == 200 && !strings.Contains(body, fmt.Sprintf(`"_pid": %d,`, before))
	}) {
		t.Fatalf("leaking worker not replaced\n%s", s.Stderr)
	}
	b, err := os.ReadFile(st.Path("leak.peak"))
	if err != nil {
		t.Fatal(err)
	}
	peak, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Logf("the leaking worker reached %d MiB", peak)
	if peak >= 400 {
		t.Fatalf("worker leaking 300 MiB/s reached %d MiB under --max-memory 200 (want < 400)", peak)
	}
}

// A race-detector build of gowsgi through reloads and scaling under light
// load: no data race, exit 0.
func TestRaceBuildReloadAndSignals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gowsgi-race")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-race", "-o", bin, "./cmd/gowsgi")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -race: %v\n%s", err, out)
	}
	app := filepath.Join(dir, "raceapp.py")
	write := func(v string) {
		src := fmt.Sprintf("VERSION = %q\ndef app(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    return [VERSION.encode()]\n", v)
		if err := os.WriteFile(app, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("v0")
	s := startServerBin(t, bin, nil, app, "-w", "2", "--threads", "2", "--reload")
	stop := make(chan struct{})
	r := runLoad(s, 2, func() string { return "/" }, stop, 20*time.Second)
	for i := 1; i <= 2; i++ {
		want := fmt.Sprintf("v%d", i)
		write(want)
		s.WaitLog(t, "changed; reloading", i, 30*time.Second)
		s.WaitLog(t, "reload complete", i, 30*time.Second)
		if !waitFor(20*time.Second, func() bool { _, body, _ := fetch(client(), s.URL("/")); return body == want }) {
			t.Fatalf("edit %d not served", i)
		}
	}
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "reload complete", 3, 30*time.Second)
	s.Signal(syscall.SIGTTIN)
	s.WaitLog(t, "added a worker", 1, 30*time.Second)
	s.Signal(syscall.SIGTTOU)
	s.WaitLog(t, "worker retired", 1, 30*time.Second)
	close(stop)
	r.wait()
	if code := s.Stop(); code != 0 {
		t.Errorf("race build exited %d\n%s", code, s.Stderr)
	}
	if strings.Contains(s.Stderr.String(), "DATA RACE") {
		t.Fatalf("data race:\n%s", s.Stderr)
	}
	if r.status[200] == 0 {
		t.Errorf("no request served: %v %v", r.status, r.errs)
	}
}

// gunicorn's limit_request_field_size: one header field longer than the
// limit (8190 by default) gets 431; the limit can be raised.
func TestHeaderFieldSizeLimit(t *testing.T) {
	t.Parallel()
	long := "X-Long: " + strings.Repeat("a", 8190) + "\r\n"
	s := StartServer(t, probe)
	if out := raw(t, s.Addr, "GET / HTTP/1.1\r\nHost: x\r\n"+long+"\r\n", 5*time.Second); !strings.HasPrefix(out, "HTTP/1.1 431 ") {
		t.Fatalf("a %d-byte field: %.60q, want 431", len(long)-2, out)
	}
	if out := raw(t, s.Addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Short: "+strings.Repeat("a", 8000)+"\r\n\r\n", 5*time.Second); !strings.HasPrefix(out, "HTTP/1.1 200 ") {
		t.Fatalf("an 8 KB field: %.60q, want 200", out)
	}
	big := StartServer(t, probe, "--limit-request-field_size", "20000")
	if out := raw(t, big.Addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"+long+"\r\n", 5*time.Second); !strings.HasPrefix(out, "HTTP/1.1 200 ") {
		t.Fatalf("with the limit raised: %.60q, want 200", out)
	}
}
