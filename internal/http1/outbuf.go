package http1

import (
	"io"
	"net"
	"time"
)

// largeWrite is the size from which a body piece is not copied into the
// output buffer when it does not fit there, or when it ends the response
// (nothing else would join it in the buffer): the buffered bytes (the head,
// a chunk-size line) and the piece go out together in one writev instead.
// Smaller pieces are copied: that is cheap, and lets them share a write
// with what follows.
const largeWrite = 4 << 10

// outBuf is a connection's output buffer. Bytes written to it go out on
// flush, or when the buffer cannot take them. Every write to the connection
// is bounded by WriteTimeout; the first error is kept in conn.werr (and
// closes the connection after the response), and later writes are dropped.
//
// It is hand-made rather than a bufio.Writer because it must hand its
// buffered bytes and a large piece to one writev (net.Buffers, which the
// TCP and unix connections send with writev(2)). A bufio.Writer does not
// expose its buffered bytes: given a piece larger than its free space it
// first tops up its buffer with the start of the piece, copying it, and
// writes that, then the rest: two write(2) calls and a copy where one
// writev does. Where the connection has no writev (TLS, a wrapper),
// net.Buffers writes the pieces one by one, still without the copy.
//
// The buffered bytes are buf[:n], with buf kept at its full length: moving
// n is a plain store, where appending to a slice field would also store the
// slice's pointer, with a write barrier while the GC runs, on every write.
type outBuf struct {
	c    *conn
	buf  []byte      // the buffer, nil while idle
	n    int         // bytes buffered
	vec  [4][]byte   // backing store of bufs, so that a writev allocates nothing
	bufs net.Buffers // what one writev sends
}

// free reports how many more bytes the buffer takes without a write.
func (o *outBuf) free() int { return len(o.buf) - o.n }

// writeString buffers s.
func (o *outBuf) writeString(s string) {
	if len(s) <= o.free() {
		o.n += copy(o.buf[o.n:], s)
		return
	}
	o.writeSlow(nil, s)
}

// writeField buffers one header field line, "name: value\r\n", with one
// check for room where four writeString calls would make four.
func (o *outBuf) writeField(name, value string) {
	if len(name)+len(value)+4 <= o.free() {
		b := o.buf[o.n:]
		n := copy(b, name)
		b[n], b[n+1] = ':', ' '
		n += 2
		n += copy(b[n:], value)
		b[n], b[n+1] = '\r', '\n'
		o.n += n + 2
		return
	}
	o.writeString(name)
	o.writeString(": ")
	o.writeString(value)
	o.writeString("\r\n")
}

// writeByte buffers b.
func (o *outBuf) writeByte(b byte) {
	if o.free() == 0 {
		o.flushFull()
	}
	o.buf[o.n] = b
	o.n++
}

// write buffers p, or, when p is large and does not fit, sends the buffered
// bytes and p at once without copying p.
func (o *outBuf) write(p []byte) {
	if len(p) <= o.free() {
		o.n += copy(o.buf[o.n:], p)
		return
	}
	if len(p) >= largeWrite {
		o.writev(nil, p, nil)
		return
	}
	o.writeSlow(p, "")
}

// writeSlow buffers p or s (one of them is empty), which does not fit: it
// fills the buffer, sends it, and goes on.
func (o *outBuf) writeSlow(p []byte, s string) {
	for len(p) > 0 || len(s) > 0 {
		if o.free() == 0 {
			o.flushFull()
		}
		if len(p) > 0 {
			k := copy(o.buf[o.n:], p)
			o.n += k
			p = p[k:]
		} else {
			k := copy(o.buf[o.n:], s)
			o.n += k
			s = s[k:]
		}
	}
}

// flushFull sends the buffered bytes to make room.
func (o *outBuf) flushFull() {
	if len(o.buf) == 0 {
		panic("http1: write to a connection without its output buffer")
	}
	o.flush()
}

// flush sends the buffered bytes.
func (o *outBuf) flush() {
	if o.n == 0 {
		return
	}
	c := o.c
	if c.werr == nil {
		c.armWrite()
		n, err := c.rwc.Write(o.buf[:o.n])
		if err == nil && n < o.n {
			err = io.ErrShortWrite
		}
		if err != nil {
			c.writeFailed(err)
		}
	}
	o.n = 0
}

// BuffersWriter is a connection wrapper that keeps its socket's writev:
// net.Buffers reach writev(2) only when written to the socket itself (a
// *net.TCPConn or *net.UnixConn), so a wrapper that counts or watches the
// connection passes them on through this method (b.WriteTo(socket)).
type BuffersWriter interface {
	WriteBuffers(b *net.Buffers) (int64, error)
}

// writev sends the buffered bytes, then a, p and tail (any may be empty),
// in one writev where the connection allows it, without copying them.
// net.Buffers.WriteTo goes on after a short write until all is sent or the
// write fails.
func (o *outBuf) writev(a, p, tail []byte) {
	c := o.c
	if c.werr == nil {
		v := o.vec[:0]
		for _, b := range [...][]byte{o.buf[:o.n], a, p, tail} {
			if len(b) > 0 {
				v = append(v, b)
			}
		}
		want := int64(o.n + len(a) + len(p) + len(tail))
		var n int64
		var err error
		c.armWrite()
		if len(v) == 1 {
			var m int
			m, err = c.rwc.Write(v[0])
			n = int64(m)
		} else {
			o.bufs = v
			if bw, ok := c.rwc.(BuffersWriter); ok {
				n, err = bw.WriteBuffers(&o.bufs)
			} else {
				n, err = o.bufs.WriteTo(c.rwc)
			}
			o.bufs = nil
		}
		clear(o.vec[:]) // hold no reference to the caller's bytes
		if err == nil && n < want {
			err = io.ErrShortWrite
		}
		if err != nil {
			c.writeFailed(err)
		}
	}
	o.n = 0
}

// armWrite bounds the next write with WriteTimeout. It leaves an armed
// deadline alone when the new one would be later by at most an eighth of
// the timeout, which saves a timer update per response; c.now stands for
// time.Now while c.nowFresh says no wait came since it was taken.
func (c *conn) armWrite() {
	wt := c.cfg.writeTimeout
	var t time.Time
	if c.nowFresh {
		t = c.now.Add(wt)
	} else {
		t = time.Now().Add(wt)
	}
	if c.wdl.IsZero() || c.wdl.After(t) || t.Sub(c.wdl) > wt/8 {
		c.wdl = t
		c.rwc.SetWriteDeadline(t)
	}
}

// writeFailed records the first write error; the connection is closed after
// the response.
func (c *conn) writeFailed(err error) {
	c.werr = err
	c.closeAfter = true
}
