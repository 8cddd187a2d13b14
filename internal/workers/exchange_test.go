package workers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// A whole response frees the slot when its head is read, before the caller
// has written anything to the client: the next request gets the only slot.
func TestWholeResponseFreesSlotBeforeItIsRead(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, QueueTimeout: 2 * time.Second})
	x1, r1, err := send(t, p.Pool, "/a")
	if err != nil || !r1.Complete {
		t.Fatalf("first: %v %+v", err, r1)
	}
	x2, r2, err := send(t, p.Pool, "/b")
	if err != nil {
		t.Fatalf("second request waited for the first one's client: %v", err)
	}
	if string(r2.Body) != "ok /b" || string(r1.Body) != "ok /a" {
		t.Fatalf("bodies %q %q", r1.Body, r2.Body)
	}
	x1.Close()
	x2.Close()
}

// A streamed response is taken off the slot as fast as the worker makes
// it, into memory and then a spool file, so a client that reads nothing
// does not hold the slot; the body still arrives whole and in order.
func TestStreamedResponseFreesSlotWhileUnread(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, QueueTimeout: 5 * time.Second,
		ResponseBuffer: 256 << 10, ResponseSpool: 64 << 20, TempDir: t.TempDir()})
	x1, r1, err := send(t, p.Pool, "/stream")
	if err != nil || r1.Complete {
		t.Fatalf("stream head: %v %+v", err, r1)
	}
	x2, r2, err := send(t, p.Pool, "/b")
	if err != nil {
		t.Fatalf("the slot stayed with an unread stream: %v", err)
	}
	x2.Close()
	if string(r2.Body) != "ok /b" {
		t.Fatalf("second body %q", r2.Body)
	}
	body, err := readAll(x1, r1)
	x1.Close()
	if err != nil || len(body) != 64*64<<10 || bytes.Count(body, []byte("x")) != len(body) {
		t.Fatalf("streamed body: %d bytes, %v", len(body), err)
	}
}

// pipeline puts a request behind whatever runs on s, as dispatch does when
// every slot is busy, and returns its exchange.
func pipeline(t *testing.T, p *Pool, s *Slot, path string, revocable bool) *Exchange {
	t.Helper()
	var env wire.Environ
	env.Reset(nil)
	env.Add("PATH_INFO", path)
	env.Add("QUERY_STRING", "")
	req := &Request{Environ: &env, Method: "GET", Target: path, Proto: "HTTP/1.1"}
	frame := env.Frame(0, false)
	if !take(s) {
		t.Fatal("slot not usable")
	}
	s.mu.Lock()
	tk, err := s.issue(frame, nil, nil, revocable)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return &Exchange{p: p, req: req, frame: frame, t: tk, held: true, ctx: context.Background()}
}

// slowRequest is /block?slow running on a fake pool until finish.
type slowRequest struct {
	p    *fakePool
	done chan error
	x    *Exchange // set before done is sent on
}

// startSlow starts /block?slow on p and returns once the fake worker runs
// it.
func startSlow(t *testing.T, p *fakePool) *slowRequest {
	t.Helper()
	r := &slowRequest{p: p, done: make(chan error, 1)}
	go func() {
		x, _, err := send(t, p.Pool, "/block?slow")
		r.x = x
		r.done <- err
	}()
	if got := <-p.routes.entered; got != "/block?slow" {
		t.Fatalf("entered %q", got)
	}
	return r
}

// stillRunning fails the test if the slow request has already ended: what
// was meant to happen behind it then proved nothing.
func (r *slowRequest) stillRunning(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		t.Fatalf("the slow request ended first (%v): nothing was proven", err)
	default:
	}
}

// finish releases the slow request and checks that it was answered.
func (r *slowRequest) finish(t *testing.T) {
	t.Helper()
	close(r.p.routes.gate("slow"))
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.x.Close()
}

// A request pipelined behind one that turns slow is given back by the
// worker, unstarted, and served by another slot while the slow one runs.
func TestPipelinedRequestBehindSlowOneMoves(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 2, PipelineDepth: 8, QueueTimeout: 5 * time.Second})
	slow := startSlow(t, p)
	// The slot the slow request runs on.
	var s *Slot
	for _, sl := range *p.slots.Load() {
		if sl.hint.Load() == 1 {
			s = sl
		}
	}
	x := pipeline(t, p.Pool, s, "/c", true)
	resp, err := x.Head(func(string, string) {})
	if err != nil || string(resp.Body) != "ok /c" {
		t.Fatalf("moved request: %v %+v", err, resp)
	}
	if x.t.slot == s || x.moved != 1 {
		t.Fatalf("request not moved (moved %d)", x.moved)
	}
	x.Close()
	slow.stillRunning(t)
	slow.finish(t)
}

// When a worker dies, the request it was running fails, and the requests
// queued behind it, which cannot have started, are served by another
// worker.
func TestRequestsBehindDeadWorkerAreRedispatched(t *testing.T) {
	p := startFakePool(t, Options{Workers: 2, Threads: 1, PipelineDepth: 8, QueueTimeout: 5 * time.Second})
	first := make(chan error, 1)
	go func() {
		_, _, err := send(t, p.Pool, "/block?doomed")
		first <- err
	}()
	<-p.routes.entered
	var s *Slot
	for _, sl := range *p.slots.Load() {
		if sl.hint.Load() == 1 {
			s = sl
		}
	}
	x := pipeline(t, p.Pool, s, "/c", false) // not revocable: only death moves it
	done := make(chan struct{})
	var resp *Response
	var err error
	go func() {
		resp, err = x.Head(func(string, string) {})
		close(done)
	}()
	s.worker.proc.(*fakeProc).exit("signal: killed")
	var we *WorkerError
	if e := <-first; !errors.As(e, &we) {
		t.Fatalf("the running request: %v, want a WorkerError", e)
	}
	<-done
	if err != nil || string(resp.Body) != "ok /c" || x.t.slot.worker == s.worker {
		t.Fatalf("queued request: %v %+v", err, resp)
	}
	x.Close()
}

