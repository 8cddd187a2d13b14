package workers

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A request waiting in the queue leaves it when its client goes away: its
// place is freed and it never reaches a worker.
func TestCanceledWhileQueued(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, QueueTimeout: 10 * time.Second})
	blocked := make(chan error, 1)
	go func() {
		x, _, err := send(t, p.Pool, "/block?q")
		if x != nil {
			x.Close()
		}
		blocked <- err
	}()
	if got := <-p.routes.entered; got != "/block?q" {
		t.Fatalf("entered %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fin := make(chan struct{})
	res := make(chan error, 2)
	go func() { _, _, err := sendCtx(t, ctx, p.Pool, "/gone-ctx"); res <- err }()
	go func() { _, _, err := sendFin(t, fin, p.Pool, "/gone-fin"); res <- err }()
	waitUntil(t, "two queued requests", func() bool { return p.Waiting() == 2 })
	cancel()
	close(fin)
	for i := 0; i < 2; i++ {
		if err := <-res; !errors.Is(err, ErrCanceled) {
			t.Fatalf("canceled request: %v, want ErrCanceled", err)
		}
	}
	if n := p.Waiting(); n != 0 {
		t.Fatalf("%d still queued", n)
	}
	close(p.routes.gate("q"))
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	x, r, err := send(t, p.Pool, "/after")
	if err != nil || string(r.Body) != "ok /after" {
		t.Fatalf("after: %v %+v", err, r)
	}
	x.Close()
	if got := <-p.routes.entered; got != "/after?" {
		t.Fatalf("a canceled request ran: %q", got)
	}
}

// A request pipelined on a busy slot whose client goes away is dropped by
// the worker unstarted; the slot goes on in step with the next request.
func TestCanceledWhilePipelined(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, PipelineDepth: 8, QueueTimeout: 10 * time.Second})
	blocked := make(chan error, 1)
	go func() {
		x, _, err := send(t, p.Pool, "/block?p")
		if x != nil {
			x.Close()
		}
		blocked <- err
	}()
	if got := <-p.routes.entered; got != "/block?p" {
		t.Fatalf("entered %q", got)
	}
	s := (*p.slots.Load())[0]
	x := pipeline(t, p.Pool, s, "/c", false)
	ctx, cancel := context.WithCancel(context.Background())
	x.ctx = ctx
	x.stopWait = context.AfterFunc(ctx, x.cancel)
	head := make(chan error, 1)
	go func() { _, err := x.Head(func(string, string) {}); head <- err }()
	cancel()
	if err := <-head; !errors.Is(err, ErrCanceled) {
		t.Fatalf("pipelined, canceled: %v", err)
	}
	x.Close()
	// Head returns as soon as the context ends; the worker learns of it
	// from the Abort frame, which must reach it before its turn comes (a
	// request already started is stopped instead, another test's case).
	select {
	case <-p.routes.aborts:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker was never told of the cancel")
	}
	close(p.routes.gate("p"))
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	x2, r, err := send(t, p.Pool, "/next")
	if err != nil || string(r.Body) != "ok /next" {
		t.Fatalf("next: %v %+v", err, r)
	}
	x2.Close()
	select {
	case got := <-p.routes.entered:
		if got != "/next?" {
			t.Fatalf("a canceled request ran: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("next never entered")
	}
}

// A request whose client is gone before it is sent goes nowhere.
func TestCanceledBeforeSend(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := sendCtx(t, ctx, p.Pool, "/x"); !errors.Is(err, ErrCanceled) {
		t.Fatalf("got %v", err)
	}
	select {
	case got := <-p.routes.entered:
		t.Fatalf("%q ran", got)
	default:
	}
}
