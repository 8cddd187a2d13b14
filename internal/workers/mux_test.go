package workers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// A fake ASGI worker speaks the mux as asgi.py does: one socket, every
// slot's frames in M frames, credit in N frames; each request runs on a
// goroutine of its own (the worker's tasks).

type fakeMux struct {
	t    *testing.T
	conn *net.UnixConn
	proc *fakeProc

	wmu sync.Mutex // one write at a time

	mu         sync.Mutex
	cond       *sync.Cond
	unacked    map[uint32]int // per slot: bytes sent, not acknowledged
	window     map[uint32]int // per slot: the window, muxFloor at each request, grown by N frames
	maxUnacked int
	maxWindow  int  // the largest window any slot had
	overWindow int  // the most a frame that went put the slot past its window (the rule's one frame)
	badCredit  bool // an N frame took a slot's unacknowledged bytes below zero
	closed     bool
	waited     chan uint32       // a sender on this slot found no credit
	ws         map[uint32][]byte // per slot: the WebSocket messages received and not taken
	wsCount    map[uint32]int    // and how many
	wsCost     map[uint32]int    // their cost
	bodies     map[string][]byte // /upload?name: the request bodies read from descriptors
	gate       map[string]chan struct{}
	aborted    map[uint32]uint32 // per slot: the last request id an A frame stopped
	bodyEnded  map[uint32]uint32 // per slot: the last request id whose streamed body ended (E from Go)
}

func newFakeMuxWorker(t *testing.T, p *Pool, id, n int) (*Worker, *fakeMux) {
	proc := &fakeProc{pid: 200000 + id, exited: make(chan struct{})}
	w := &Worker{ID: id, PID: proc.pid, proc: proc, pool: p, asgi: true}
	parent, child, err := socketpairs(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.attach(parent); err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, f := range child {
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	w.mx = newMux(w, w.slots[0].conn, n)
	w.slots = w.mx.slots
	fm := &fakeMux{t: t, conn: conns[1], proc: proc, unacked: map[uint32]int{}, window: map[uint32]int{}, waited: make(chan uint32, 1024),
		ws: map[uint32][]byte{}, wsCount: map[uint32]int{}, wsCost: map[uint32]int{}, bodies: map[string][]byte{}, gate: map[string]chan struct{}{}, aborted: map[uint32]uint32{}, bodyEnded: map[uint32]uint32{}}
	fm.cond = sync.NewCond(&fm.mu)
	go fakeControl(conns[0], nil, proc)
	go fm.read()
	go func() {
		<-proc.Exited()
		conns[0].Close()
		fm.conn.Close()
		w.closeConns()
	}()
	t.Cleanup(func() { proc.exit("exit status 0") })
	return w, fm
}

func (fm *fakeMux) gateFor(name string) chan struct{} {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	c := fm.gate[name]
	if c == nil {
		c = make(chan struct{})
		fm.gate[name] = c
	}
	return c
}

// read parses the mux: M frames' inner frames start requests (on their
// own goroutines) or queue WebSocket messages; N frames add credit.
func (fm *fakeMux) read() {
	var buf []byte
	var fds []*os.File
	tmp := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*16))
	defer func() {
		fm.mu.Lock()
		fm.closed = true
		fm.cond.Broadcast()
		fm.mu.Unlock()
	}()
	for {
		n, oobn, _, _, err := fm.conn.ReadMsgUnix(tmp, oob)
		if oobn > 0 {
			fds = appendRights(fds, oob[:oobn])
		}
		if err != nil || n == 0 {
			return
		}
		buf = append(buf, tmp[:n]...)
		for len(buf) >= wire.HeaderSize {
			h, _ := wire.ParseHeader(buf)
			if len(buf) < wire.HeaderSize+h.Len {
				break
			}
			payload := buf[wire.HeaderSize : wire.HeaderSize+h.Len]
			switch h.Type {
			case wire.Credit:
				fm.mu.Lock()
				fm.unacked[h.ID] -= int(binary.LittleEndian.Uint32(payload))
				if fm.unacked[h.ID] < 0 {
					fm.badCredit = true
				}
				if len(payload) >= 8 {
					fm.window[h.ID] += int(binary.LittleEndian.Uint32(payload[4:]))
					fm.maxWindow = max(fm.maxWindow, fm.window[h.ID])
				}
				fm.cond.Broadcast()
				fm.mu.Unlock()
			case wire.Mux:
				for len(payload) > 0 {
					ih, _ := wire.ParseHeader(payload)
					ip := payload[wire.HeaderSize : wire.HeaderSize+ih.Len]
					switch ih.Type {
					case wire.Request:
						path := envValue(ip, "PATH_INFO") + "?" + envValue(ip, "QUERY_STRING")
						var body []byte
						if strings.HasPrefix(path, "/upload") {
							f := fds[0]
							fds = fds[1:]
							body, _ = io.ReadAll(f)
							f.Close()
						}
						// As the shim does when a request starts: the
						// window at its floor, nothing unacknowledged.
						fm.mu.Lock()
						fm.unacked[h.ID], fm.window[h.ID] = 0, muxFloor
						fm.maxWindow = max(fm.maxWindow, muxFloor)
						fm.mu.Unlock()
						go fm.serve(h.ID, ih.ID, path, body)
					case wire.Abort:
						fm.mu.Lock()
						fm.aborted[h.ID] = ih.ID
						fm.mu.Unlock()
					case wire.End: // a streamed body is complete
						fm.mu.Lock()
						fm.bodyEnded[h.ID] = ih.ID
						fm.cond.Broadcast()
						fm.mu.Unlock()
					case wire.WSText, wire.WSBinary, wire.Body: // a streamed body's pieces count as messages do
						fm.mu.Lock()
						fm.ws[h.ID] = append(fm.ws[h.ID], ip...)
						fm.wsCount[h.ID]++
						fm.wsCost[h.ID] += wsCost(len(ip))
						fm.cond.Broadcast()
						fm.mu.Unlock()
					}
					payload = payload[wire.HeaderSize+ih.Len:]
				}
			}
			buf = buf[wire.HeaderSize+h.Len:]
		}
	}
}

