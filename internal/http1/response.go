package http1

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// bodyBufSize is the size of the buffer that holds the start of a response
// body until the head is sent. A response whose whole body fits in it and is
// finished before any Flush gets a Content-Length instead of chunked framing.
const bodyBufSize = 8 << 10

var (
	errFinished = errors.New("http1: write after Finish")
	errAborted  = errors.New("http1: response aborted")
)

// Response body framings.
const (
	modeNone    = iota // no body may be sent (HEAD, 204, 304)
	modeLength         // Content-Length
	modeChunked        // Transfer-Encoding: chunked
	modeClose          // delimited by closing the connection (HTTP/1.0)
)

// A ResponseWriter writes the response to one request. It buffers: nothing
// reaches the client before Flush, Finish, or a body that outgrows the
// buffer.
//
// A ResponseWriter must not be used after the handler returns, nor from two
// goroutines at once.
type ResponseWriter struct {
	c *conn

	status int
	reason string
	header []Field

	clen     int64 // Content-Length given by the application, or -1
	accepted int64 // body bytes accepted for the client
	appBytes int64 // all body bytes written by the application

	wroteHeader bool
	headSent    bool
	finished    bool
	isHead      bool
	noBody      bool
	hasDate     bool
	hasServer   bool
	mode        int

	trailers     bool    // DeclareTrailers said yes: a chunked body, ended with trailer fields
	trailerNames string  // the Trailer field to send, "" for none
	trailer      []Field // what FinishTrailers sends after the last chunk

	bodyBuf []byte // body bytes not yet handed to the connection's writer
	err     error
}

func (w *ResponseWriter) reset(c *conn, isHead bool) {
	buf := w.bodyBuf[:0]
	*w = ResponseWriter{c: c, clen: -1, isHead: isHead, bodyBuf: buf}
}

// WriteHeader records the status line and header fields of the response;
// nothing is sent yet.
//
// status must be in 200..999 (interim 1xx responses are the engine's
// business). reason is sent verbatim, even when empty, as the application
// gave it. header is the application's list of fields, written in order
// with names exactly as given; the caller must not change it until the
// response is finished. The engine adds the Server's Defaults (Date and
// Server fields unless the list has them, compared case-insensitively,
// then the Extra fields), and decides the framing
// itself: the list's Content-Length is honoured (the caller must have
// checked it is 1*DIGIT), while Transfer-Encoding and Connection fields are
// left out because framing and persistence are the engine's (a "close"
// token in Connection makes the engine close the connection after the
// response).
//
// A reason or field that could split the response (CR, LF or other control
// characters, a name that is not a token) is not sent: the response becomes
// a 500 with the connection closed after it, and the problem is logged.
//
// WriteHeader panics when called twice, or after Write, Flush or Finish
// (which imply WriteHeader(200, "OK", nil)).
func (w *ResponseWriter) WriteHeader(status int, reason string, header []Field) {
	if w.wroteHeader {
		panic("http1: WriteHeader called twice or after Write")
	}
	if status < 200 || status > 999 {
		panic("http1: WriteHeader: invalid status code " + strconv.Itoa(status))
	}
	w.wroteHeader = true
	w.c.lockShared()
	w.c.acquireOut() // held from the head to the connection's next idle wait
	w.c.unlockShared()
	w.status, w.reason, w.header = status, reason, header
	if w.trailers {
		w.header = w.trailerHead(header)
	}
	if !w.checkHeader() {
		w.c.cfg.log.Error("http1: handler sent an invalid response head; sending 500 instead",
			"status", status, "remote", w.c.req.RemoteAddr)
		w.status, w.reason, w.header = 500, "Internal Server Error", nil
		w.clen, w.hasDate, w.hasServer = -1, false, false
		w.c.closeAfter = true
	}
	w.noBody = w.isHead || w.status == 204 || w.status == 304
}

