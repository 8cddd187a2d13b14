// Package tracing correlates a request across gowsgi, its workers and the
// services around them: request IDs (X-Request-ID, always on) and
// OpenTelemetry server spans exported over OTLP/HTTP (only when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// variable is set).
//
// Both work on the request's header fields before the environ is built:
// the X-Request-ID and traceparent fields the application sees (as
// HTTP_X_REQUEST_ID and HTTP_TRACEPARENT) are the ones set here. A peer's
// own values are taken only from trusted peers (the caller asks its
// proxy.AllowList, --forwarded-allow-ips); anyone else could otherwise
// choose the IDs in your logs or graft requests onto a trace of theirs.
package tracing

import (
	"math/rand/v2"
	"strings"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// RequestIDHeader carries a request's ID, in and out.
const RequestIDHeader = "X-Request-ID"

// maxRequestID bounds an accepted request ID; a longer one is replaced.
const maxRequestID = 200

// ApplyRequestID settles r's X-Request-ID and returns it: a trusted peer's
// own (the first one, if it sent several, when it is printable ASCII of at
// most 200 bytes), else a new one. r's header is left with exactly one
// X-Request-ID field holding it.
func ApplyRequestID(r *http1.Request, trusted bool) string {
	if trusted {
		if id, ok := get(r, RequestIDHeader); ok && validID(id) {
			set(r, RequestIDHeader, id)
			return id
		}
	}
	id := NewID()
	set(r, RequestIDHeader, id)
	return id
}

// PassRequestID keeps a trusted peer's own X-Request-ID (as ApplyRequestID
// does) and returns it; any other X-Request-ID field is removed, and none
// is made up ("" then).
func PassRequestID(r *http1.Request, trusted bool) string {
	id, ok := get(r, RequestIDHeader)
	if !ok {
		return ""
	}
	if trusted && validID(id) {
		set(r, RequestIDHeader, id)
		return id
	}
	del(r, RequestIDHeader)
	return ""
}

// NewID returns 16 random bytes as 32 hex digits. The bytes come from the
// runtime's per-thread generator (math/rand/v2): no lock, no system call.
// Request IDs need to be unique, not unguessable.
func NewID() string {
	const hex = "0123456789abcdef"
	var b [32]byte
	for half := 0; half < 2; half++ {
		v := rand.Uint64()
		for i := 0; i < 16; i++ {
			b[half*16+i] = hex[v&15]
			v >>= 4
		}
	}
	return string(b[:])
}

func validID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// get returns the first value of header field name in r.
func get(r *http1.Request, name string) (string, bool) {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// set leaves r with one field name, holding value: the first one is
// rewritten in place, later ones are dropped, none is appended.
func set(r *http1.Request, name, value string) {
	found := false
	kept := r.Header[:0]
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			if found {
				continue
			}
			found = true
			f.Value = value
		}
		kept = append(kept, f)
	}
	clear(r.Header[len(kept):])
	r.Header = kept
	if !found {
		r.Header = append(r.Header, http1.Field{Name: name, Value: value})
	}
}

// del removes every field name from r.
func del(r *http1.Request, name string) {
	kept := r.Header[:0]
	for _, f := range r.Header {
		if !strings.EqualFold(f.Name, name) {
			kept = append(kept, f)
		}
	}
	clear(r.Header[len(kept):])
	r.Header = kept
}