// send writes frames (whole, of one slot) in an M frame, within the
// slot's credit, with fd when not -1: as the shim, when they fit what is
// left of the window, or less than a quarter of it is unacknowledged.
func (fm *fakeMux) send(slot uint32, frames []byte, fd int) error {
	fm.mu.Lock()
	told := false
	for fm.unacked[slot]+len(frames) > fm.window[slot] && 4*fm.unacked[slot] >= fm.window[slot] && !fm.closed {
		if !told {
			told = true
			fm.waited <- slot
		}
		fm.cond.Wait()
	}
	if fm.closed {
		fm.mu.Unlock()
		return io.EOF
	}
	fm.unacked[slot] += len(frames)
	fm.maxUnacked = max(fm.maxUnacked, fm.unacked[slot])
	fm.overWindow = max(fm.overWindow, fm.unacked[slot]-fm.window[slot])
	fm.mu.Unlock()
	m := append(wire.AppendHeader(nil, wire.Mux, slot, len(frames)), frames...)
	fm.wmu.Lock()
	defer fm.wmu.Unlock()
	if fd >= 0 {
		_, _, err := fm.conn.WriteMsgUnix(m, unix.UnixRights(fd), nil)
		return err
	}
	_, err := fm.conn.Write(m)
	return err
}

func frame(t wire.Type, id uint32, p []byte) []byte {
	return append(wire.AppendHeader(nil, t, id, len(p)), p...)
}