// checkHeader scans the application's head once: it validates it and
// notes the fields that matter to the engine.
func (w *ResponseWriter) checkHeader() bool {
	if !validValueString(w.reason) {
		return false
	}
	for i := range w.header {
		name, v := w.header[i].Name, w.header[i].Value
		if name == "" {
			return false
		}
		for j := 0; j < len(name); j++ {
			if !isTchar[name[j]] {
				return false
			}
		}
		if !validValueString(v) {
			return false
		}
		switch len(name) {
		case 4:
			if lowerEq(name, "date") {
				w.hasDate = true
			}
		case 6:
			if lowerEq(name, "server") {
				w.hasServer = true
			}
		case 10:
			if lowerEq(name, "connection") {
				for len(v) > 0 {
					var e string
					e, v = nextElem(v)
					if lowerEq(e, "close") {
						w.c.closeAfter = true
					}
				}
			}
		case 14:
			if lowerEq(name, "content-length") && w.clen < 0 {
				n, ok := parseContentLength(v)
				if !ok {
					return false
				}
				w.clen = n
			}
		}
	}
	return true
}

// WriteInterim sends an interim response now, ahead of the final one: a
// 1xx status (not 101, which the engine's hijacking owns) with its reason
// and fields, e.g. 103 (Early Hints) with Link fields. An HTTP/1.0 client
// gets none, since it would take it for the final response (RFC 9110
// §15.2); nor does any client once the final head was recorded. A field
// or reason that could split the response is refused (an error, nothing
// sent), as WriteHeader refuses it. An error from the connection means
// the client is gone.
func (w *ResponseWriter) WriteInterim(status int, reason string, header []Field) error {
	if status < 100 || status > 199 || status == 101 {
		return errors.New("http1: WriteInterim: not an interim status: " + strconv.Itoa(status))
	}
	if !validValueString(reason) || !validFields(header) {
		return errors.New("http1: WriteInterim: a reason or field that could split the response")
	}
	c := w.c
	if w.wroteHeader || c.req.ProtoMinor == 0 || w.err != nil {
		return w.err
	}
	c.lockShared() // a 100 (Continue) may be on its way out from the body's reader
	defer c.unlockShared()
	c.acquireOut()
	o := &c.ob
	b := append(c.scratch[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	o.write(b)
	o.writeString(reason)
	o.writeString("\r\n")
	writeFields(o, header)
	o.writeString("\r\n")
	return w.flush()
}

// DeclareTrailers, called before WriteHeader, says that the body will end
// with trailer fields (given to FinishTrailers), and reports whether they
// can reach this client: only an HTTP/1.1 client that sent "TE: trailers"
// takes them (RFC 9110 §6.5.1, RFC 9112 §7.1.2). Then the body is chunked
// whatever its length (a Content-Length field of the handler's is not
// sent), and names, when not empty, goes out as the Trailer field (RFC
// 9110 §6.6.2). Otherwise nothing changes, and the handler ends the
// response with Finish.
func (w *ResponseWriter) DeclareTrailers(names string) bool {
	if w.wroteHeader || w.c.req.ProtoMinor != 1 || !acceptsTrailers(w.c.req.Header) {
		return false
	}
	w.trailers, w.trailerNames = true, names
	return true
}

// trailerHead is the head of a response that ends with trailers: the
// handler's fields less Content-Length, plus the declared Trailer field,
// in a slice of its own (the handler's is left as it is).
func (w *ResponseWriter) trailerHead(header []Field) []Field {
	out := make([]Field, 0, len(header)+1)
	for _, f := range header {
		if !lowerEq(f.Name, "content-length") {
			out = append(out, f)
		}
	}
	if w.trailerNames != "" {
		out = append(out, Field{Name: "Trailer", Value: w.trailerNames})
	}
	return out
}

// acceptsTrailers reports whether a request's TE fields list "trailers".
func acceptsTrailers(header []Field) bool {
	for _, f := range header {
		if len(f.Name) != 2 || !lowerEq(f.Name, "te") {
			continue
		}
		for v := f.Value; v != ""; {
			var e string
			e, v = nextElem(v)
			if lowerEq(e, "trailers") {
				return true
			}
		}
	}
	return false
}

// FinishTrailers ends the response as Finish does, with the trailer
// fields after the last chunk when DeclareTrailers said yes; otherwise
// they are dropped. A field that could split the response is not sent:
// the connection is closed instead, and the client sees the body cut.
func (w *ResponseWriter) FinishTrailers(trailer []Field) error {
	if w.trailers {
		if !validFields(trailer) {
			w.Abort()
			return errAborted
		}
		w.trailer = trailer
	}
	return w.Finish()
}

// validFields reports whether fields could all be sent as they are: token
// names and values free of controls.
func validFields(fields []Field) bool {
	for i := range fields {
		if !ValidToken(fields[i].Name) || !validValueString(fields[i].Value) {
			return false
		}
	}
	return true
}

// writeFields writes "name: value" lines.
func writeFields(o *outBuf, fields []Field) {
	for i := range fields {
		o.writeField(fields[i].Name, fields[i].Value)
	}
}

// Write writes body bytes. They are buffered; see the package documentation
// for how the response is framed. Bytes beyond a Content-Length the
// application declared are dropped, and bytes for a response that cannot
// have a body (HEAD, 204, 304) are discarded, and in both cases Write still
// reports them written. An error means the client is gone or stopped
// reading for longer than Server.WriteTimeout; the connection is then
// closed.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if err := w.startBody(); err != nil {
		return 0, err
	}
	n := len(p)
	w.appBytes += int64(n)
	if w.noBody {
		return n, nil
	}
	if w.clen >= 0 {
		if left := w.clen - w.accepted; int64(len(p)) > left {
			p = p[:left]
		}
	}
	if len(p) == 0 {
		return n, nil
	}
	if !w.headSent {
		if len(w.bodyBuf)+len(p) <= cap(w.bodyBuf) {
			w.bodyBuf = append(w.bodyBuf, p...)
			w.accepted += int64(len(p))
			return n, nil
		}
		w.sendHead(false)
	}
	if w.mode == modeChunked {
		if len(w.bodyBuf)+len(p) <= cap(w.bodyBuf) {
			w.bodyBuf = append(w.bodyBuf, p...)
		} else {
			w.writeChunk(w.bodyBuf)
			w.bodyBuf = w.bodyBuf[:0]
			if len(p) >= cap(w.bodyBuf) {
				w.writeChunk(p)
			} else {
				w.bodyBuf = append(w.bodyBuf, p...)
			}
		}
	} else {
		w.writeBody(w.bodyBuf, p, w.accepted+int64(len(p)) == w.clen)
		w.bodyBuf = w.bodyBuf[:0]
	}
	w.c.nowFresh = false // the handler may take its time before the next write
	if err := w.c.werr; err != nil {
		w.err = err
		return 0, err
	}
	w.accepted += int64(len(p))
	return n, nil
}

