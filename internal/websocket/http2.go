package websocket

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// FromHTTP2 is the handshake's view of a net/http request that came over
// HTTP/2 (Go's server keeps :protocol in Header[":protocol"]).
func FromHTTP2(r *http.Request) Request {
	return Request{
		Method:     r.Method,
		ProtoMajor: r.ProtoMajor,
		ProtoMinor: r.ProtoMinor,
		Protocol:   r.Header.Get(":protocol"),
		Header:     r.Header,
	}
}

// h2Stream is an HTTP/2 extended CONNECT stream as a Stream: the request
// body in, the response body out (flushed after each frame).
type h2Stream struct {
	body      io.ReadCloser
	w         http.ResponseWriter
	rc        *http.ResponseController
	closeOnce sync.Once
}

func (s *h2Stream) Read(p []byte) (int, error)  { return s.body.Read(p) }
func (s *h2Stream) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *h2Stream) Flush() error                { return s.rc.Flush() }

// Close breaks the request body (a Read in progress returns); the stream
// itself ends when the handler returns.
func (s *h2Stream) Close() error {
	s.closeOnce.Do(func() { s.body.Close() })
	return nil
}

func (s *h2Stream) SetWriteDeadline(t time.Time) error {
	if err := s.rc.SetWriteDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// AcceptHTTP2 accepts a pending extended CONNECT handshake (RFC 8441 §5):
// a 200 with the upstream's subprotocol and extra fields, flushed, and the
// stream as a connection, ready to Run. The handler must Run it and return
// only then: the stream ends with the handler.
func AcceptHTTP2(w http.ResponseWriter, r *http.Request, hs *Handshake, subprotocol string, extra []http1.Field, opts Options) (*Conn, error) {
	fields, err := hs.ResponseHeader(subprotocol, extra)
	if err != nil {
		return nil, err
	}
	h := w.Header()
	for _, f := range fields {
		h.Add(f.Name, f.Value)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return nil, err
	}
	return NewConn(&h2Stream{body: r.Body, w: w, rc: rc}, nil, hs, opts), nil
}

// RefuseHTTP2 answers a refused handshake on HTTP/2.
func RefuseHTTP2(w http.ResponseWriter, e *HandshakeError) {
	for k, vs := range e.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(e.Status)
	io.WriteString(w, e.Reason+"\n")
}
