package http1

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/poller"
)

// A BodyError is returned by Request.Body.Read when the request body is
// malformed (a bad chunk size, a missing CRLF after chunk data, a bad trailer
// field). The connection is closed after the response, since the end of the
// body, and so the start of the next request, cannot be known. Status is the
// status code a server should answer with (400).
type BodyError struct {
	Status int
	Msg    string
}

func (e *BodyError) Error() string { return "http1: malformed request body: " + e.Msg }

func bodyError(msg string) *BodyError { return &BodyError{Status: 400, Msg: msg} }

// chunkLineMax bounds a chunk-size line (with its extensions) and each
// trailer field line.
const chunkLineMax = 4096

// maxChunkExtBytes bounds the chunk extensions of one body, all chunk-size
// lines together (everything after the hex size on each line). Extensions
// carry no data the application sees, so without this bound a client could
// send gigabytes of them in 1-byte chunks before any body limit, which
// counts only data, noticed.
const maxChunkExtBytes = 64 << 10

// maxDiscard is how much unread request body the server reads and throws away
// after the handler returns, to keep the connection; with more left, it
// closes the connection instead.
const maxDiscard = 256 << 10

const (
	bodyNone = iota
	bodyFixed
	bodyChunked
)

// States of the chunked decoder.
const (
	csSize    = iota // expecting a chunk-size line
	csData           // inside chunk data, n bytes left
	csCRLF           // expecting the CRLF after chunk data
	csTrailer        // reading trailer fields
)

var errLineTooLong = errors.New("line too long")

// body is the Request.Body of a connection. It reads through the
// connection's buffer, so bytes after the body stay there for the next
// request.
type body struct {
	c            *conn
	kind         int
	n            int64 // bodyFixed: bytes left; bodyChunked: bytes left in the chunk
	cs           int
	trailerBytes int
	extBytes     int       // chunk-extension bytes so far (see maxChunkExtBytes)
	rate         MinRate   // BodyMinRate over a sliding window of BodyReadTimeout
	recv         int64     // bytes read from the connection for this body
	lastArm      time.Time // when the read deadline was last armed (BodyMinRate only)
	err          error     // sticky: io.EOF at the end, or the error that broke the body
}

func (b *body) reset(c *conn) {
	*b = body{c: c, rate: c.cfg.bodyRate}
}

// done reports whether the whole body has been read.
func (b *body) done() bool { return b.kind == bodyNone || b.err == io.EOF }

// Read reads request body bytes into p.
func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	c := b.c
	if c.shared || c.continuePending {
		c.lockShared()
		if c.continuePending {
			c.continuePending = false
			if !c.rw.headSent {
				if err := c.writeContinue(); err != nil {
					b.err = err
					c.unlockShared()
					return 0, err
				}
			}
		}
		c.unlockShared()
	}
	switch b.kind {
	case bodyFixed:
		if len(p) == 0 {
			return 0, nil
		}
		if int64(len(p)) > b.n {
			p = p[:b.n]
		}
		n, err := c.readBody(p)
		b.n -= int64(n)
		if err != nil {
			b.fail(err)
		} else if b.n == 0 {
			b.setErr(io.EOF)
		}
		return n, err
	case bodyChunked:
		return b.readChunked(p)
	}
	b.setErr(io.EOF)
	return 0, io.EOF
}

// fail ends the body with err. The connection is closed after the
// response: the head says so (sendHead) and discardBody refuses it.
func (b *body) fail(err error) { b.setErr(err) }

// setErr sets the body's sticky end (io.EOF) or failure, which the
// response's head reads (sendHead), under bodyMu when the body is shared.
func (b *body) setErr(err error) {
	b.c.lockShared()
	b.err = err
	b.c.unlockShared()
}

