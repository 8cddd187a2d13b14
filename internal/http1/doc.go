// Package http1 is a strict, fast HTTP/1.0 and HTTP/1.1 server engine: the
// front door of gowsgi, in front of the Python workers.
//
// It exists because net/http does not fit a WSGI server: it cannot send the
// application's own reason phrase ("200 Everything Fine" must reach the
// client verbatim), it canonicalizes header-name case, it sniffs
// Content-Type, and it costs several times the CPU per request. This engine
// serves HTTP/1.x over TCP or unix sockets. It does no TLS handshake of its
// own: a listener may hand it TLS connections already negotiated (as gowsgi's
// front does for clients that chose http/1.1 by ALPN), and Request.TLS then
// describes the session. HTTP/2 is served by Go's implementation beside it.
//
// # Design
//
// Each connection runs on one goroutine, with no goroutine per request. Its
// state (read buffer, output buffer, Request, ResponseWriter, header slice) is
// pooled and reused from request to request; all strings of a Request share
// a single allocation of the request head. A Request and its ResponseWriter
// are therefore valid only until the handler returns.
//
// # Parsing
//
// Requests are parsed strictly, because a lenient parser behind a proxy that
// reads the message differently is what makes request smuggling possible.
// The engine answers, without calling the handler, and closes the
// connection:
//
//   - 400 for a line not ended by CRLF (bare LF, or CR inside a line); a
//     request line that is not exactly "method SP target SP HTTP/1.x"; a
//     method that is not a token; a target with control characters
//     (octets above 0x7F are let through), or of a form its method does
//     not allow (origin form "/p", absolute form
//     "http[s]://a/p", "*" for OPTIONS only, authority form for CONNECT
//     only); a field name that is not a token, whitespace before the colon,
//     obs-fold (a line starting with SP or HTAB), or a control character
//     other than HTAB in a value; no Host in an HTTP/1.1 request, more than
//     one Host, or an invalid one; a Content-Length that is not exactly
//     1*DIGIT, which refuses every list form ("5, 5", "5,5"), or a second
//     Content-Length field line even when the values agree (a front that
//     reads such a message otherwise, by the first or the last value,
//     frames it differently: request smuggling); Transfer-Encoding in an
//     HTTP/1.0 request, with Content-Length, with chunked not last or
//     twice, or with no coding;
//   - 414 for a request line over Server.MaxRequestLine bytes, 431 for more
//     than Server.MaxHeaderFields fields or Server.MaxHeaderBytes bytes, or
//     for a field line over Server.MaxFieldBytes with its CRLF;
//   - 501 for a transfer coding other than chunked;
//   - 505 for an HTTP major version other than 1 (HTTP/1.x with x > 1 is
//     served as HTTP/1.1);
//   - 408 when Server.ReadHeaderTimeout runs out after the first byte.
//
// These request rules live in rules.go; its exported functions
// (ParseTarget, ValidToken, ValidFieldValue, ValidHost,
// RequestContentLength) let requests that arrive another way (HTTP/2) be
// held to them too.
//
// Empty lines before a request line are skipped (RFC 9112 §2.2). A
// malformed chunked body is reported to the handler by Request.Body as a
// *BodyError, and the connection is closed after the response. Chunk
// extensions are checked and ignored; a chunk-size line may be at most 4 KiB
// and the extensions of one body (what follows the hex size on every
// chunk-size line) at most 64 KiB together, past which Read also returns a
// *BodyError: extensions are not body data, so limits on the body size
// would not see a client sending gigabytes of them in 1-byte chunks.
//
// # Responses
//
// The status line is always "HTTP/1.1 <status> <reason>" with the reason as
// given. The engine adds Date (formatted once a second) and Server fields
// unless the application sent them, and frames the body:
//
//   - HEAD, 204 and 304 responses have no body: writes are discarded, and
//     no Transfer-Encoding (nor, for 204 and 304, Content-Length) is added.
//   - With the application's Content-Length, exactly that many bytes are
//     sent; more are dropped, and a short body closes the connection.
//   - Otherwise, a body that is finished before any flush and fits the
//     8 KiB body buffer gets a Content-Length (a HEAD response gets the
//     length its GET would have, when its handler wrote a body).
//   - Otherwise HTTP/1.1 responses are chunked, one chunk per Flush, and
//     HTTP/1.0 responses are delimited by closing the connection.
//
// The common response (head and small body) goes out in one write system
// call; a large body piece goes out with the head (or the bytes buffered
// before it) in one writev, without being copied.
//
// # Connections
//
// HTTP/1.1 connections persist unless either side sends "Connection: close";
// HTTP/1.0 ones close unless the client sent "Connection: keep-alive" and the
// response is self-delimiting, in which case it gets "Connection: keep-alive".
// Pipelined requests are served in order. After the handler returns, up to
// 256 KiB of unread request body is read and dropped to keep the connection;
// with more left, the connection is closed. A client sending
// "Expect: 100-continue" gets "100 Continue" on the handler's first
// Body.Read; if the handler answers without reading, none is sent and the
// connection is closed after the response.
//
// A client that goes away while its request is served is noticed without a
// read (see watch.go: one epoll instance watches every served connection):
// a reset ends Request.Context, a FIN closes Request.Finished (a client
// that half-closed after its request may still read the answer).
//
// A keep-alive connection idle for Server.IdlePark (250 ms by default)
// is parked (see park.go): its goroutine exits and its buffers go back to
// their pools, the same epoll instance waits for its next request, and the
// keep-alive timeout, Shutdown and Close still end it. Parked, it costs
// the front about 4 KiB of RSS instead of about 28 KiB (bench/RESULTS.md,
// "Idle keep-alive connections"). A connection busy enough to send its
// next request within that time never parks and pays nothing.
//
// A request body must keep coming: Request.Body.Read fails when nothing
// arrives for Server.BodyReadTimeout, and, with Server.BodyMinRate, when the
// body so far arrives slower on average than that rate (its deadline is the
// first Read's time + BodyReadTimeout + bytes received / BodyMinRate), so
// that a client trickling a byte just inside every BodyReadTimeout cannot hold
// a request open for ever. IsTimeout tells both apart from other errors.
package http1
