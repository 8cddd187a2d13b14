package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/metrics"
	"github.com/gowsgi/gowsgi/internal/proxy"
	"github.com/gowsgi/gowsgi/internal/tracing"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// observability is the server's metrics, health probes, request IDs and
// traces. Its methods are safe on a value whose parts are off.
type observability struct {
	log     *slog.Logger
	bind    string           // --metrics-bind; "" = none
	trusted *proxy.AllowList // whose X-Request-ID and traceparent are taken as given
	metrics *metrics.Metrics // nil without --metrics-bind
	srv     *http.Server
	tracer  *tracing.Tracer // nil unless the OTEL variables ask for traces (set by the tracer part)
}

// Provision makes the metrics the pool and the front report to.
func (o *observability) Provision(s *Server) error {
	o.log, o.bind, o.trusted = s.log, s.cfg.MetricsBind, s.cfg.ForwardedAllowIPs
	if o.bind != "" {
		o.metrics = metrics.New()
	}
	return nil
}

func (o *observability) Validate() error { return nil }

// Start binds --metrics-bind and starts serving /metrics, /healthz and
// /readyz at once, before the workers boot (so a kubelet sees "alive, not
// ready" while they do).
func (o *observability) Start(s *Server) error {
	log := o.log
	if o.metrics != nil {
		l, err := net.Listen("tcp", o.bind)
		if err != nil {
			return fmt.Errorf("cannot listen on --metrics-bind %s: %v", o.bind, err)
		}
		// Scrapers and probes send small requests: every phase is bounded,
		// and an idle connection is closed, so nobody can hold the port's
		// connections open for ever.
		o.srv = &http.Server{Handler: o.metrics.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() {
			if err := o.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener failed", "addr", l.Addr().String(), "err", err)
			}
		}()
		log.Info("metrics listening", "url", "http://"+l.Addr().String()+"/metrics")
	}
	return nil
}

// tracer exports a span per request over OTLP/HTTP, when the OpenTelemetry
// variables ask for it; the spans are the observability part's to open.
type tracer struct{}

func (tracer) Provision(s *Server) error { return nil }
func (tracer) Validate() error           { return nil }

func (tracer) Start(s *Server) error {
	log := s.log
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry", "err", err) }))
	tr, err := tracing.New(context.Background(), s.version)
	if err != nil {
		return fmt.Errorf("OpenTelemetry: %v", err)
	}
	s.obs.tracer = tr
	if tr != nil {
		log.Info("tracing: exporting a span per request over OTLP/HTTP")
	}
	return nil
}

// Stop flushes the spans still buffered.
func (tracer) Stop(s *Server) {
	tr := s.obs.tracer
	if tr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		s.log.Warn("OpenTelemetry: spans not exported at shutdown", "err", err)
	}
}

// poolObserver is the Observer for the pool's Options (nil without metrics).
func (o *observability) poolObserver() workers.Observer {
	if o.metrics == nil {
		return nil
	}
	return o.metrics.Observer()
}

// watchPool lets /metrics read the pool's queue.
func (o *observability) watchPool(p *workers.Pool) {
	if o.metrics != nil {
		o.metrics.SetQueueDepth(p.Waiting)
		o.metrics.SetWorkerLoads(p.InFlight)
		o.metrics.SetResponseMemory(p.ResponseMemory)
	}
}

// frontObserver is the front's Observer: request IDs always, metrics and
// spans when they are on. scheme is the handler's wsgi.url_scheme.
func (o *observability) frontObserver(scheme string, requestID config.RequestIDMode) front.Observer {
	if requestID == config.RequestIDOff && o.metrics == nil && o.tracer == nil {
		return nil // nothing to observe: no cost per request
	}
	ro := &requestObserver{m: o.metrics, tr: o.tracer, trusted: o.trusted, scheme: scheme, ids: requestID}
	if o.metrics != nil {
		return &wsObserver{ro, o.metrics.WebSockets()} // websocket.go
	}
	return ro
}

// draining makes /readyz answer 503 from the start of shutdown.
func (o *observability) draining() {
	if o.metrics != nil {
		o.metrics.SetDraining()
	}
}

// Stop stops the metrics listener.
func (o *observability) Stop(s *Server) {
	if o.srv != nil {
		o.srv.Close()
	}
}

// requestObserver implements front.Observer.
type requestObserver struct {
	m       *metrics.Metrics
	tr      *tracing.Tracer
	trusted *proxy.AllowList
	scheme  string
	ids     config.RequestIDMode // --request-id
}

func (o *requestObserver) Begin(r *http1.Request) front.Observation {
	var ob front.Observation
	if o.m != nil || o.tr != nil {
		ob.Start = time.Now()
	}
	// The peer's trust matters only to a request that brings its own
	// X-Request-ID, or to a trace: the allow list is asked only then.
	trusted := false
	if o.tr != nil || tracing.HasRequestID(r) {
		trusted = o.trusted.TrustsPeer(r.RemoteAddr)
	}
	var id string
	switch o.ids {
	case config.RequestIDGenerate:
		id = tracing.ApplyRequestID(r, trusted)
	case config.RequestIDPass:
		id = tracing.PassRequestID(r, trusted)
	}
	if o.m != nil {
		o.m.Begin()
	}
	if o.tr != nil {
		ob.Span = o.tr.Start(r, trusted, id, o.scheme, ob.Start)
		ob.Timed = true
	}
	return ob
}

func (o *requestObserver) End(ob front.Observation, r *http1.Request, status int) {
	if o.m != nil {
		o.m.End(r.Method, status, ob.Start)
	}
	if sp, ok := ob.Span.(*tracing.Span); ok {
		sp.End(status, ob.Sending, ob.Sent)
	}
}

func (o *requestObserver) Spooled(n int64) {
	if o.m != nil {
		o.m.Spooled(n)
	}
}