// A response buffer keeps order across memory and the spool file, and
// makes the producer wait only when both are full.
func TestRespBufferSpillsInOrder(t *testing.T) {
	rb := newRespBuffer(&respStore{perMem: 10, mem: NewBudget(1 << 20), arena: &spoolArena{dir: t.TempDir()}, perSpool: 1 << 20})
	var want []byte
	for i := 0; i < 50; i++ {
		chunk := []byte(strings.Repeat(string(rune('a'+i%26)), 7))
		want = append(want, chunk...)
		rb.push(chunk)
	}
	rb.end(io.EOF)
	if rb.spooled == 0 {
		t.Fatal("nothing was spooled past the memory limit")
	}
	var got []byte
	for {
		b, _, err := rb.pop()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if rb.arena.f != nil {
		t.Fatal("the spool file is still open with nothing in it")
	}
	rb.close()
}

// A request pipelined behind one that turned slow, with no other slot to
// move to, does not wait past --queue-timeout for it: it goes back to the
// pool's queue, whose timeout answers.
func TestPipelinedRequestHonoursQueueTimeout(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, PipelineDepth: 8, QueueTimeout: 50 * time.Millisecond})
	slow := startSlow(t, p)
	s := (*p.slots.Load())[0]
	x := pipeline(t, p.Pool, s, "/c", true)
	_, err := x.Head(func(string, string) {})
	if !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("pipelined request behind a slow one: %v, want ErrQueueTimeout", err)
	}
	slow.stillRunning(t)
	slow.finish(t)
}

// A request pipelined behind one that turned slow, with no other slot to
// move to, counts against --max-queue as a queued one would: once the
// queue is full, it is given back and refused (the test that found this,
// TestOverload/queue_full, saw two requests waiting with one queue place).
func TestPipelinedRequestRefusedWhenQueueFull(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, PipelineDepth: 8, MaxQueue: 1, QueueTimeout: time.Minute})
	slow := startSlow(t, p)
	s := (*p.slots.Load())[0]
	x := pipeline(t, p.Pool, s, "/c", true)
	// Once the slow request is no longer young, a new one queues rather
	// than pipelines; it takes the one queue place.
	waitUntil(t, "the slow request to age", func() bool { return !s.fast(time.Now().UnixNano()) })
	queued := make(chan error, 1)
	go func() {
		xd, resp, err := send(t, p.Pool, "/d")
		if err == nil {
			if string(resp.Body) != "ok /d" {
				err = fmt.Errorf("queued request: body %q", resp.Body)
			}
			xd.Close()
		}
		queued <- err
	}()
	waitUntil(t, "the request to queue", func() bool { return p.waiting.Load() == 1 })
	if _, err := x.Head(func(string, string) {}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("pipelined request with the queue full: %v, want ErrQueueFull", err)
	}
	x.Close()
	slow.finish(t)
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
}

// --timeout counts from each response's own start. The slot's read
// deadline is left armed from an earlier response when that one fires
// sooner (Slot.armDeadline); when it fires while a later response is
// still within its own --timeout, the read goes on, with no 504.
func TestTimeoutCountsFromEachResponse(t *testing.T) {
	const timeout = 3 * time.Second
	p := startFakePool(t, Options{Workers: 1, Threads: 1, QueueTimeout: 5 * time.Second, Timeout: timeout})
	x1, r1, err := send(t, p.Pool, "/a")
	if err != nil || string(r1.Body) != "ok /a" {
		t.Fatalf("first: %v %+v", err, r1)
	}
	x1.Close()
	t0 := time.Now() // the first response's deadline fires about t0+timeout
	// The second request starts at t0+timeout/2 and is answered at
	// t0+1.2*timeout: 0.7*timeout after its start, after the first
	// response's deadline.
	<-time.After(time.Until(t0.Add(timeout / 2)))
	release := time.AfterFunc(time.Until(t0.Add(timeout*6/5)), func() { close(p.routes.gate("late")) })
	defer release.Stop()
	x2, r2, err := send(t, p.Pool, "/block?late")
	if err != nil {
		t.Fatalf("a response within --timeout of its own start failed: %v (after %v)", err, time.Since(t0))
	}
	x2.Close()
	if string(r2.Body) != "released late" {
		t.Fatalf("second body %q", r2.Body)
	}
	if p.boots() != 1 {
		t.Fatalf("%d workers booted; the one worker was replaced", p.boots())
	}
}

// A request issued to an idle slot began then: its reader claiming the turn
// later (a busy front) does not make it look younger, which would let
// requests be pipelined behind one that has run a while (Slot.fast).
func TestTurnOfFirstRequestStartsAtIssue(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, PipelineDepth: 8})
	s := (*p.slots.Load())[0]
	if !s.claimIdle() {
		t.Fatal("slot not idle")
	}
	x := pipeline(t, p.Pool, s, "/c", false)
	issued := s.turnAt.Load()
	if err := s.claimTurn(x.t); err != nil {
		t.Fatal(err)
	}
	if got := s.turnAt.Load(); got != issued {
		t.Fatalf("the turn of the first request moved from %d to %d when its reader claimed it", issued, got)
	}
	resp, err := x.Head(func(string, string) {})
	if err != nil || string(resp.Body) != "ok /c" {
		t.Fatalf("%v %+v", err, resp)
	}
	x.Close()
}