func (b *body) readChunked(p []byte) (int, error) {
	c := b.c
	for {
		switch b.cs {
		case csSize:
			line, err := c.readLine(chunkLineMax)
			if err != nil {
				return 0, b.chunkErr(err, "chunk-size line too long")
			}
			size, ext, ok := parseChunkSize(line)
			if !ok {
				b.fail(bodyError("bad chunk-size line"))
				return 0, b.err
			}
			if b.extBytes += ext; b.extBytes > maxChunkExtBytes {
				b.fail(bodyError("chunk extensions too large"))
				return 0, b.err
			}
			if size == 0 {
				b.cs = csTrailer
			} else {
				b.cs, b.n = csData, size
			}
		case csData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > b.n {
				p = p[:b.n]
			}
			n, err := c.readBody(p)
			b.n -= int64(n)
			if b.n == 0 {
				b.cs = csCRLF
			}
			if err != nil {
				b.fail(err)
			}
			return n, err
		case csCRLF:
			for c.rend-c.rpos < 2 {
				if err := c.fillBody(0); err != nil {
					b.fail(err)
					return 0, err
				}
			}
			if c.rbuf[c.rpos] != '\r' || c.rbuf[c.rpos+1] != '\n' {
				b.fail(bodyError("chunk data not followed by CRLF"))
				return 0, b.err
			}
			c.rpos += 2
			b.cs = csSize
		case csTrailer:
			line, err := c.readLine(chunkLineMax)
			if err != nil {
				return 0, b.chunkErr(err, "trailer field too long")
			}
			if len(line) == 1 && line[0] == '\r' {
				b.setErr(io.EOF)
				return 0, io.EOF
			}
			b.trailerBytes += len(line) + 1
			if b.trailerBytes > c.cfg.maxHeaderBytes {
				b.fail(bodyError("trailer section too large"))
				return 0, b.err
			}
			if len(line) == 0 || line[len(line)-1] != '\r' {
				b.fail(bodyError("trailer field not ended by CRLF"))
				return 0, b.err
			}
			if _, ok := parseFieldLine(line[:len(line)-1]); !ok {
				b.fail(bodyError("bad trailer field"))
				return 0, b.err
			}
		}
	}
}

func (b *body) chunkErr(err error, tooLong string) error {
	if err == errLineTooLong {
		err = bodyError(tooLong)
	}
	b.fail(err)
	return err
}

// parseChunkSize parses a chunk-size line without its LF: 1*16HEXDIG, then
// optional whitespace and chunk extensions, which are ignored; the line must
// end in CR. ext is the length of what follows the hex size, without the CR.
func parseChunkSize(line []byte) (n int64, ext int, ok bool) {
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, 0, false
	}
	line = line[:len(line)-1]
	i := 0
	for ; i < len(line) && isHexDigit[line[i]]; i++ {
		if i == 16 {
			return 0, 0, false
		}
		n = n<<4 | int64(unhex(line[i]))
	}
	if i == 0 || n < 0 {
		return 0, 0, false
	}
	rest := line[i:]
	ext = len(rest)
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return n, ext, true
	}
	if rest[0] != ';' {
		return 0, 0, false
	}
	for _, c := range rest {
		if !isValueOct[c] {
			return 0, 0, false
		}
	}
	return n, ext, true
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// readBody reads body bytes into p from the buffer, or straight from the
// connection when the buffer is empty and p is at least as big as it.
func (c *conn) readBody(p []byte) (int, error) {
	if c.rpos == c.rend {
		if len(p) >= len(c.rbuf) {
			c.armBodyDeadline()
			for i := 0; i < 100; i++ {
				n, err := c.rwc.Read(p)
				if n > 0 {
					c.received(n)
					return n, nil
				}
				if err != nil {
					return 0, c.bodyReadErr(err)
				}
			}
			return 0, io.ErrNoProgress
		}
		if err := c.fillBody(0); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.rbuf[c.rpos:c.rend])
	c.rpos += n
	return n, nil
}

// fillBody reads more body bytes into the buffer, growing it up to max
// (0: no growth).
func (c *conn) fillBody(max int) error {
	c.armBodyDeadline()
	buffered := c.rend - c.rpos
	err := c.fill(max)
	c.received(c.rend - c.rpos - buffered)
	if err != nil {
		return c.bodyReadErr(err)
	}
	return nil
}

func (c *conn) bodyReadErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if isTimeout(err) {
		return &bodyTimeoutError{rate: c.rateBound(), err: err}
	}
	return err
}

// received counts n body bytes read from the connection.
func (c *conn) received(n int) {
	c.body.recv += int64(n)
	if c.body.rate.On() {
		c.body.rate.Received(n, time.Now())
	}
}

// armBodyDeadline arms the read deadline before a read of body bytes. The
// gap bound is BodyReadTimeout from now; with BodyMinRate, the body must
// also keep up BodyMinRate over a sliding window of BodyReadTimeout (see
// MinRate), so that a client trickling a byte now and then, each within
// the gap bound, is still cut off, however much it sent before. Both go
// through setReadDeadline's slack, so a steady stream of reads does not
// reset the timer on every call.
func (c *conn) armBodyDeadline() {
	t := c.cfg.bodyReadTimeout
	now := time.Now()
	dl := now.Add(t)
	if b := &c.body; b.rate.On() {
		b.lastArm = now
		if r := b.rate.Due(now); r.Before(dl) {
			dl = r
		}
	}
	c.setReadDeadline(dl, t/8)
}

