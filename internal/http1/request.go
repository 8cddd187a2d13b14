package http1

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
)

// A Field is one header field line of a request or response.
//
// Name keeps the case it was sent (or given) with. Value holds the raw octets
// of the field value, leading and trailing whitespace removed; octets above
// 0x7F are kept as they are (HTTP field values are latin-1, not UTF-8).
type Field struct {
	Name, Value string
}

// A Handler responds to an HTTP/1.x request.
//
// ServeHTTP1 should call w.WriteHeader, write the body with w.Write and end it
// with w.Finish. A handler that returns without calling WriteHeader gets a
// 500 response; one that returns without Finish has its response finished for
// it.
//
// The Request, its Header slice and the ResponseWriter belong to the
// connection and are reused for its next request: they must not be used after
// ServeHTTP1 returns, and neither may be used from two goroutines at once.
type Handler interface {
	ServeHTTP1(w *ResponseWriter, r *Request)
}

// The HandlerFunc type is an adapter to allow the use of ordinary functions as
// HTTP/1.x handlers.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeHTTP1 calls f(w, r).
func (f HandlerFunc) ServeHTTP1(w *ResponseWriter, r *Request) { f(w, r) }

// A Request is an HTTP/1.x request as received by the server, already checked
// against the strict parsing rules described in the package documentation.
//
// All strings of a Request share one allocation per request. A Request is
// valid only until the handler returns.
type Request struct {
	// Method is the request method exactly as received (a token; case
	// matters: "get" is not "GET").
	Method string

	// Target is the request-target exactly as received.
	Target string

	// Path is the path part of Target, still percent-encoded. For the
	// absolute form ("http://h/p?q") it is "/p", or "/" when the target has
	// no path; for the asterisk form ("*", OPTIONS only) it is "*"; for the
	// authority form (CONNECT only) it is "".
	Path string

	// RawQuery is the part of Target after the first '?', without a
	// fragment ('#...'), undecoded.
	RawQuery string

	// ProtoMinor is the minor version of the protocol: 0 for HTTP/1.0 and 1
	// for HTTP/1.1 (and for any later HTTP/1.x, as RFC 9110 §2.5 asks).
	ProtoMinor int

	// Header holds the header fields in the order received, names as sent.
	Header []Field

	// Host is the value of the Host header field, or for a request in
	// absolute form the authority of its target. It is "" for an HTTP/1.0
	// request without Host.
	Host string

	// ContentLength is the declared length of the body: -1 for a chunked
	// body and 0 when there is no body.
	ContentLength int64

	// Chunked reports whether the body uses the chunked transfer coding.
	Chunked bool

	// Body reads the request body. It is never nil and returns io.EOF at the
	// end of the body (at once when there is none). A malformed chunked body
	// makes it return a *BodyError; a client that goes away makes it return
	// the network error, and one that stalls for longer than
	// Server.BodyReadTimeout or sends slower than Server.BodyMinRate an
	// error for which IsTimeout is true.
	// For a request with "Expect: 100-continue" the first Read sends the
	// interim "100 Continue" response, unless the final response head has
	// already been sent.
	Body io.Reader

	// RemoteAddr and LocalAddr are the addresses of the connection.
	RemoteAddr net.Addr
	LocalAddr  net.Addr

	// TLS is the state of the connection's TLS session when it is one (the
	// listener handed the server a connection with a ConnectionState
	// method, such as a *tls.Conn), else nil.
	TLS *tls.ConnectionState

	// Close reports whether the connection will be closed after this
	// response, as known when the request was parsed ("Connection: close",
	// HTTP/1.0 without keep-alive, server shutting down). The engine may
	// still decide to close later (see ResponseWriter.SetClose).
	Close bool

	// ID is the request's ID as the front settled it (internal/tracing: a
	// trusted peer's own X-Request-ID, or a new one), for the logs, the
	// response and the environ's gowsgi.request_id; "" when there is none.
	// It is not a header field: Header holds what the client sent.
	ID string

	// ConnState is the handler's, and lasts across the requests of one
	// connection: what a handler leaves there, the connection's next
	// request finds (the front keeps the worker slot that served it).
	ConnState any

	expectContinue bool
	ctx            context.Context
	fin            chan struct{}
	peer           *peerText // the connection's, so RemoteHostPort formats once per connection
}

// peerText is RemoteHostPort's result, kept for a connection's later
// requests.
type peerText struct {
	ip, port string
	set      bool
}

// RemoteHostPort returns RemoteAddr's IP and port as text ("192.0.2.1",
// "40000"; "" and "" for a peer that is not a TCP one, such as a unix
// socket's). A request of an HTTP/1.x connection formats them once for
// all the requests of the connection.
func (r *Request) RemoteHostPort() (ip, port string) {
	p := r.peer
	if p == nil {
		return addrText(r.RemoteAddr)
	}
	if !p.set {
		p.ip, p.port = addrText(r.RemoteAddr)
		p.set = true
	}
	return p.ip, p.port
}

func addrText(a net.Addr) (string, string) {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String(), strconv.Itoa(t.Port)
	}
	return "", ""
}

// Context is the client's: it ends when the client is gone for sure (its
// connection was reset, which is also how a closed connection answers the
// first bytes written to it) while the request is served. The handler
// passes it to whatever works for the request, so that work for a client
// that left stops. It is never nil.
func (r *Request) Context() context.Context {
	if r.ctx != nil {
		return r.ctx
	}
	return context.Background()
}

// Finished is closed when the client has stopped sending: it closed its
// connection, or only half-closed it (shutdown(SHUT_WR)) and still reads
// the answer; the two look alike until something is written. Work for the
// request that has not started yet may be dropped then; work that runs
// is not stopped for it (see Context). nil (never closed) when the
// connection is not watched.
func (r *Request) Finished() <-chan struct{} { return r.fin }

// Proto returns the protocol version of r: "HTTP/1.0" or "HTTP/1.1".
func (r *Request) Proto() string {
	if r.ProtoMinor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// BodyArrived reports whether the whole body is in hand without waiting
// for the client: there is none, or it has a known length of at most max
// bytes and all of it has come, with the head into the connection's
// buffer or since into the socket (it is then moved into the buffer,
// grown for it, by reads that do not wait; over TLS or a wrapped
// connection only the buffer counts). A chunked body, a larger one, or
// one still on its way is not in hand.
func (r *Request) BodyArrived(max int) bool {
	b, ok := r.Body.(*body)
	if !ok {
		return r.ContentLength == 0 && !r.Chunked
	}
	switch b.kind {
	case bodyNone:
		return true
	case bodyFixed:
	default:
		return false
	}
	c := b.c
	if b.err != nil {
		return false
	}
	if int64(c.rend-c.rpos) >= b.n {
		return true
	}
	if b.n > int64(max) || c.continuePending {
		return false
	}
	return c.pullArrived(int(b.n))
}

// ShareBody says that the handler has another goroutine read Body while
// it writes the response (an application that reads its request as it
// answers). Call it before that goroutine starts; that goroutine must be
// done with Body before the handler returns. The 100 (Continue) that its
// first Read owes then still goes out only before the response's head,
// and never inside it.
func (r *Request) ShareBody() {
	if b, ok := r.Body.(*body); ok {
		b.c.shared = true
	}
}

// ExpectContinue reports whether the client sent "Expect: 100-continue" on an
// HTTP/1.1 request and so may be waiting for a 100 (Continue) response before
// it sends the body.
func (r *Request) ExpectContinue() bool { return r.expectContinue }