func (fm *fakeMux) serve(slot, id uint32, path string, body []byte) {
	path, query, _ := strings.Cut(path, "?")
	switch path {
	case "/stream": // n frames of 64 KiB
		n, _ := strconv.Atoi(query)
		fm.send(slot, frame(wire.Start, id, fakeHead), -1)
		block := bytes.Repeat([]byte("x"), 64<<10)
		for i := 0; i < n; i++ {
			if fm.send(slot, frame(wire.Body, id, block), -1) != nil {
				return
			}
		}
		fm.send(slot, frame(wire.End, id, nil), -1)
	case "/big": // n MiB, in frames of half the window as the shim makes them
		n, _ := strconv.Atoi(query)
		fm.send(slot, frame(wire.Start, id, fakeHead), -1)
		block := bytes.Repeat([]byte("y"), muxWindow/2)
		for left := n << 20; left > 0; {
			fm.mu.Lock()
			k := min(left, fm.window[slot]/2, len(block))
			stop := fm.aborted[slot] == id
			fm.mu.Unlock()
			if stop {
				break
			}
			if fm.send(slot, frame(wire.Body, id, block[:k]), -1) != nil {
				return
			}
			left -= k
		}
		fm.send(slot, frame(wire.End, id, nil), -1)
	case "/short": // 20 KiB in small frames, then one of 60 KiB: it waits for their acknowledgement
		fm.send(slot, frame(wire.Start, id, fakeHead), -1)
		for i := 0; i < 5; i++ {
			fm.send(slot, frame(wire.Body, id, bytes.Repeat([]byte("s"), 4<<10)), -1)
		}
		fm.send(slot, frame(wire.Body, id, bytes.Repeat([]byte("L"), 60<<10)), -1)
		fm.send(slot, frame(wire.End, id, nil), -1)
	case "/file":
		f, err := os.CreateTemp(fm.t.TempDir(), "file")
		if err != nil {
			panic(err)
		}
		f.WriteString("from a descriptor " + query)
		defer f.Close()
		p := append(append([]byte(nil), fakeHead...), make([]byte, 16)...)
		binary.LittleEndian.PutUint64(p[len(p)-8:], uint64(len("from a descriptor "+query)))
		fm.send(slot, frame(wire.File, id, p), int(f.Fd()))
	case "/upload":
		fm.send(slot, frame(wire.Whole, id, append(append([]byte(nil), fakeHead...), body...)), -1)
	case "/block":
		<-fm.gateFor(query)
		fm.send(slot, frame(wire.Whole, id, append(append([]byte(nil), fakeHead...), "released "+query...)), -1)
	case "/die": // answers, then the worker's end closes at once
		fm.send(slot, frame(wire.Whole, id, append(append([]byte(nil), fakeHead...), "last words"...)), -1)
		fm.conn.Close()
	case "/bodystream": // asks for its body when gate want-NAME opens, answers when answer-NAME does
		<-fm.gateFor("want-" + query)
		fm.wmu.Lock()
		fm.conn.Write(binary.LittleEndian.AppendUint32(wire.AppendHeader(nil, wire.BodyWanted, slot, 4), id))
		fm.wmu.Unlock()
		<-fm.gateFor("answer-" + query)
		fm.send(slot, frame(wire.Whole, id, append(append([]byte(nil), fakeHead...), "answered "+query...)), -1)
	case "/ws":
		accept := []byte{'(', 2, 0, 0, 0, 'u', 0, 0, 0, 0, '[', 0, 0, 0, 0}
		fm.send(slot, frame(wire.WSAccept, id, accept), -1)
	default:
		fm.send(slot, frame(wire.Whole, id, append(append([]byte(nil), fakeHead...), "ok "+path+" "+query...)), -1)
	}
}

// takeWS acknowledges every WebSocket message queued on slot, as the
// app's receive() would, and returns them.
func (fm *fakeMux) takeWS(slot uint32) []byte {
	fm.mu.Lock()
	got, cost := fm.ws[slot], fm.wsCost[slot]
	fm.ws[slot], fm.wsCost[slot], fm.wsCount[slot] = nil, 0, 0
	fm.mu.Unlock()
	if cost > 0 {
		fm.wmu.Lock()
		fm.conn.Write(binary.LittleEndian.AppendUint32(wire.AppendHeader(nil, wire.Credit, slot, 4), uint32(cost)))
		fm.wmu.Unlock()
	}
	return got
}

func startFakeMuxPool(t *testing.T, o Options) (*fakePool, *fakeMux) {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o.Workers, o.Threads = 1, 1
	fp := &fakePool{Pool: New(o)}
	var fm *fakeMux
	ready := make(chan struct{})
	fp.spawnFn = func(ctx context.Context, id int) (*Worker, error) {
		fp.mu.Lock()
		defer fp.mu.Unlock()
		w, m := newFakeMuxWorker(t, fp.Pool, id, fp.limitConcurrency())
		if fm == nil {
			fm = m
			close(ready)
		}
		fp.spawned = append(fp.spawned, w)
		return w, nil
	}
	if err := fp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fp.Stop(time.Second) })
	<-ready
	return fp, fm
}

