package http1

import (
	"errors"
	"net"
	"time"
)

// ErrHijackTooLate is returned by Hijack once the engine has started on a
// response (the head went out, or the connection was aborted), or while the
// request still has unread body: the byte stream is no longer the caller's
// to take.
var ErrHijackTooLate = errors.New("http1: cannot hijack: a response was started or the request body is unread")

// Hijack takes the connection over from the engine, for a protocol that
// replaces HTTP on it after an upgrade handshake (a WebSocket). It returns
// the connection, with its deadlines cleared, and a copy of the input the
// engine had read past the request head (bytes the client sent right after
// its handshake, which belong to the new protocol).
//
// After Hijack the engine writes nothing more and does not close the
// connection: the caller owns it and must close it. The connection still
// counts as the server's until the handler returns, so a handler that runs
// the new protocol to its end inside ServeHTTP1 keeps counting against
// Server.MaxConns, makes Shutdown wait for it (bounded by Shutdown's
// context), and has it closed by Server.Close. The Request stays valid until
// the handler returns, as ever.
//
// This is the only way out of the request loop; requests that are not
// hijacked pay nothing for it.
func (w *ResponseWriter) Hijack() (net.Conn, []byte, error) {
	c := w.c
	if w.headSent || c.aborted || !c.body.done() {
		return nil, nil, ErrHijackTooLate
	}
	var buffered []byte
	if c.rend > c.rpos {
		buffered = append([]byte(nil), c.rbuf[c.rpos:c.rend]...)
	}
	c.releaseRead() // back to its pool: not needed for the connection's long life
	// aborted makes the request loop return without a response and without
	// touching the connection again (see conn.serve).
	c.aborted, c.closeAfter = true, true
	w.wroteHeader, w.finished = true, true
	w.err = errHijacked
	c.rwc.SetDeadline(time.Time{})
	c.rdl, c.wdl = time.Time{}, time.Time{}
	c.releaseOut() // the output buffers go back to the pool for the connection's long life
	if c.watchKey != 0 {
		// The new owner watches the socket itself (and may put it in the
		// same epoll set: see internal/websocket's park.go).
		watcher.set.Remove(c.rc, c.watchKey)
		c.watchKey = 0
	}
	return c.rwc, buffered, nil
}

var errHijacked = errors.New("http1: connection hijacked")
