package workers

import (
	"context"
	"testing"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// TestMuxBodyStream: a streamed request body goes to the worker after
// Send: AwaitBodyWanted returns once the worker says the app asked (G),
// the pieces stop at the window while the app receives nothing and go on
// once it does (the WebSocket credit), EndBody ends the body, and nothing
// more goes once the response has ended.
func TestMuxBodyStream(t *testing.T) {
	fp, fm := startFakeMuxPool(t, Options{LimitConcurrency: 8})
	var env wire.Environ
	env.Reset(nil)
	env.Add("PATH_INFO", "/bodystream")
	env.Add("QUERY_STRING", "a")
	x, err := fp.Pool.Send(context.Background(), &Request{Environ: &env, BodyStream: true, Method: "POST", Target: "/bodystream", Proto: "HTTP/1.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	slot := uint32(x.t.slot.index)

	wanted := make(chan error, 1)
	go func() { wanted <- x.AwaitBodyWanted(nil) }()
	close(fm.gateFor("want-a"))
	if err := <-wanted; err != nil {
		t.Fatalf("AwaitBodyWanted: %v", err)
	}

	sent := make(chan int, 100)
	go func() {
		for i := 0; i < 40; i++ {
			if err := x.SendBody([]byte("b"), nil); err != nil {
				sent <- -1
				return
			}
			sent <- i
		}
		if x.EndBody() != nil {
			sent <- -1
			return
		}
		sent <- 40
	}()
	n := wsWindow / wsMinCost
	for i := 0; i < n; i++ {
		if got := <-sent; got != i {
			t.Fatalf("piece %d: %d", i, got)
		}
	}
	fm.mu.Lock()
	for fm.wsCount[slot] < n {
		fm.cond.Wait()
	}
	fm.mu.Unlock()
	select {
	case i := <-sent:
		t.Fatalf("piece %d sent past the window to an app that receives nothing", i)
	default:
	}
	got := 0
	for got < 40 {
		got += len(fm.takeWS(slot)) // the app receives: the rest goes
		fm.mu.Lock()
		for fm.wsCount[slot] == 0 && got < 40 {
			fm.cond.Wait()
		}
		fm.mu.Unlock()
	}
	for i := n; i <= 40; i++ {
		if g := <-sent; g != i {
			t.Fatalf("after the credit, piece %d: %d", i, g)
		}
	}
	fm.mu.Lock()
	for fm.bodyEnded[slot] != x.t.id {
		fm.cond.Wait()
	}
	fm.mu.Unlock()

	close(fm.gateFor("answer-a"))
	resp, err := x.Head(func(string, string) {})
	if err != nil || string(resp.Body) != "answered a" {
		t.Fatalf("head: %+v %v", resp, err)
	}
	if err := x.SendBody([]byte("late"), nil); err != ErrEnded {
		t.Fatalf("SendBody after the response ended: %v, want ErrEnded", err)
	}
	if err := x.AwaitBodyWanted(nil); err != nil {
		t.Fatalf("AwaitBodyWanted once wanted: %v", err)
	}
}
