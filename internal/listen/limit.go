package listen

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// Limit wraps listeners so that together they hold at most n open
// connections (--max-connections), whatever the connection turns out to
// be: HTTP/1.x, TLS (handshake included), HTTP/2, or one still waiting for
// its PROXY header. It sits at the outermost layer, right on the socket,
// so every later layer's connections count. At the limit Accept waits for
// a connection to close: new clients wait in the kernel's backlog, and the
// server goes on serving the connections it has. A connection's slot is
// freed when it is closed. n <= 0 means no limit.
func Limit(ls []net.Listener, n int) []net.Listener {
	if n <= 0 {
		return ls
	}
	sem := make(chan struct{}, n)
	out := make([]net.Listener, len(ls))
	for i, l := range ls {
		out[i] = &limitListener{Listener: l, sem: sem, done: make(chan struct{})}
	}
	return out
}

type limitListener struct {
	net.Listener
	sem  chan struct{} // one token per open connection, shared by the listeners
	done chan struct{} // closed by Close: a waiting Accept returns
	once sync.Once
}

// Accept waits for room under the limit, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, sem: l.sem}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it is first closed. It passes on the
// socket's optional methods (sendfile through ReadFrom, writev through
// WriteBuffers, half-close, the raw descriptor) that the layers above look
// for.
type limitConn struct {
	net.Conn
	sem    chan struct{}
	closed atomic.Bool
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		<-c.sem
	}
	return err
}

// ReadFrom lets sendfile(2) reach the socket.
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// WriteBuffers keeps writev(2) for the HTTP/1.x engine (http1.BuffersWriter):
// net.Buffers reach it only when written to the socket itself.
func (c *limitConn) WriteBuffers(b *net.Buffers) (int64, error) {
	return b.WriteTo(c.Conn)
}

// CloseWrite half-closes the socket, as *net.TCPConn does.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("CloseWrite not supported")
}

// SyscallConn exposes the socket, as *net.TCPConn does.
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("SyscallConn not supported")
}
