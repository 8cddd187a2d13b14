package workers

import (
	"errors"
	"testing"
	"time"
)

// Once stopping, the supervisor refuses to scale or reload: nothing is
// started that nobody would stop.
func TestNoScaleOrReloadAfterStop(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1})
	p.Stop(time.Second)
	if err := p.Scale(1); !errors.Is(err, ErrStopped) {
		t.Fatalf("Scale after Stop: %v", err)
	}
	p.Reload()
	if n := p.boots(); n != 1 {
		t.Fatalf("%d workers booted, want only the first", n)
	}
	if _, _, err := send(t, p.Pool, "/a"); !errors.Is(err, ErrStopped) {
		t.Fatalf("Send after Stop: %v", err)
	}
}

// A worker that dies is replaced, and the replacement serves.
func TestCrashedWorkerIsReplaced(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, QueueTimeout: 5 * time.Second})
	p.spawned[0].proc.(*fakeProc).exit("signal: segmentation fault")
	waitUntil(t, "a replacement", func() bool { return p.boots() == 2 })
	x, resp, err := send(t, p.Pool, "/a")
	if err != nil || string(resp.Body) != "ok /a" {
		t.Fatalf("after replacement: %v %+v", err, resp)
	}
	x.Close()
}

// A reload switches to a new generation once it is ready and retires the
// old one; scaling changes the count.
func TestReloadAndScale(t *testing.T) {
	p := startFakePool(t, Options{Workers: 2, Threads: 1, QueueTimeout: 5 * time.Second})
	old := append([]*Worker(nil), p.spawned...)
	p.Reload()
	waitUntil(t, "the old generation to exit", func() bool {
		for _, w := range old {
			if w.alive() {
				return false
			}
		}
		return true
	})
	if n := p.boots(); n != 4 {
		t.Fatalf("%d boots after a reload of 2 workers", n)
	}
	if err := p.Scale(1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a third worker", func() bool { return p.boots() == 5 })
	if got := p.Size(); got != 3 {
		t.Fatalf("size %d", got)
	}
	if err := p.Scale(-2); err != nil {
		t.Fatal(err)
	}
	if err := p.Scale(-1); err == nil {
		t.Fatal("scaling below one worker was accepted")
	}
}

// Boots that keep failing while no worker serves end in a fatal error
// instead of a spin.
func TestBootFailuresGiveUp(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1})
	p.mu.Lock()
	p.fail = true
	p.mu.Unlock()
	p.spawned[0].proc.(*fakeProc).exit("exit status 1")
	select {
	case err := <-p.Fatal():
		var be *BootError
		if !errors.As(err, &be) {
			t.Fatalf("fatal error %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no fatal error after repeated boot failures")
	}
}

// A failed reload leaves the old generation serving.
func TestFailedReloadKeepsOldWorkers(t *testing.T) {
	p := startFakePool(t, Options{Workers: 1, Threads: 1, QueueTimeout: 5 * time.Second})
	w := p.spawned[0]
	p.mu.Lock()
	p.fail = true
	p.mu.Unlock()
	p.Reload()
	// The reload's outcome is observable through the supervisor: wait
	// until no reload is in progress.
	waitUntil(t, "the reload to end", func() bool {
		busy := true
		p.query(func(s *supervisor) { busy = s.reload != nil })
		return !busy
	})
	if !w.alive() || w.retiring.Load() {
		t.Fatal("the old worker was retired by a failed reload")
	}
	x, resp, err := send(t, p.Pool, "/a")
	if err != nil || string(resp.Body) != "ok /a" {
		t.Fatalf("%v %+v", err, resp)
	}
	x.Close()
}

// GoAwayLead leaves an app its half-second on http.disconnect and the
// answer's way out (asgi.py) before the graceful timeout ends, and never
// takes more than 2 s or half the timeout.
func TestGoAwayLead(t *testing.T) {
	for g, want := range map[time.Duration]time.Duration{
		time.Second: 500 * time.Millisecond, 2 * time.Second: time.Second, 3 * time.Second: time.Second,
		4 * time.Second: time.Second, 6 * time.Second: 1500 * time.Millisecond, 30 * time.Second: 2 * time.Second,
	} {
		if got := GoAwayLead(g); got != want {
			t.Errorf("GoAwayLead(%s) = %s, want %s", g, got, want)
		}
	}
}