// TestMuxManyRequests: requests in flight at once on one worker share its
// one socket, each answered on its own slot.
func TestMuxManyRequests(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 64})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path := "/hello?" + strconv.Itoa(i)
			x, resp, err := send(t, fp.Pool, path)
			if err != nil {
				errs <- err
				return
			}
			defer x.Close()
			body, err := readAll(x, resp)
			if want := "ok /hello " + strconv.Itoa(i); err != nil || string(body) != want {
				errs <- fmt.Errorf("%s: %q %v, want %q", path, body, err, want)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(fp.spawned[0].slots) != 64 || fp.spawned[0].mx == nil {
		t.Errorf("%d slots, mux %v", len(fp.spawned[0].slots), fp.spawned[0].mx)
	}
	_ = fm
}

// TestMuxCreditBoundsAStream: a response its reader does not take stops
// the worker's sends once the front's buffer and the slot's window are
// full, while other requests on the same worker are answered; read on, it
// arrives whole, and the worker never had more than a window (and a
// frame) unacknowledged.
func TestMuxCreditBoundsAStream(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 8, ResponseBuffer: 256 << 10})
	const frames = 64
	x, resp, err := send(t, fp.Pool, "/stream?"+strconv.Itoa(frames))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	select {
	case <-fm.waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker's sends never waited for credit")
	}
	// Head-of-line: the worker answers others meanwhile.
	x2, resp2, err := send(t, fp.Pool, "/other")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := readAll(x2, resp2); err != nil || string(b) != "ok /other " {
		t.Fatalf("another request while a stream waits: %q %v", b, err)
	}
	x2.Close()
	body, err := readAll(x, resp)
	if err != nil || len(body) != frames*64<<10 {
		t.Fatalf("stream: %d bytes, %v", len(body), err)
	}
	fm.mu.Lock()
	most := fm.maxUnacked
	fm.mu.Unlock()
	if most > muxWindow+wire.HeaderSize+64<<10 {
		t.Errorf("the worker had %d bytes unacknowledged, past the window %d and a frame", most, muxWindow)
	}
	if fm.overWindow > wire.HeaderSize+64<<10 || fm.badCredit {
		t.Errorf("a frame took the slot %d bytes past its window (credit below zero: %v)", fm.overWindow, fm.badCredit)
	}
}

