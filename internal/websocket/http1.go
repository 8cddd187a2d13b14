package websocket

import (
	"net/http"
	"strconv"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// FromHTTP1 is the handshake's view of a request from gowsgi's HTTP/1.x
// engine.
func FromHTTP1(r *http1.Request) Request {
	h := make(http.Header, len(r.Header))
	for _, f := range r.Header {
		k := http.CanonicalHeaderKey(f.Name)
		h[k] = append(h[k], f.Value)
	}
	return Request{
		Method:     r.Method,
		ProtoMajor: 1,
		ProtoMinor: r.ProtoMinor,
		Header:     h,
		HasBody:    r.ContentLength != 0,
	}
}

// IsUpgradeHTTP1 reports whether an http1 request asks for a WebSocket
// (IsUpgrade), without building a header map: the front's test on every
// request.
func IsUpgradeHTTP1(r *http1.Request) bool {
	for _, f := range r.Header {
		if len(f.Name) == 7 && asciiEqualFold(f.Name, "upgrade") && hasToken([]string{f.Value}, "websocket") {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// RefuseHTTP1 answers a refused handshake through the engine's response
// writer: the status, the error's fields, the reason as a text body, and
// the connection closed after it (the client's next bytes may be frames).
func RefuseHTTP1(w *http1.ResponseWriter, e *HandshakeError) {
	fields, body := e.Response()
	w.SetClose()
	w.WriteHeader(e.Status, http.StatusText(e.Status), fields)
	w.Write(body)
	w.Finish()
}

// Response is the answer to a refused handshake, for any engine: its
// header fields (the error's own, such as 426's Sec-WebSocket-Version,
// after the content type and length) and the reason as a text body.
func (e *HandshakeError) Response() ([]http1.Field, []byte) {
	body := e.Reason + "\n"
	fields := []http1.Field{
		{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
		{Name: "Content-Length", Value: strconv.Itoa(len(body))},
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			fields = append(fields, http1.Field{Name: k, Value: v})
		}
	}
	return fields, []byte(body)
}

// AcceptHTTP1 accepts a pending handshake on gowsgi's HTTP/1.1 engine: it
// takes the connection over (http1.ResponseWriter.Hijack), sends the 101
// with the upstream's subprotocol and extra fields, and returns the
// connection, ready to Run. defaults are the server's own fields (Date,
// Server, ...). On an error the connection, if taken, is closed.
func AcceptHTTP1(w *http1.ResponseWriter, hs *Handshake, subprotocol string, extra []http1.Field, defaults *http1.Defaults, opts Options) (*Conn, error) {
	if _, err := hs.ResponseHeader(subprotocol, extra); err != nil {
		return nil, err
	}
	nc, buffered, err := w.Hijack()
	if err != nil {
		return nil, err
	}
	nc.SetWriteDeadline(timeNowPlus(opts.WriteTimeout))
	if err := hs.WriteResponse101(nc, subprotocol, extra, defaults); err != nil {
		nc.Close()
		return nil, err
	}
	return NewConn(nc, buffered, hs, opts), nil
}
