package tracing

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// Tracer makes one OpenTelemetry server span per request and exports them
// in batches over OTLP/HTTP (protobuf). A nil *Tracer is tracing off.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TraceContext
}

// Enabled reports whether the standard OpenTelemetry variables ask for
// traces: an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), the SDK is not disabled
// (OTEL_SDK_DISABLED=true) and OTEL_TRACES_EXPORTER is not "none".
func Enabled(getenv func(string) string) bool {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return !strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none")
}

// New starts a tracer from the environment when Enabled says so, and
// returns nil (tracing off, nothing started) otherwise. The exporter reads
// the rest of the OTEL_EXPORTER_OTLP_* variables (headers, timeout,
// compression, TLS), the batch processor OTEL_BSP_*, the sampler
// OTEL_TRACES_SAMPLER(_ARG), the resource OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES; service.name defaults to "gowsgi".
func New(ctx context.Context, version string) (*Tracer, error) {
	if !Enabled(os.Getenv) {
		return nil, nil
	}
	if p := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"); p != "" && p != "http/protobuf" {
		return nil, errors.New("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=" + p + ": gowsgi exports traces over http/protobuf only")
	}
	if p := os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") == "" {
		return nil, errors.New("OTEL_EXPORTER_OTLP_PROTOCOL=" + p + ": gowsgi exports traces over http/protobuf only")
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "gowsgi"), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && res == nil {
		return nil, err
	}
	return newTracer(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))), nil
}

func newTracer(tp *sdktrace.TracerProvider) *Tracer {
	return &Tracer{tp: tp, tracer: tp.Tracer("github.com/gowsgi/gowsgi")}
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// Span is one request's server span.
type Span struct {
	span trace.Span
}

// Start opens the server span for r, begun at start. A trusted peer's
// traceparent (and tracestate) is continued; anyone else's is dropped and
// a new trace begins. r's traceparent field is then set to the server
// span, so the application's own spans (HTTP_TRACEPARENT) are its
// children.
func (t *Tracer) Start(r *http1.Request, trusted bool, requestID string, scheme string, start time.Time) *Span {
	ctx := context.Background()
	c := carrier{r}
	if trusted {
		ctx = t.prop.Extract(ctx, c)
	} else {
		del(r, "traceparent")
		del(r, "tracestate")
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", methodAttr(r.Method)),
		attribute.String("url.path", r.Path),
		attribute.String("url.scheme", scheme),
		attribute.String("network.protocol.version", "1."+string(rune('0'+r.ProtoMinor))),
		attribute.String("gowsgi.request_id", requestID),
	}
	if r.RawQuery != "" {
		attrs = append(attrs, attribute.String("url.query", r.RawQuery))
	}
	if r.Host != "" {
		attrs = append(attrs, attribute.String("server.address", r.Host))
	}
	if ua, ok := get(r, "User-Agent"); ok {
		attrs = append(attrs, attribute.String("user_agent.original", ua))
	}
	if a := r.RemoteAddr; a != nil {
		host := a.String()
		if i := strings.LastIndexByte(host, ':'); i > 0 && a.Network() == "tcp" {
			host = strings.Trim(host[:i], "[]")
		}
		attrs = append(attrs, attribute.String("client.address", host))
	}
	ctx, span := t.tracer.Start(ctx, methodAttr(r.Method),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	t.prop.Inject(ctx, c)
	return &Span{span: span}
}

// End closes the span with the response status and the request's two
// phases: the wait for a worker thread (sending to sent) and the worker's
// time from then until the response was done. A request that never
// reached a worker (a static file, a refused one) has neither.
func (s *Span) End(status int, sending, sent time.Time) {
	now := time.Now()
	if status > 0 {
		s.span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if !sent.IsZero() {
		s.span.SetAttributes(
			attribute.Float64("gowsgi.queue_wait_seconds", sent.Sub(sending).Seconds()),
			attribute.Float64("gowsgi.worker_seconds", now.Sub(sent).Seconds()))
	}
	if status >= 500 {
		s.span.SetStatus(codes.Error, "")
	}
	s.span.End(trace.WithTimestamp(now))
}

// methodAttr is the method as OpenTelemetry's HTTP conventions name it:
// known methods as they are, others _OTHER.
func methodAttr(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		return m
	}
	return "_OTHER"
}

// carrier lets the W3C propagator read and write r's header fields.
type carrier struct{ r *http1.Request }

func (c carrier) Get(key string) string {
	v, _ := get(c.r, key)
	return v
}

func (c carrier) Set(key, value string) { set(c.r, key, value) }

func (c carrier) Keys() []string {
	keys := make([]string, 0, len(c.r.Header))
	for _, f := range c.r.Header {
		keys = append(keys, strings.ToLower(f.Name))
	}
	return keys
}
