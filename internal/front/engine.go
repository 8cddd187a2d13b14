package front

import (
	"context"
	"crypto/tls"
	"os"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// request is one HTTP request as an engine parsed it. The HTTP/1.x engine's
// *http1.Request carries it; the HTTP/2 side fills one from a net/http
// request (see h2.go), so environ building, body reading and the relay
// are the same code for both.
type request struct {
	*http1.Request
	proto string          // SERVER_PROTOCOL: HTTP/1.0, HTTP/1.1 or HTTP/2.0
	ctx   context.Context // ends when the client goes away
	// gone: the client went away before the request reached a worker;
	// nothing was answered and the access log leaves it out (a reset
	// flood must not cost a line per stream; see Handler.refused).
	gone bool
	// org is the origin appendEnviron worked out (org.set), which the
	// access log reuses rather than reading the peer and its forwarding
	// headers a second time.
	org origin
	// pump streams the body to the application while the response is
	// relayed (bodystream.go); nil when the body went whole.
	pump *bodyPump
}

// Proto returns the protocol version as SERVER_PROTOCOL gives it.
func (r *request) Proto() string { return r.proto }

// TLSState is the request's TLS session, nil over cleartext.
func (r *request) TLSState() *tls.ConnectionState { return r.TLS }

// responseWriter is what the front needs of an engine's response: the
// methods of *http1.ResponseWriter, which the HTTP/2 adapter implements on
// a net/http stream.
type responseWriter interface {
	// WriteHeader records status, reason (HTTP/1.x only: HTTP/2 has no
	// reason phrase) and the application's checked header fields.
	WriteHeader(status int, reason string, header []http1.Field)
	Write(p []byte) (int, error)
	// Flush sends what was written so far.
	Flush() error
	// Finish ends the response.
	Finish() error
	// SendFile sends n bytes of f from its offset.
	SendFile(f *os.File, n int64) (int64, error)
	// WriteInterim sends an informational (1xx) response before
	// WriteHeader (103 Early Hints), where the protocol and the client
	// take one; elsewhere (HTTP/1.0) it does nothing. An error means the
	// client is gone.
	WriteInterim(status int, reason string, header []http1.Field) error
	// DeclareTrailers, before WriteHeader, says that the body will end
	// with trailer fields, and reports whether they can reach the client
	// (HTTP/2; chunked HTTP/1.1 to a client that sent "TE: trailers").
	// names is the Trailer field to send with the head ("" for none).
	DeclareTrailers(names string) bool
	// FinishTrailers ends the response as Finish does, with the trailer
	// fields after the body when DeclareTrailers said yes.
	FinishTrailers(trailer []http1.Field) error
	// Abort cuts the response short: the client sees it truncated (a
	// closed connection, or a reset HTTP/2 stream).
	Abort()
	// SetClose closes the connection after the response (HTTP/1.x).
	SetClose()
	// Interrupt makes a write blocked on the client fail at once, and the
	// response end there; unlike the others it may be called from another
	// goroutine, while the handler runs (workers.Exchange.OnCutOff).
	Interrupt()
	// Status and Written are for the access log.
	Status() int
	Written() int64
}

var _ responseWriter = (*http1.ResponseWriter)(nil)