// TestMuxDescriptors: a descriptor travels with the frame that needs it,
// both ways: a spooled request body (R), a response file (F).
func TestMuxDescriptors(t *testing.T) {
	fp, _ := startFakeMuxPool(t, Options{LimitConcurrency: 8})
	for i := 0; i < 3; i++ {
		x, resp, err := send(t, fp.Pool, "/file?"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if resp.File == nil {
			t.Fatalf("no file: %+v", resp)
		}
		b := make([]byte, resp.FileLength)
		resp.File.ReadAt(b, resp.FileOffset)
		resp.File.Close()
		x.Close()
		if want := "from a descriptor " + strconv.Itoa(i); string(b) != want {
			t.Errorf("file %q, want %q", b, want)
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("a spooled body")
	f.Seek(0, 0)
	defer f.Close()
	var env wire.Environ
	env.Reset(nil)
	env.Add("PATH_INFO", "/upload")
	env.Add("QUERY_STRING", "")
	x, err := fp.Send(context.Background(), &Request{Environ: &env, BodyFile: f, Method: "POST", Target: "/upload", Proto: "HTTP/1.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	resp, err := x.Head(func(string, string) {})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := readAll(x, resp); err != nil || string(b) != "a spooled body" {
		t.Errorf("upload: %q %v", b, err)
	}
}

// wsExchange opens a WebSocket exchange on the fake worker.
func wsExchange(t *testing.T, p *Pool) *Exchange {
	t.Helper()
	var env wire.Environ
	env.Reset(nil)
	env.Add("PATH_INFO", "/ws")
	env.Add("QUERY_STRING", "")
	x, err := p.Send(context.Background(), &Request{Environ: &env, Method: "GET", Target: "/ws", Proto: "HTTP/1.1"})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := x.WebSocketAnswer(func(string, string) {})
	if err != nil || !ans.Accepted {
		t.Fatalf("websocket answer %+v %v", ans, err)
	}
	return x
}

// TestMuxWebSocketCredit: messages to an application that does not
// receive stop at the window (16 small ones); once it receives, the rest
// go; and a sender waiting for credit is let go when the worker dies.
func TestMuxWebSocketCredit(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 8})
	x := wsExchange(t, fp.Pool)
	slot := uint32(x.t.slot.index)
	sent := make(chan int, 100)
	go func() {
		for i := 0; i < 40; i++ {
			if err := x.WSSend(wire.WSText, []byte("m")); err != nil {
				sent <- -1
				return
			}
			sent <- i
		}
	}()
	for i := 0; i < wsWindow/wsMinCost; i++ {
		if got := <-sent; got != i {
			t.Fatalf("message %d: %d", i, got)
		}
	}
	fm.mu.Lock()
	for fm.wsCount[slot] < wsWindow/wsMinCost {
		fm.cond.Wait()
	}
	fm.mu.Unlock()
	select {
	case i := <-sent:
		t.Fatalf("message %d sent past the window", i)
	default:
	}
	if got := fm.takeWS(slot); len(got) != wsWindow/wsMinCost {
		t.Fatalf("received %q", got)
	}
	for i := wsWindow / wsMinCost; i < 2*wsWindow/wsMinCost; i++ {
		if got := <-sent; got != i {
			t.Fatalf("message %d after the credit: %d", i, got)
		}
	}
	// The worker dies with a sender waiting.
	fm.proc.exit("signal: killed")
	for {
		if got := <-sent; got == -1 {
			break
		}
	}
	_, _, err := x.WSRead()
	var we *WorkerError
	if !errors.As(err, &we) {
		t.Fatalf("WSRead after the worker died: %v", err)
	}
}

// TestMuxWorkerGone: the worker's end closing fails every request on it
// with a WorkerError, and nothing waits.
func TestMuxWorkerGone(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 8})
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func(i int) {
			_, _, err := send(t, fp.Pool, "/block?"+strconv.Itoa(i))
			errs <- err
		}(i)
	}
	waitUntil(t, "three requests on the worker", func() bool { return fp.spawned[0].busy.Load() == 3 })
	fm.conn.Close()
	for i := 0; i < 3; i++ {
		err := <-errs
		var we *WorkerError
		if !errors.As(err, &we) || !errors.Is(err, ErrWorkerGone) {
			t.Errorf("request on a dead mux: %v", err)
		}
	}
}

// TestMuxProtocolError: an M frame for a slot the worker does not have
// gets it killed.
func TestMuxProtocolError(t *testing.T) {
	_, fm := startFakeMuxPool(t, Options{LimitConcurrency: 8})
	fm.wmu.Lock()
	fm.conn.Write(frame(wire.Mux, 8, frame(wire.End, 1, nil)))
	fm.wmu.Unlock()
	select {
	case <-fm.proc.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("the worker was not killed after a frame for slot 8 of 8")
	}
}

