package front

import (
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// Observer hears about every request the Handler serves: metrics, request
// IDs and traces hang off it (cmd/gowsgi wires them). A nil Observer costs
// one nil check per request.
type Observer interface {
	// Begin is called first, before the body is read. It may set r.ID,
	// the request's ID: it reaches the application as gowsgi.request_id,
	// goes back in the response's X-Request-ID and into the log lines
	// about r. It may set r's traceparent header field (the application's
	// HTTP_TRACEPARENT).
	Begin(r *http1.Request) Observation
	// End is called once the response is done (or abandoned); status is
	// what was sent (0: nothing was).
	End(o Observation, r *http1.Request, status int)
	// Spooled reports request body bytes written to a temp file.
	Spooled(n int64)
}

// Observation is what Begin hands to End about one request.
type Observation struct {
	Start time.Time
	// Timed asks the handler to fill Sending and Sent: when the request
	// was handed to the pool, and when a worker slot took it (the queue
	// wait is the difference). Zero when the request never got that far.
	Timed         bool
	Sending, Sent time.Time
	// Span is the tracer's state for the request.
	Span any
}

// RequestIDHeader is the header field that carries a request's ID, in and
// out.
const RequestIDHeader = "X-Request-ID"

// requestID is r's ID as the Observer settled it ("" without an Observer:
// a client's own X-Request-ID is then just a header).
func (h *Handler) requestID(r *http1.Request) string { return r.ID }

// withRequestID appends r's X-Request-ID to a response's fields unless the
// application set its own.
func (h *Handler) withRequestID(fields []http1.Field, r *http1.Request) []http1.Field {
	id := h.requestID(r)
	if id == "" || hasField(fields, RequestIDHeader) {
		return fields
	}
	return append(fields, http1.Field{Name: RequestIDHeader, Value: id})
}
