// Package metrics exports gowsgi's Prometheus metrics and its health
// probes on a port of their own (--metrics-bind), apart from the
// application's: a scraper or a kubelet never queues behind app requests,
// and the app's port exposes nothing but the app.
//
//	/metrics  the Prometheus text format (client_golang)
//	/healthz  200 while the front is alive (liveness)
//	/readyz   200 once the workers have booted, 503 while a reload switches
//	          generations and from the start of shutdown (readiness)
//
// A Metrics value is the pool's workers.Observer (queue wait, worker
// starts, exits and count, readiness) and is told by the front about each
// request (Begin, End, Spooled). Every hot-path call is a few atomic
// operations and allocates nothing; a process that does not ask for
// metrics builds none of this.
package metrics

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gowsgi/gowsgi/internal/workers"
)

// Metrics holds gowsgi's collectors and its readiness.
type Metrics struct {
	reg *prometheus.Registry

	requests   *prometheus.CounterVec
	byLabel    [len(methods)][600]atomic.Pointer[counterRef] // so End does no label hashing
	duration   prometheus.Histogram
	inFlight   prometheus.Gauge
	queueWait  prometheus.Histogram
	workers    prometheus.Gauge
	restarts   *prometheus.CounterVec
	spooled    prometheus.Counter
	queueDepth atomic.Pointer[func() int]
	respMemory atomic.Pointer[func() int64]
	asgi       *asgiMetrics

	mu   sync.Mutex
	live map[int]int // worker ID → pid, for the RSS collector

	booted   atomic.Bool // the pool said it is ready
	served   atomic.Bool // it has been ready once: not ready now means reloading
	draining atomic.Bool // shutdown began
}

type counterRef struct{ c prometheus.Counter }

// methods are the method label values besides OTHER (the last).
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"}