// TestMuxWebSocketClientGone: a message waiting for the application's
// credit gives up when the client's connection is dropped, and one for an
// application that has returned is dropped at once.
func TestMuxWebSocketClientGone(t *testing.T) {
	fp, _ := startFakeMuxPool(t, Options{LimitConcurrency: 8})
	x := wsExchange(t, fp.Pool)
	gone := make(chan struct{})
	x.WSClientGone(gone)
	for i := 0; i < wsWindow/wsMinCost; i++ {
		if err := x.WSSend(wire.WSBinary, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- x.WSSend(wire.WSBinary, []byte("m")) }()
	select {
	case err := <-errc:
		t.Fatalf("a message past the window went: %v", err)
	default:
	}
	close(gone)
	if err := <-errc; !errors.Is(err, ErrClientGone) {
		t.Fatalf("WSSend once the client was gone: %v", err)
	}
	// The application returns: a message then is dropped, not waited on.
	x.wsGone = nil
	close(x.wsEnd)
	if err := x.WSSend(wire.WSBinary, []byte("m")); err != nil {
		t.Fatalf("WSSend after the application returned: %v", err)
	}
}

// TestMuxAnswerBeforeDeath: what the worker wrote just before its end
// closed still reaches the request (its slot reads its inbox before the
// end of the stream).
func TestMuxAnswerBeforeDeath(t *testing.T) {
	fp, _ := startFakeMuxPool(t, Options{LimitConcurrency: 8})
	var env wire.Environ
	env.Reset(nil)
	env.Add("PATH_INFO", "/die")
	env.Add("QUERY_STRING", "")
	x, err := fp.Send(context.Background(), &Request{Environ: &env, Method: "GET", Target: "/die", Proto: "HTTP/1.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	<-fp.spawned[0].mx.dead // the answer waits in the inbox of a mux that has ended
	resp, err := x.Head(func(string, string) {})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := readAll(x, resp); err != nil || string(b) != "last words" {
		t.Fatalf("%q %v", b, err)
	}
}

// readUntil reads the body of x until cond holds (checked after each
// piece), and returns the bytes read.
func readUntil(t *testing.T, x *Exchange, resp *Response, cond func() bool) int {
	t.Helper()
	n := len(resp.Body)
	for !cond() {
		b, _, err := x.Next()
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		n += len(b)
	}
	return n
}

// TestMuxWindowGrowsWithBudget: a slot's window starts each request at the
// floor; while its reader keeps up it grows, up to muxWindow, with bytes
// taken from the response memory budget, and every frame stays within it;
// the growth goes back to the budget when the response ends, and the
// slot's next request starts at the floor again (no credit of the one
// before carries over: the worker's count never goes below zero).
func TestMuxWindowGrowsWithBudget(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 1})
	for round := 0; round < 2; round++ {
		x, resp, err := send(t, fp.Pool, "/big?32")
		if err != nil {
			t.Fatal(err)
		}
		grown := false
		n := readUntil(t, x, resp, func() bool {
			fm.mu.Lock()
			defer fm.mu.Unlock()
			grown = grown || fm.window[0] == muxWindow
			return grown
		})
		if used := fp.ResponseMemory(); used < muxWindow-muxFloor {
			t.Errorf("round %d: the window is %d, the budget has %d taken", round, muxWindow, used)
		}
		body, err := readAll(x, &Response{})
		if err != nil || n+len(body) != 32<<20 {
			t.Fatalf("round %d: %d bytes, %v", round, n+len(body), err)
		}
		x.Close()
		s := fp.spawned[0].slots[0]
		if got := fp.ResponseMemory(); got != 0 || s.window != muxFloor {
			t.Errorf("round %d: after the response, %d bytes of response memory, window %d", round, got, s.window)
		}
	}
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.overWindow > 0 || fm.badCredit || fm.maxWindow != muxWindow {
		t.Errorf("a frame went %d bytes past its window; credit below zero: %v; largest window %d", fm.overWindow, fm.badCredit, fm.maxWindow)
	}
}

// TestMuxWindowOnlyWithBudget: without room in the response memory budget
// the window stays at its floor, and the response still arrives whole (it
// streams at the floor; nothing fails for want of budget).
func TestMuxWindowOnlyWithBudget(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 4, ResponseMemory: 1, ResponseBuffer: 1 << 20,
		ResponseSpool: 1 << 30, ResponseSpoolTotal: 1 << 30, TempDir: t.TempDir()})
	x, resp, err := send(t, fp.Pool, "/big?8")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	body, err := readAll(x, resp)
	if err != nil || len(body) != 8<<20 {
		t.Fatalf("%d bytes, %v", len(body), err)
	}
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.maxWindow != muxFloor || fm.overWindow > 0 || fp.ResponseMemory() != 0 {
		t.Errorf("largest window %d (the floor is %d), %d bytes past it, %d bytes of response memory", fm.maxWindow, muxFloor, fm.overWindow, fp.ResponseMemory())
	}
}

// TestMuxWindowGivenBack: a grown window goes back to the budget when its
// response is aborted (the worker ends it) and when the worker dies.
func TestMuxWindowGivenBack(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 4})
	grow := func() (*Exchange, *Slot) {
		x, resp, err := send(t, fp.Pool, "/big?1024")
		if err != nil {
			t.Fatal(err)
		}
		s := x.t.slot
		readUntil(t, x, resp, func() bool {
			fm.mu.Lock()
			defer fm.mu.Unlock()
			return fm.window[uint32(s.index)] == muxWindow
		})
		return x, s
	}
	x, _ := grow()
	x.Abort()
	x.Close()
	waitUntil(t, "the aborted response's window given back", func() bool { return fp.ResponseMemory() == 0 })

	x, _ = grow()
	if fp.ResponseMemory() < muxWindow-muxFloor {
		t.Fatalf("the window grew, %d bytes of response memory", fp.ResponseMemory())
	}
	fm.proc.exit("signal: killed")
	for {
		if _, _, err := x.Next(); err != nil {
			var we *WorkerError
			if !errors.As(err, &we) {
				t.Fatalf("after the worker died: %v", err)
			}
			break
		}
	}
	x.Close()
	if got := fp.ResponseMemory(); got != 0 {
		t.Errorf("%d bytes of response memory after the worker died", got)
	}
}

