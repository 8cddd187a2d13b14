package front

import (
	"crypto/tls"
	"net/http"

	"github.com/gowsgi/gowsgi/internal/h2"
	"github.com/gowsgi/gowsgi/internal/http1"
)

// checkH2 holds a request that Go's HTTP/2 server let through to the rules
// the HTTP/1.1 parser applies, with the parser's own code (http1's
// exported rules): the method is a token; the target has no control
// character, space or DEL and is of a form its method allows; field names
// are tokens and values field-value octets; there is at most one Host, it
// agrees with :authority, and the authority is a valid host; Content-Length
// is one field of 1*DIGIT. It returns the split target, and the status
// HTTP/1.1 would answer a refused request with (0 when it passes): 414 for
// a :path past MaxRequestLine, 431 for more fields than MaxHeaderFields or
// a field past MaxFieldBytes (counted as its HTTP/1.1 line, CRLF
// included), 400 for the rest.
//
// Two rules are HTTP/2's own (RFC 9113): :path is the origin form or "*",
// never the absolute form (§8.3.1), and a field value neither starts nor
// ends with SP or HTAB (§8.2.1; HTTP/1.1's parser trims that whitespace,
// HTTP/2 forbids it).
//
// RFC 9113 §8.1.1 makes such a malformed request a stream error, and lets
// the server send an HTTP response before it closes the stream. The
// refusal is that response (a 400 like HTTP/1.1's, then the end of the
// stream), not a bare RST_STREAM: the client learns why, and a net/http
// handler could only reset with INTERNAL_ERROR, which would blame the
// server. The malformations Go's server detects itself (pseudo-header
// fields, upper-case or connection-specific field names, a body longer or
// shorter than its content-length) keep its RST_STREAM PROTOCOL_ERROR.
func (h *Handler) checkH2(r *http.Request) (http1.Target, int) {
	if h.MaxRequestLine > 0 && len(r.Method)+len(r.RequestURI)+10 > h.MaxRequestLine {
		return http1.Target{}, 414
	}
	t, status := http1.ParseTarget(r.Method, r.RequestURI)
	if status != 0 {
		return http1.Target{}, status
	}
	if t.Absolute && r.ProtoMajor == 2 {
		// An h2c upgrade request (HTTP/1.1, ProtoMajor 1) may use the
		// absolute form; an HTTP/2 :path may not.
		return http1.Target{}, 400
	}
	n := 0
	for _, vs := range r.Header {
		n += len(vs)
	}
	if h.MaxHeaderFields > 0 && n > h.MaxHeaderFields {
		return http1.Target{}, 431
	}
	for name, vs := range r.Header {
		if !http1.ValidToken(name) {
			return http1.Target{}, 400
		}
		for _, v := range vs {
			if h.MaxFieldBytes > 0 && len(name)+len(v)+4 > h.MaxFieldBytes {
				return http1.Target{}, 431 // as the HTTP/1.1 line "name: value" CRLF would
			}
			if !http1.ValidFieldValue(v) || padded(v) {
				return http1.Target{}, 400
			}
		}
	}
	hosts := r.Header["Host"]
	switch {
	case len(hosts) > 1, len(hosts) == 1 && hosts[0] != r.Host:
		return http1.Target{}, 400
	case r.Method != "CONNECT" && !http1.ValidHost(r.Host):
		// CONNECT's authority is its target, checked above.
		return http1.Target{}, 400
	}
	if cls := r.Header["Content-Length"]; len(cls) > 0 {
		fields := make([]http1.Field, len(cls))
		for i, v := range cls {
			fields[i] = http1.Field{Name: "Content-Length", Value: v}
		}
		if _, ok := http1.RequestContentLength(fields); !ok {
			return http1.Target{}, 400
		}
	}
	return t, 0
}

// padded reports whether v starts or ends with SP or HTAB.
func padded(v string) bool {
	return v != "" && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t')
}

// h2TLS is the TLS state of the connection r came on, nil over cleartext.
// Go's HTTP/2 server sets r.TLS only when the client sent :scheme https;
// the connection's own state (kept by internal/h2) does not depend on what
// the client claims, so HTTPS and SSL_* are there on every TLS stream.
func h2TLS(r *http.Request) *tls.ConnectionState {
	if st := h2.ConnTLS(r.Context()); st != nil {
		return st
	}
	return r.TLS
}
