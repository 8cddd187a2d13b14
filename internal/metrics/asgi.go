package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The ASGI workers' own metrics: requests in flight per worker (an event
// loop serves many at once, so the pool-wide gauge does not tell a loaded
// worker from an idle one) and the lag of each event loop.

// loopLagBuckets, in seconds: a healthy loop runs a callback within a
// millisecond or so of its time; a blocking call shows up in the seconds.
var loopLagBuckets = []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// asgiMetrics are registered by New, with the other collectors.
type asgiMetrics struct {
	loopLag prometheus.Histogram

	loadsMu sync.Mutex
	loads   func(func(worker, n int)) // the pool's InFlight, read at scrape time
}

func newASGIMetrics() *asgiMetrics {
	return &asgiMetrics{loopLag: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gowsgi_asgi_event_loop_lag_seconds",
		Help:    "How late an ASGI worker's event loop ran its heartbeat callback: time the loop was busy or blocked. Measured with --timeout (the heartbeats' supervision) on.",
		Buckets: loopLagBuckets,
	})}
}

var inFlightDesc = prometheus.NewDesc("gowsgi_worker_requests_in_flight",
	"Requests each worker in service is handling, read at scrape time.", []string{"worker"}, nil)

// Describe and Collect make asgiMetrics a collector of the in-flight gauge
// and the lag histogram.
func (a *asgiMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- inFlightDesc
	a.loopLag.Describe(ch)
}

func (a *asgiMetrics) Collect(ch chan<- prometheus.Metric) {
	a.loopLag.Collect(ch)
	a.loadsMu.Lock()
	loads := a.loads
	a.loadsMu.Unlock()
	if loads == nil {
		return
	}
	loads(func(worker, n int) {
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(n), strconv.Itoa(worker))
	})
}

// SetWorkerLoads gives the function that reports each worker's requests in
// flight (the pool's InFlight); it is read at scrape time.
func (m *Metrics) SetWorkerLoads(f func(func(worker, n int))) {
	m.asgi.loadsMu.Lock()
	m.asgi.loads = f
	m.asgi.loadsMu.Unlock()
}

// LoopLag records how late an ASGI worker's event loop ran a heartbeat
// (workers.LoopLagObserver).
func (o poolObserver) LoopLag(worker int, lag time.Duration) { o.asgi.loopLag.Observe(lag.Seconds()) }