// rateBound reports whether a body read that timed out did so because of
// BodyMinRate rather than the gap bound: the rate deadline is the earlier.
func (c *conn) rateBound() bool {
	b := &c.body
	return b.rate.On() && b.rate.Due(b.lastArm).Before(b.lastArm.Add(c.cfg.bodyReadTimeout))
}

// A bodyTimeoutError is what Request.Body.Read returns when the body did not
// arrive in time: a gap longer than Server.BodyReadTimeout, or an average
// rate below Server.BodyMinRate. It is a net.Error whose Timeout is true
// (see IsTimeout) and wraps the network error (os.ErrDeadlineExceeded).
type bodyTimeoutError struct {
	rate bool
	err  error
}

func (e *bodyTimeoutError) Error() string {
	if e.rate {
		return "http1: request body arrived slower than Server.BodyMinRate"
	}
	return "http1: no request body data within Server.BodyReadTimeout"
}

func (e *bodyTimeoutError) Timeout() bool   { return true }
func (e *bodyTimeoutError) Temporary() bool { return true }
func (e *bodyTimeoutError) Unwrap() error   { return e.err }

// IsTimeout reports whether err, as returned by Request.Body.Read, means that
// the client sent the body too slowly: nothing for longer than
// Server.BodyReadTimeout, or on average less than Server.BodyMinRate. A
// server should answer 408 (Request Timeout), if anything.
func IsTimeout(err error) bool { return isTimeout(err) }

// readLine returns the next line from the buffer, up to and without its LF.
// The line stays valid until the buffer is next filled. A line (with its LF)
// longer than limit gives errLineTooLong.
func (c *conn) readLine(limit int) ([]byte, error) {
	scan := 0
	for {
		buf := c.rbuf[c.rpos:c.rend]
		if k := bytes.IndexByte(buf[scan:], '\n'); k >= 0 {
			k += scan
			if k+1 > limit {
				return nil, errLineTooLong
			}
			c.rpos += k + 1
			return buf[:k], nil
		}
		scan = len(buf)
		if len(buf) >= limit {
			return nil, errLineTooLong
		}
		if err := c.fillBody(limit); err != nil {
			return nil, err
		}
	}
}

// discardBody reads and drops what the handler left of the request body so
// the connection can serve the next request. It reports whether the
// connection may be kept.
func (c *conn) discardBody() bool {
	b := &c.body
	if b.done() {
		return true
	}
	if b.err != nil || c.continuePending || c.continueSkipped {
		// A broken body, or a client still waiting for 100 (Continue)
		// that may never send the body.
		return false
	}
	if b.kind == bodyFixed && b.n > maxDiscard {
		return false
	}
	buf := c.rw.bodyBuf[:cap(c.rw.bodyBuf)]
	var total int
	for total <= maxDiscard {
		n, err := b.Read(buf)
		total += n
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// pullArrived moves what has already come of the next n bytes from the
// socket into the buffer, without waiting, and reports whether all n are
// there. Only for a plain socket: a TLS or otherwise wrapped connection
// may hold bytes its reader has taken from the socket.
func (c *conn) pullArrived(n int) bool {
	sc, ok := c.rwc.(syscall.Conn)
	if !ok || poller.Socket(c.rwc) != c.rwc {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	c.acquireRead()
	if len(c.rbuf)-c.rpos < n {
		if len(c.rbuf) >= n {
			c.rend = copy(c.rbuf, c.rbuf[c.rpos:c.rend])
			c.rpos = 0
		} else {
			nb := make([]byte, n)
			c.rend = copy(nb, c.rbuf[c.rpos:c.rend])
			c.rpos = 0
			c.rbuf = nb
			if c.rb != nil {
				readPool.Put(c.rb)
				c.rb = nil
			}
		}
	}
	for c.rend-c.rpos < n {
		var got int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			got, rerr = unix.Read(int(fd), c.rbuf[c.rend:c.rpos+n])
			return true // never wait
		}); err != nil || rerr != nil || got <= 0 {
			return false
		}
		c.rend += got
		c.received(got)
	}
	return true
}