// startBody checks that body bytes may be written now, recording a 200 OK
// head when the handler gave none.
func (w *ResponseWriter) startBody() error {
	if !w.wroteHeader {
		w.WriteHeader(200, "OK", nil)
	}
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return errFinished
	}
	return nil
}

// Flush sends the head, if not yet sent, and every body byte written so far.
// A response flushed before Finish cannot get a computed Content-Length: it
// is chunked (HTTP/1.1) or delimited by closing the connection (HTTP/1.0),
// unless the application declared a Content-Length.
func (w *ResponseWriter) Flush() error {
	if !w.wroteHeader {
		w.WriteHeader(200, "OK", nil)
	}
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return nil
	}
	if !w.headSent {
		w.sendHead(false)
	}
	w.writeBuffered()
	err := w.flush()
	w.c.nowFresh = false
	return err
}

// Finish ends the response: it sends the head if not yet sent, the buffered
// body, and the last chunk of a chunked body, and flushes. When the body
// is shorter than the Content-Length the application declared, the
// connection is closed after it, so the client sees the truncation. Finish
// is idempotent; the engine calls it when the handler did not.
func (w *ResponseWriter) Finish() error {
	if !w.wroteHeader {
		w.WriteHeader(200, "OK", nil)
	}
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return nil
	}
	w.finished = true
	if !w.headSent {
		w.sendHead(true)
	}
	w.writeBuffered()
	switch w.mode {
	case modeChunked:
		if len(w.trailer) > 0 {
			w.c.ob.writeString("0\r\n")
			writeFields(&w.c.ob, w.trailer)
			w.c.ob.writeString("\r\n")
			break
		}
		w.c.ob.writeString("0\r\n\r\n")
	case modeLength:
		if w.accepted < w.clen {
			w.c.closeAfter = true
		}
	}
	return w.flush()
}

