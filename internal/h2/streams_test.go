package h2

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Streams over the total get 503 at once while the others are served.
func TestStreamLimit(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	l := &streamLimit{max: 1, log: slog.New(slog.NewTextHandler(io.Discard, nil)), h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})}
	done := make(chan struct{})
	go func() {
		l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		close(done)
	}()
	<-entered
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the limit: %d %v", rec.Code, rec.Header())
	}
	close(release)
	<-done
	if l.n.Load() != 0 {
		t.Fatalf("%d streams counted after all ended", l.n.Load())
	}
}