// TestMuxWebSocketWorkerTotal: WebSockets whose application does not
// receive hold, all together, at most wsWorkerCredit of the worker's
// credit beyond one message each; a WebSocket whose application receives
// still gets its messages through while the others hold the total, and
// what it gives back lets the waiting ones go on.
func TestMuxWebSocketWorkerTotal(t *testing.T) {
	const n = wsWorkerCredit/wsWindow + 4 // more WebSockets than the total fills
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: n})
	msg := bytes.Repeat([]byte("m"), wsMinCost-wire.HeaderSize) // costs wsMinCost
	var sent sync.WaitGroup
	slots := make([]uint32, n)
	for i := range n {
		x := wsExchange(t, fp.Pool)
		slots[i] = uint32(x.t.slot.index)
		sent.Add(1)
		go func() {
			defer sent.Done()
			for range wsWindow / wsMinCost * 2 { // more than its window holds
				if x.WSSend(wire.WSBinary, msg) != nil {
					return
				}
			}
		}()
	}
	count := func() int {
		fm.mu.Lock()
		defer fm.mu.Unlock()
		c := 0
		for _, s := range slots {
			c += fm.wsCount[s]
		}
		return c
	}
	// One message each goes without the total; the total takes
	// wsWorkerCredit/wsMinCost more; each WebSocket holds at most its
	// window (n of them could hold more than that).
	want := n + wsWorkerCredit/wsMinCost
	if n*wsWindow/wsMinCost <= want {
		t.Fatalf("the test needs more WebSockets than the total holds")
	}
	waitUntil(t, fmt.Sprintf("%d messages in the worker", want), func() bool { return count() >= want })
	fm.mu.Lock()
	for _, s := range slots {
		if fm.wsCount[s] == 0 {
			t.Errorf("WebSocket on slot %d got no message", s)
		}
	}
	fm.mu.Unlock()
	if got := count(); got > want {
		t.Errorf("%d messages in flight to the worker, past the total (%d)", got, want)
	}
	// The application on the first slot receives its k messages: they are
	// acknowledged, its next message goes at once (its floor), and the
	// rest of what it gave back lets k-1 waiting messages go: as many in
	// flight as before.
	k := len(fm.takeWS(slots[0])) / len(msg)
	if k < 1 {
		t.Fatalf("the first WebSocket had %d messages", k)
	}
	waitUntil(t, "messages after one application received", func() bool { return count() >= want })
	if got := count(); got > want {
		t.Errorf("%d messages in flight to the worker after %d were received, past the total (%d)", got, k, want)
	}
	fm.mu.Lock()
	first := fm.wsCount[slots[0]]
	fm.mu.Unlock()
	if first == 0 {
		t.Errorf("the receiving WebSocket got nothing after it gave its credit back")
	}
	fm.proc.exit("signal: killed") // the senders waiting for credit end
	sent.Wait()
}

// TestMuxLazyAcknowledgementGoes: an acknowledgement the front holds back
// (the worker had less than half its window in flight) still goes once
// the slot's reader waits for more, so a worker that needs it (its next
// frame does not fit) is let go on.
func TestMuxLazyAcknowledgementGoes(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 4})
	done := make(chan error, 1)
	go func() {
		x, resp, err := send(t, fp.Pool, "/short")
		if err != nil {
			done <- err
			return
		}
		defer x.Close()
		body, err := readAll(x, resp)
		if err == nil && len(body) != 80<<10 {
			err = fmt.Errorf("%d bytes", len(body))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker never got the acknowledgement its last frame waited for")
	}
	select {
	case <-fm.waited: // the last frame did wait for it
	default:
		t.Error("the last frame did not wait for credit: the test tests nothing")
	}
}
