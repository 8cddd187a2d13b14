package workers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// Stop abandons a --preload template boot in progress: the boot runs under
// the supervisor's context, so Stop returns without waiting for the
// application to finish importing, and Start reports that it was stopped.
// The worker boots that need a template share the one boot.
func TestStopCancelsTemplateBoot(t *testing.T) {
	p := New(Options{Workers: 3, Threads: 1, Preload: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var boots atomic.Int32
	entered, cancelled := make(chan struct{}), make(chan error, 1)
	p.preload.spawnFn = func(ctx context.Context) (*Worker, error) {
		if boots.Add(1) == 1 {
			close(entered)
		}
		<-ctx.Done() // a template whose application takes for ever to import
		cancelled <- ctx.Err()
		return nil, ctx.Err()
	}
	started := make(chan error, 1)
	go func() { started <- p.Start() }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no template boot began")
	}

	stopped := make(chan struct{})
	go func() {
		p.Stop(0)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return while a template was booting")
	}
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the template boot ended with %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Stop returned, but the template boot was not cancelled")
	}
	select {
	case err := <-started:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Start returned %v, want ErrStopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return after Stop")
	}
	if n := boots.Load(); n != 1 {
		t.Fatalf("%d template boots for 3 workers, want one shared boot", n)
	}
}
