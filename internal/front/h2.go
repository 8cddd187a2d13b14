package front

import (
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/internal/h2"
	"github.com/gowsgi/gowsgi/internal/http1"
)

// ServeHTTP serves a request that Go's HTTP/2 server (golang.org/x/net/http2)
// parsed, with the same code as ServeHTTP1: the request becomes an
// *http1.Request, whose fields mean what they mean for HTTP/1.1, and the
// stream is written through h2Writer. The environ differs only in
// SERVER_PROTOCOL, HTTP/2.0. HTTP/2 carries no reason phrase, so the
// application's is dropped; the status code is kept.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.WebSocket != nil && h.isExtendedConnect(r) {
		h.serveExtendedConnect(w, r) // websocket_h2.go
		return
	}
	hw, rq, refuse := h.h2Request(w, r)
	if refuse != 0 {
		h.plain(hw, rq, refuse, http.StatusText(refuse), nil)
		return
	}
	h.serve(hw, rq)
	if hw.aborted && r.Context().Err() == nil {
		// Resets the stream (RST_STREAM): the client sees the response
		// cut short, as an HTTP/1.1 client sees the connection close. A
		// stream the client reset (its context ended) is gone already.
		panic(http.ErrAbortHandler)
	}
}

// h2Request is r as the front's request and its stream as a
// responseWriter; refuse is the status for a request that breaks the
// HTTP/1.1 request rules (0 if none).
func (h *Handler) h2Request(w http.ResponseWriter, r *http.Request) (*h2Writer, *request, int) {
	target, refuse := h.checkH2(r) // the HTTP/1.1 request rules; see checkH2
	rc := http.NewResponseController(w)
	hr := &http1.Request{
		Method:        r.Method,
		Target:        r.RequestURI,
		Host:          r.Host,
		ContentLength: r.ContentLength,
		TLS:           h2TLS(r),
		ProtoMinor:    1,
		Path:          target.Path,
		RawQuery:      target.RawQuery,
	}
	if hr.ContentLength < 0 {
		// No content-length: the body ends with the stream. The front reads
		// it as it reads a chunked HTTP/1.1 body, to the end, and tells
		// the application its length.
		hr.Chunked = true
	}
	if hr.ContentLength != 0 || hr.Chunked {
		hr.Body = &h2Body{r: r.Body, rc: rc, timeout: h.BodyTimeout, rate: http1.NewMinRate(h.BodyMinRate, h.BodyTimeout)}
	} else {
		hr.Body = http.NoBody
	}
	for name, vs := range r.Header {
		for _, v := range vs {
			hr.Header = append(hr.Header, http1.Field{Name: name, Value: v})
		}
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		hr.LocalAddr = a
	}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if ip := net.ParseIP(host); ip != nil {
			p, _ := strconv.Atoi(port)
			hr.RemoteAddr = &net.TCPAddr{IP: ip, Port: p}
		}
	}
	hw := &h2Writer{w: w, rc: rc, isHead: r.Method == "HEAD", writeTimeout: h.WriteTimeout, defaults: &h.Defaults}
	return hw, &request{Request: hr, proto: "HTTP/2.0", ctx: r.Context()}, refuse
}

// h2Body reads an HTTP/2 request body under the HTTP/1.1 engine's rules:
// each Read must make progress within timeout, and the body must keep up
// the minimum rate over a sliding window of timeout (http1.MinRate, as
// http1.Server.BodyMinRate).
type h2Body struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
	rate    http1.MinRate
}

// Close closes the stream's body: a Read blocked on the client returns
// (a streamed body's reader stops so; see bodyPump.end).
func (b *h2Body) Close() error {
	if c, ok := b.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (b *h2Body) Read(p []byte) (int, error) {
	if b.timeout > 0 {
		now := time.Now()
		dl := now.Add(b.timeout)
		if b.rate.On() {
			if r := b.rate.Due(now); r.Before(dl) {
				dl = r
			}
		}
		b.rc.SetReadDeadline(dl)
	}
	n, err := b.r.Read(p)
	if b.rate.On() {
		b.rate.Received(n, time.Now())
	}
	return n, err
}

// h2Writer is a responseWriter over one HTTP/2 stream.
type h2Writer struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	writeTimeout time.Duration
	isHead       bool
	defaults     *http1.Defaults // the server's own fields

	status   int
	clen     int64 // the application's Content-Length, or -1
	written  int64
	wrote    bool
	noBody   bool
	aborted  bool
	finished bool
	trailers bool // DeclareTrailers was called
}

