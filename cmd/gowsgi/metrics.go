package main

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

// trustedPeer decides whose X-Request-ID and traceparent are taken as
// given: the --forwarded-allow-ips peers (set by startObservability before
// anything is served; loopback until then).
var trustedPeer = tracing.Loopback

// observability is what run() wires for metrics, health probes, request
// IDs and traces. Its methods are safe on a value whose parts are off.
type observability struct {
	log     *slog.Logger
	metrics *metrics.Metrics // nil without --metrics-bind
	srv     *http.Server
	tracer  *tracing.Tracer // nil unless the OTEL variables ask for traces
}

// startObservability binds --metrics-bind and starts serving /metrics,
// /healthz and /readyz at once, before the workers boot (so a kubelet sees
// "alive, not ready" while they do), and starts the OTLP exporter when
// the OpenTelemetry variables ask for it.
func startObservability(cfg *config.Config, log *slog.Logger) (*observability, error) {
	o := &observability{log: log}
	if allow, err := proxy.ParseAllowList(cfg.ForwardedAllowIPs); err == nil {
		trustedPeer = allow.TrustsPeer
	}
	if cfg.MetricsBind != "" {
		l, err := net.Listen("tcp", cfg.MetricsBind)
		if err != nil {
			return nil, fmt.Errorf("cannot listen on --metrics-bind %s: %v", cfg.MetricsBind, err)
		}
		o.metrics = metrics.New()
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
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry", "err", err) }))
	tr, err := tracing.New(context.Background(), version)
	if err != nil {
		o.close()
		return nil, fmt.Errorf("OpenTelemetry: %v", err)
	}
	o.tracer = tr
	if tr != nil {
		log.Info("tracing: exporting a span per request over OTLP/HTTP")
	}
	return o, nil
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
	}
}

// frontObserver is the front's Observer: request IDs always, metrics and
// spans when they are on. scheme is the handler's wsgi.url_scheme.
func (o *observability) frontObserver(scheme, requestID string) front.Observer {
	if requestID == "off" && o.metrics == nil && o.tracer == nil {
		return nil // nothing to observe: no cost per request
	}
	ro := &requestObserver{m: o.metrics, tr: o.tracer, scheme: scheme, ids: requestID}
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

// close stops the metrics listener and flushes the spans still buffered.
func (o *observability) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if o.tracer != nil {
		if err := o.tracer.Shutdown(ctx); err != nil {
			o.log.Warn("OpenTelemetry: spans not exported at shutdown", "err", err)
		}
	}
	if o.srv != nil {
		o.srv.Close()
	}
}

// requestObserver implements front.Observer.
type requestObserver struct {
	m      *metrics.Metrics
	tr     *tracing.Tracer
	scheme string
	ids    string // --request-id: generate, pass or off
}

func (o *requestObserver) Begin(r *http1.Request) front.Observation {
	var ob front.Observation
	if o.m != nil || o.tr != nil {
		ob.Start = time.Now()
	}
	trusted := trustedPeer(r.RemoteAddr)
	var id string
	switch o.ids {
	case "generate":
		id = tracing.ApplyRequestID(r, trusted)
	case "pass":
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
