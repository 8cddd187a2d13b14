package h2

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A connection whose client resets most of its streams has its next
// request held; one reset while held never reaches the handler. A client
// that resets none is never held.
func TestResetGuard(t *testing.T) {
	served := 0
	var cancelIn context.CancelFunc
	g := &resetGuard{h: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		served++
		if cancelIn != nil {
			cancelIn() // the client resets the stream while it is served
		}
	})}
	req := func() (*http.Request, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		return httptest.NewRequest("GET", "/", nil).WithContext(ctx), cancel
	}
	for i := 0; i < resetSuspect; i++ {
		r, cancel := req()
		cancelIn = cancel
		g.ServeHTTP(httptest.NewRecorder(), r)
	}
	if served != resetSuspect || !g.suspect() {
		t.Fatalf("served %d, suspect %v", served, g.suspect())
	}
	cancelIn = nil
	r, cancel := req()
	cancel() // reset before the hold ends
	g.ServeHTTP(httptest.NewRecorder(), r)
	if served != resetSuspect {
		t.Fatalf("a request reset while held was served")
	}
	r, cancel = req()
	g.ServeHTTP(httptest.NewRecorder(), r) // not reset: served after the hold
	cancel()
	if served != resetSuspect+1 {
		t.Fatalf("a held request that was not reset was dropped")
	}

	calm := &resetGuard{h: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	for i := 0; i < 100; i++ {
		r, cancel := req()
		calm.ServeHTTP(httptest.NewRecorder(), r)
		cancel()
	}
	if calm.suspect() {
		t.Fatal("a client that resets nothing is suspected")
	}
}