// Buckets for request durations and queue waits, in seconds: from half a
// millisecond (a fast hello world) to a minute (a slow report).
var (
	durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	waitBuckets     = []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// New builds the collectors on a registry of their own (plus the Go
// runtime's and the process's).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), live: map[int]int{}, asgi: newASGIMetrics()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gowsgi_requests_total",
		Help: "HTTP requests answered, by status code and method (methods outside RFC 9110's are OTHER).",
	}, []string{"code", "method"})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gowsgi_request_duration_seconds",
		Help:    "Time from a request's head to the end of its response, in seconds.",
		Buckets: durationBuckets,
	})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gowsgi_requests_in_flight",
		Help: "Requests being served now.",
	})
	m.queueWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gowsgi_queue_wait_seconds",
		Help:    "Time requests waited for a free worker thread, in seconds (0 when one was free).",
		Buckets: waitBuckets,
	})
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gowsgi_queue_depth",
		Help: "Requests waiting for a free worker thread now.",
	}, func() float64 {
		if f := m.queueDepth.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	respMemory := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gowsgi_response_memory_bytes",
		Help: "Response bytes held in the front's memory now, under --response-memory-total: WSGI and ASGI responses waiting for their clients, and the ASGI flow-control windows grown beyond their floor.",
	}, func() float64 {
		if f := m.respMemory.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	m.workers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gowsgi_workers",
		Help: "Worker processes in service.",
	})
	m.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gowsgi_worker_restarts_total",
		Help: "Worker processes that ended and were replaced, by reason: crash, timeout, recycle (--max-requests), memory (--max-memory), reload.",
	}, []string{"reason"})
	for _, r := range []string{workers.ExitCrash, workers.ExitTimeout, workers.ExitRecycle, workers.ExitMemory, workers.ExitReload} {
		m.restarts.WithLabelValues(r) // present at 0, so rate() and alerts see them from the start
	}
	m.spooled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gowsgi_request_body_spooled_bytes_total",
		Help: "Request body bytes written to temp files because they were over --body-memory or --body-memory-total.",
	})
	m.reg.MustRegister(m.requests, m.duration, m.inFlight, m.queueWait, queueDepth, respMemory, m.workers, m.restarts, m.spooled,
		&rssCollector{m}, m.asgi,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the collectors are registered (for tests and for
// further collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetQueueDepth gives the function that reports the queued requests
// (the pool's Waiting); it is read at scrape time.
func (m *Metrics) SetQueueDepth(f func() int) { m.queueDepth.Store(&f) }

// SetResponseMemory gives the function that reports the response memory
// in use (the pool's ResponseMemory); it is read at scrape time.
func (m *Metrics) SetResponseMemory(f func() int64) { m.respMemory.Store(&f) }

// Begin counts a request in flight.
func (m *Metrics) Begin() { m.inFlight.Inc() }

// End records a request that began at start and was answered with code.
func (m *Metrics) End(method string, code int, start time.Time) {
	m.inFlight.Dec()
	m.duration.Observe(time.Since(start).Seconds())
	m.counter(code, method).Inc()
}

// counter returns the requests counter for code and method, creating it
// once; later calls do one map lookup and no allocation.
func (m *Metrics) counter(code int, method string) prometheus.Counter {
	i := methodIndex(method)
	if code < 0 || code >= len(m.byLabel[i]) {
		return m.requests.WithLabelValues(strconv.Itoa(code), methods[i])
	}
	ref := &m.byLabel[i][code]
	if r := ref.Load(); r != nil {
		return r.c
	}
	r := &counterRef{m.requests.WithLabelValues(strconv.Itoa(code), methods[i])}
	ref.Store(r)
	return r.c
}

// Method is the method label for a request method: RFC 9110's methods and
// PATCH as they are, anything else OTHER, so that a client cannot make up
// label values without bound.
func Method(m string) string { return methods[methodIndex(m)] }

func methodIndex(m string) int {
	for i, k := range methods[:len(methods)-1] {
		if m == k {
			return i
		}
	}
	return len(methods) - 1
}

// Spooled counts request body bytes written to a temp file.
func (m *Metrics) Spooled(n int64) { m.spooled.Add(float64(n)) }

// SetDraining marks the server as shutting down: /readyz answers 503 from
// now on, while in-flight requests finish.
func (m *Metrics) SetDraining() { m.draining.Store(true) }

// Ready reports what /readyz answers.
func (m *Metrics) Ready() bool { return m.booted.Load() && !m.draining.Load() }

// The workers.Observer side.

// Dispatched implements workers.Observer.
func (m *Metrics) Dispatched(wait time.Duration) { m.queueWait.Observe(wait.Seconds()) }

// WorkerStarted implements workers.Observer.
func (m *Metrics) WorkerStarted(id, pid int) {
	m.mu.Lock()
	m.live[id] = pid
	m.mu.Unlock()
}

// WorkerExited implements workers.Observer.
func (m *Metrics) WorkerExited(id, pid int, reason string) {
	m.mu.Lock()
	delete(m.live, id)
	m.mu.Unlock()
	switch reason {
	case workers.ExitStop, workers.ExitScale:
		// Not a restart: nothing replaces it.
	default:
		m.restarts.WithLabelValues(reason).Inc()
	}
}

// Workers implements workers.Observer.
func (m *Metrics) Workers(n int) { m.workers.Set(float64(n)) }

func (m *Metrics) setBooted(ready bool) {
	m.booted.Store(ready)
	if ready {
		m.served.Store(true)
	}
}

// Observer returns the workers.Observer to put in the pool's Options.
func (m *Metrics) Observer() workers.Observer { return poolObserver{m} }

// poolObserver adapts Metrics to workers.Observer (whose Ready(bool)
// would clash with Metrics.Ready()).
type poolObserver struct{ *Metrics }

func (o poolObserver) Ready(ready bool) { o.setBooted(ready) }

// rssCollector reports each live worker's resident memory, read from /proc
// when scraped: always current, and nothing runs between scrapes.
type rssCollector struct{ m *Metrics }

var rssDesc = prometheus.NewDesc("gowsgi_worker_resident_memory_bytes",
	"Resident memory of each worker process, read from /proc at scrape time.", []string{"worker"}, nil)

func (c *rssCollector) Describe(ch chan<- *prometheus.Desc) { ch <- rssDesc }

func (c *rssCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	live := make(map[int]int, len(c.m.live))
	for id, pid := range c.m.live {
		live[id] = pid
	}
	c.m.mu.Unlock()
	for id, pid := range live {
		if rss, ok := residentBytes(pid); ok {
			ch <- prometheus.MustNewConstMetric(rssDesc, prometheus.GaugeValue, float64(rss), strconv.Itoa(id))
		}
	}
}

var pageSize = int64(os.Getpagesize())

// residentBytes reads a process's resident set size from /proc/PID/statm.
func residentBytes(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * pageSize, true
}

// Handler serves /metrics, /healthz and /readyz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		probe(w, true, "ok\n", "")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		why := "starting: the workers are booting\n"
		switch {
		case m.draining.Load():
			why = "draining: shutting down\n"
		case m.booted.Load():
			probe(w, true, "ready\n", "")
			return
		case m.served.Load():
			why = "reloading: a new generation of workers is booting\n"
		}
		probe(w, false, "", why)
	})
	return mux
}

func probe(w http.ResponseWriter, ok bool, body, why string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(why))
		return
	}
	w.Write([]byte(body))
}