// SendFile sends n bytes of f, from its current offset, as body bytes, with
// sendfile(2) where the connection allows it: the file's pages go to the
// socket without passing through user space. It sends the head first; the
// caller finishes the response with Finish. A Content-Length the
// application declared is honoured as with Write; for a response that can
// have no body nothing is read.
func (w *ResponseWriter) SendFile(f *os.File, n int64) (int64, error) {
	if err := w.startBody(); err != nil {
		return 0, err
	}
	w.appBytes += n
	if w.noBody {
		return 0, nil
	}
	if w.clen >= 0 && n > w.clen-w.accepted {
		n = w.clen - w.accepted
	}
	if !w.headSent {
		w.sendHead(false)
	}
	w.writeBuffered()
	c := w.c
	if w.mode == modeChunked && n > 0 {
		b := strconv.AppendInt(c.scratch[:0], n, 16)
		c.ob.write(append(b, '\r', '\n'))
	}
	if err := w.flush(); err != nil {
		return 0, err
	}
	// Copy in pieces, each bounded by WriteTimeout, so a slow but live
	// client can take a large file while a stalled one is cut off.
	const piece = 4 << 20
	var sent int64
	for sent < n {
		m := min(piece, n-sent)
		c.rwc.SetWriteDeadline(time.Now().Add(c.cfg.writeTimeout))
		k, err := io.Copy(c.rwc, io.LimitReader(f, m))
		sent += k
		if err == nil && k < m {
			err = io.ErrUnexpectedEOF // the file shrank
		}
		if err != nil {
			c.werr, c.closeAfter, w.err = err, true, err
			w.accepted += sent
			return sent, err
		}
	}
	c.wdl = time.Time{}
	w.accepted += sent
	if w.mode == modeChunked && n > 0 {
		c.ob.writeString("\r\n")
	}
	c.nowFresh = false
	return sent, nil
}

// Abort closes the connection at once, leaving the response incomplete, for
// an application that failed in the middle of a response. The client sees
// a truncated body (or no response at all when nothing was sent yet).
func (w *ResponseWriter) Abort() {
	c := w.c
	if c.aborted {
		return
	}
	c.aborted = true
	c.closeAfter = true
	w.finished = true
	w.err = errAborted
	c.rwc.Close()
}

// Interrupt closes the connection at once, so that a write blocked on a
// client that reads nothing fails now rather than after WriteTimeout. Unlike
// the other methods it may be called from another goroutine while the
// handler runs (not after it returns): the front cuts off the response of
// a stalled client whose buffered response others need the room of.
func (w *ResponseWriter) Interrupt() { w.c.rwc.Close() }

// SetClose makes the connection close after this response. When the head has
// not been sent yet it gets a "Connection: close" field.
func (w *ResponseWriter) SetClose() { w.c.closeAfter = true }

// Written returns the number of body bytes accepted for the client so far:
// what Write was given, less bytes beyond a declared Content-Length and
// bytes of a response that cannot have a body. It is meant for access logs.
func (w *ResponseWriter) Written() int64 {
	if w.noBody {
		return 0
	}
	return w.accepted
}

// Status returns the status code given to WriteHeader, or 0 before it.
func (w *ResponseWriter) Status() int { return w.status }

// Header returns the header fields given to WriteHeader (the caller's
// slice: valid until the caller reuses it). It is meant for access logs.
func (w *ResponseWriter) Header() []Field { return w.header }

// writeBuffered hands the buffered body to the connection's output buffer.
// A flush always follows (Flush, Finish, SendFile).
func (w *ResponseWriter) writeBuffered() {
	if len(w.bodyBuf) == 0 {
		return
	}
	if w.mode == modeChunked {
		w.writeChunk(w.bodyBuf)
	} else {
		w.writeBody(nil, w.bodyBuf, true)
	}
	w.bodyBuf = w.bodyBuf[:0]
}

// writeBody hands body bytes a, then p, to the connection's output buffer.
// A large p (see largeWrite) is not copied: it goes out at once, after the
// buffered bytes and a, in one writev, when it does not fit the buffer or
// when last says that only a flush follows (nothing would join it in the
// buffer).
func (w *ResponseWriter) writeBody(a, p []byte, last bool) {
	o := &w.c.ob
	if len(p) >= largeWrite && (last || len(a)+len(p) > o.free()) {
		o.writev(a, p, nil)
		return
	}
	o.write(a)
	o.write(p)
}

var crlf = []byte("\r\n")

