package server

import (
	"testing"
	"time"
)

// The moment before the graceful timeout's end at which WebSockets close
// and ASGI workers go away leaves an app its half-second on
// http.disconnect and the answer's way out (asgi.py), and never more than
// 2 s or half the timeout.
func TestWSCloseMargin(t *testing.T) {
	for g, want := range map[time.Duration]time.Duration{
		time.Second: 500 * time.Millisecond, 2 * time.Second: time.Second, 3 * time.Second: time.Second,
		4 * time.Second: time.Second, 6 * time.Second: 1500 * time.Millisecond, 30 * time.Second: 2 * time.Second,
	} {
		if got := wsCloseMargin(g); got != want {
			t.Errorf("wsCloseMargin(%s) = %s, want %s", g, got, want)
		}
	}
}
