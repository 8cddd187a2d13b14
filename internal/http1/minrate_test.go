package http1

import (
	"testing"
	"time"
)

// MinRate allows at most its window of credit: a megabyte sent at once
// buys a window, not the thousand seconds it pays for at 1000 bytes/s.
func TestMinRateSlidingWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := NewMinRate(1000, 10*time.Second)
	if due := m.Due(t0); !due.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("first deadline %v, want the window", due.Sub(t0))
	}
	m.Received(1<<20, t0.Add(time.Second))
	if due := m.Due(t0); !due.Equal(t0.Add(11 * time.Second)) {
		t.Fatalf("after a megabyte: due in %v, want 11s (at most a window past its arrival)", due.Sub(t0))
	}
	// A byte every 3s adds 1ms each: the client falls behind.
	now := t0.Add(time.Second)
	for i := 0; i < 5; i++ {
		now = now.Add(3 * time.Second)
		m.Received(1, now)
	}
	if due := m.Due(now); !due.Before(now) {
		t.Fatalf("trickling a byte every 3s: due %v after now, want overdue", due.Sub(now))
	}
	// Keeping up the rate moves the deadline on.
	m = NewMinRate(1000, 10*time.Second)
	now = t0
	m.Due(now)
	for i := 0; i < 100; i++ {
		now = now.Add(time.Second)
		m.Received(1000, now)
	}
	if due := m.Due(now); due.Before(now.Add(9 * time.Second)) {
		t.Fatalf("at the rate: due in %v, want about the window", due.Sub(now))
	}
	var off MinRate
	if off.On() {
		t.Fatal("the zero MinRate binds")
	}
}