func (w *h2Writer) WriteHeader(status int, _ string, header []http1.Field) {
	if w.wrote {
		panic("front: WriteHeader called twice")
	}
	w.wrote, w.status, w.clen = true, status, -1
	hdr := w.w.Header()
	h2.SetDefaults(hdr, w.defaults, header)
	hasType := false
	for _, f := range header {
		hdr.Add(f.Name, f.Value)
		switch {
		case strings.EqualFold(f.Name, "Content-Type"):
			hasType = true
		case strings.EqualFold(f.Name, "Content-Length"):
			if w.clen < 0 {
				w.clen, _ = strconv.ParseInt(f.Value, 10, 64)
			}
		}
	}
	if !hasType {
		hdr["Content-Type"] = nil // no sniffing: the app's headers, as over HTTP/1.1
	}
	w.noBody = w.isHead || status == 204 || status == 304
	w.w.WriteHeader(status)
}

// WriteInterim sends a 1xx HEADERS frame with the fields (Go's server
// sends the Header map's fields with it, and the frame is written when
// WriteHeader returns); the map is then emptied for the final head.
func (w *h2Writer) WriteInterim(status int, _ string, header []http1.Field) error {
	if w.wrote || w.aborted {
		return nil
	}
	hdr := w.w.Header()
	for _, f := range header {
		hdr.Add(f.Name, f.Value)
	}
	w.deadline()
	w.w.WriteHeader(status)
	clear(hdr)
	return nil
}

// DeclareTrailers: an HTTP/2 stream always takes trailers (a HEADERS frame
// after the DATA); names goes out as the Trailer field.
func (w *h2Writer) DeclareTrailers(names string) bool {
	if w.wrote {
		return false
	}
	w.trailers = true
	if names != "" {
		w.w.Header().Set("Trailer", names)
	}
	return true
}

// FinishTrailers gives the trailers to Go's server (the TrailerPrefix
// keys), which sends them when the handler returns.
func (w *h2Writer) FinishTrailers(trailer []http1.Field) error {
	if w.trailers && !w.noBody && !w.aborted {
		hdr := w.w.Header()
		for _, f := range trailer {
			hdr.Add(http.TrailerPrefix+f.Name, f.Value)
		}
	}
	return w.Finish()
}

func (w *h2Writer) start() error {
	if !w.wrote {
		w.WriteHeader(200, "OK", nil)
	}
	if w.aborted {
		return errAbortedStream
	}
	return nil
}

var errAbortedStream = &httpError{500, "stream aborted"}

func (w *h2Writer) Write(p []byte) (int, error) {
	if err := w.start(); err != nil {
		return 0, err
	}
	n := len(p)
	if w.noBody {
		return n, nil
	}
	if w.clen >= 0 && int64(len(p)) > w.clen-w.written {
		p = p[:w.clen-w.written] // as over HTTP/1.1: bytes past Content-Length are dropped
	}
	if len(p) == 0 {
		return n, nil
	}
	w.deadline()
	m, err := w.w.Write(p)
	w.written += int64(m)
	if err != nil {
		return m, err
	}
	return n, nil
}

func (w *h2Writer) deadline() {
	if w.writeTimeout > 0 {
		w.rc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	}
}

func (w *h2Writer) Flush() error {
	if err := w.start(); err != nil {
		return err
	}
	w.deadline()
	return w.rc.Flush()
}

// Finish ends the response. The stream ends when ServeHTTP returns; a body
// shorter than its Content-Length makes Go's server reset the stream.
func (w *h2Writer) Finish() error {
	if err := w.start(); err != nil {
		return err
	}
	w.finished = true
	return nil
}

func (w *h2Writer) SendFile(f *os.File, n int64) (int64, error) {
	if err := w.start(); err != nil {
		return 0, err
	}
	if w.noBody {
		return 0, nil
	}
	buf := make([]byte, 32<<10)
	var sent int64
	for sent < n {
		m, err := f.Read(buf[:min(int64(len(buf)), n-sent)])
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return sent, werr
			}
			sent += int64(m)
		}
		if err == io.EOF && sent < n {
			return sent, io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return sent, err
		}
	}
	return sent, nil
}

func (w *h2Writer) Abort() { w.aborted = true }

// Interrupt resets the stream at once (a write deadline in the past does
// that in Go's HTTP/2 server), failing a write blocked on its flow-control
// window.
func (w *h2Writer) Interrupt() { w.rc.SetWriteDeadline(time.Unix(1, 0)) }

// SetClose has nothing to do: an HTTP/2 connection carries other streams.
func (w *h2Writer) SetClose() {}

func (w *h2Writer) Status() int { return w.status }

func (w *h2Writer) Written() int64 {
	if w.noBody {
		return 0
	}
	return w.written
}
