package metrics

import (
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/workers"
)

// TestASGIMetrics: the pool's per-worker loads are read at scrape time, and
// the loop lag the workers report lands in the histogram.
func TestASGIMetrics(t *testing.T) {
	m := New()
	if _, ok := value(scrape(t, m.Handler()), "gowsgi_worker_requests_in_flight"); ok {
		t.Error("in-flight series before the pool was watched")
	}
	loads := map[int]int{1: 3, 2: 0}
	m.SetWorkerLoads(func(fn func(worker, n int)) {
		for w, n := range loads {
			fn(w, n)
		}
	})
	o, ok := m.Observer().(workers.LoopLagObserver)
	if !ok {
		t.Fatal("the pool observer does not take loop lags")
	}
	o.LoopLag(1, 2*time.Millisecond)
	o.LoopLag(1, 3*time.Second)
	mf := scrape(t, m.Handler())
	if v, ok := value(mf, "gowsgi_worker_requests_in_flight", "worker", "1"); !ok || v != 3 {
		t.Errorf("worker 1 in flight = %v (%v), want 3", v, ok)
	}
	if v, ok := value(mf, "gowsgi_worker_requests_in_flight", "worker", "2"); !ok || v != 0 {
		t.Errorf("worker 2 in flight = %v (%v), want 0", v, ok)
	}
	h := mf["gowsgi_asgi_event_loop_lag_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() < 3 {
		t.Errorf("lag histogram: %d samples, sum %v; want 2, over 3 s", h.GetSampleCount(), h.GetSampleSum())
	}
}