// writeChunk hands p to the connection's output buffer as one chunk. A
// large p that does not fit the buffer is not copied: the buffered bytes
// (the chunk-size line among them), p and the CRLF after it go out in one
// writev.
func (w *ResponseWriter) writeChunk(p []byte) {
	if len(p) == 0 {
		return
	}
	o := &w.c.ob
	b := strconv.AppendInt(w.c.scratch[:0], int64(len(p)), 16)
	o.write(append(b, '\r', '\n'))
	if len(p) >= largeWrite && len(p)+len(crlf) > o.free() {
		o.writev(nil, p, crlf)
		return
	}
	o.write(p)
	o.write(crlf)
}

func (w *ResponseWriter) flush() error {
	c := w.c
	c.ob.flush()
	if c.werr != nil {
		w.err = c.werr
	}
	return w.err
}

// sendHead writes the response head into the connection's writer. final is
// set when called from Finish: the whole body is then in bodyBuf and its
// length is known.
func (w *ResponseWriter) sendHead(final bool) {
	c := w.c
	r := &c.req
	c.lockShared()
	w.headSent = true
	addLength := int64(-1)
	switch {
	case w.noBody:
		w.mode = modeNone
		if w.isHead && w.clen < 0 && final && w.appBytes > 0 && w.appBytes <= int64(cap(w.bodyBuf)) && !w.trailers {
			addLength = w.appBytes
		}
	case w.clen >= 0:
		w.mode = modeLength
		if final && w.accepted < w.clen {
			c.closeAfter = true
		}
	case w.trailers:
		w.mode = modeChunked // only a chunked body carries trailers
	case final:
		w.mode = modeLength
		w.clen = int64(len(w.bodyBuf))
		addLength = w.clen
	case r.ProtoMinor == 1:
		w.mode = modeChunked
	default:
		w.mode = modeClose
		c.closeAfter = true
	}
	if c.continuePending {
		// The client may be waiting for 100 (Continue) before it sends the
		// body; it will not get one now, so the body may never come.
		c.continuePending = false
		c.continueSkipped = true
		if !c.body.done() {
			c.closeAfter = true
		}
	}
	if c.body.err != nil && c.body.err != io.EOF || c.srv.shuttingDown() {
		c.closeAfter = true
	}
	c.unlockShared()

	c.now, c.nowFresh = time.Now(), true
	o := &c.ob
	o.writeString("HTTP/1.1 ")
	s := w.status
	o.writeByte(byte('0' + s/100))
	o.writeByte(byte('0' + s/10%10))
	o.writeByte(byte('0' + s%10))
	o.writeByte(' ')
	o.writeString(w.reason)
	o.writeString("\r\n")
	if !w.hasServer {
		o.writeString(c.cfg.serverLine)
	}
	if !w.hasDate && c.cfg.dateLine {
		o.write(dateLine(c.now))
	}
	o.writeString(c.cfg.extraLines)
	for i := range w.header {
		f := &w.header[i]
		if len(f.Name) == 10 && lowerEq(f.Name, "connection") ||
			len(f.Name) == 17 && lowerEq(f.Name, "transfer-encoding") {
			continue
		}
		o.writeField(f.Name, f.Value)
	}
	if addLength >= 0 {
		b := append(c.scratch[:0], "Content-Length: "...)
		b = strconv.AppendInt(b, addLength, 10)
		b = append(b, '\r', '\n')
		o.write(b)
	}
	if w.mode == modeChunked {
		o.writeString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case c.closeAfter:
		o.writeString("Connection: close\r\n")
	case r.ProtoMinor == 0:
		// An HTTP/1.0 client asked for keep-alive and the response is
		// self-delimiting.
		o.writeString("Connection: keep-alive\r\n")
	}
	o.writeString("\r\n")
}

// dateEntry is a formatted Date header line for one second.
type dateEntry struct {
	sec   int64
	line  []byte // "Date: <IMF-fixdate>\r\n"
	value string // the IMF-fixdate alone
}

var curDate atomic.Pointer[dateEntry]

// currentDate returns the Date of now, formatted at most once a second
// (per process).
func currentDate(now time.Time) *dateEntry {
	sec := now.Unix()
	if d := curDate.Load(); d != nil && d.sec == sec {
		return d
	}
	b := make([]byte, 0, 40)
	b = append(b, "Date: "...)
	b = now.UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
	b = append(b, '\r', '\n')
	d := &dateEntry{sec: sec, line: b, value: string(b[len("Date: ") : len(b)-2])}
	curDate.Store(d)
	return d
}

// dateLine returns "Date: <IMF-fixdate>\r\n" for now.
func dateLine(now time.Time) []byte { return currentDate(now).line }
