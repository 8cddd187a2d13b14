package proxy

// The PROXY protocol (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt)
// is parsed here by hand: the one well-kept Go library for it
// (github.com/pires/go-proxyproto) is not available from the module proxy
// this project builds with, and the two header forms gowsgi needs (v1 text,
// v2 binary; TLVs skipped) are short and fully specified.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mode is which PROXY protocol versions a listener accepts (gunicorn's
// proxy_protocol: off, v1, v2, auto; true means auto).
type Mode int

// PROXY protocol modes.
const (
	Off Mode = iota
	V1
	V2
	Auto
)

// ParseMode reads a proxy_protocol value: a boolean (true = auto), off,
// v1, v2 or auto.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off", "false", "no", "n", "0", "f", "none":
		return Off, nil
	case "v1", "1":
		return V1, nil
	case "v2", "2":
		return V2, nil
	case "auto", "on", "true", "yes", "y", "t", "both":
		return Auto, nil
	}
	return Off, fmt.Errorf("%q is not a PROXY protocol mode (off, v1, v2, auto, or a boolean)", s)
}

func (m Mode) String() string { return [...]string{"off", "v1", "v2", "auto"}[m] }

// v2sig starts every PROXY v2 header.
var v2sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Listener reads the PROXY header of each connection from an allowed peer
// before handing the connection on, so the HTTP engine sees the client's
// address as RemoteAddr. Headers are read in a goroutine per connection
// under HeaderTimeout: a peer that sends nothing never blocks Accept.
//
// A connection from an allowed peer may start with a PROXY header (of a
// version Mode accepts) or with the request itself; one from any other peer
// is handed on untouched, so a PROXY line it sends is a bad request and
// cannot set an address.
type Listener struct {
	net.Listener
	Allow         *AllowList
	Mode          Mode
	HeaderTimeout time.Duration
	Log           *slog.Logger

	once   sync.Once
	conns  chan net.Conn
	errc   chan error
	closed chan struct{}
}

// Accept returns the next connection whose PROXY header (if any) has been
// read.
func (l *Listener) Accept() (net.Conn, error) {
	l.once.Do(l.start)
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections still being read are closed.
func (l *Listener) Close() error {
	l.once.Do(l.start)
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return l.Listener.Close()
}

func (l *Listener) start() {
	l.conns = make(chan net.Conn)
	l.errc = make(chan error, 1)
	l.closed = make(chan struct{})
	go l.acceptLoop()
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case l.errc <- err:
			case <-l.closed:
			}
			return
		}
		if !l.Allow.TrustsPeer(c.RemoteAddr()) {
			l.hand(c)
			continue
		}
		go func() {
			pc, err := l.readHeader(c)
			if err != nil {
				if l.Log != nil {
					l.Log.Warn("PROXY protocol: closing connection", "remote", c.RemoteAddr().String(), "err", err)
				}
				c.Close()
				return
			}
			l.hand(pc)
		}()
	}
}

func (l *Listener) hand(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

// readHeader reads an optional PROXY header from c.
func (l *Listener) readHeader(c net.Conn) (net.Conn, error) {
	if l.HeaderTimeout > 0 {
		c.SetReadDeadline(time.Now().Add(l.HeaderTimeout))
		defer c.SetReadDeadline(time.Time{})
	}
	br := bufio.NewReaderSize(c, 256)
	pc := &Conn{Conn: c, br: br, remote: c.RemoteAddr(), local: c.LocalAddr()}
	first, err := br.Peek(1)
	if err != nil {
		return nil, err
	}
	switch first[0] {
	case 'P':
		b, err := br.Peek(6)
		if err != nil || string(b) != "PROXY " {
			return pc, nil // POST, PUT, PATCH...
		}
		if l.Mode == V2 {
			return nil, errors.New("PROXY v1 header, but --proxy-protocol is v2")
		}
		return pc, pc.readV1()
	case '\r':
		b, err := br.Peek(len(v2sig))
		if err != nil || !bytes.Equal(b, v2sig) {
			return pc, nil
		}
		if l.Mode == V1 {
			return nil, errors.New("PROXY v2 header, but --proxy-protocol is v1")
		}
		return pc, pc.readV2()
	}
	return pc, nil
}

// Conn is a connection whose addresses come from its PROXY header.
type Conn struct {
	net.Conn
	br            *bufio.Reader // drained before reads go to Conn directly
	remote, local net.Addr
}

// RemoteAddr is the client's address as the proxy stated it.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is the address the client connected to, as the proxy stated it.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// NetConn is the connection under the PROXY header (the HTTP/1.x engine
// watches its descriptor for a client that goes away).
func (c *Conn) NetConn() net.Conn { return c.Conn }

func (c *Conn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// ReadFrom lets sendfile(2) reach the socket.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes the socket, as *net.TCPConn does.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("CloseWrite not supported")
}

// SyscallConn exposes the socket, as *net.TCPConn does.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("SyscallConn not supported")
}

// readV1 reads "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n" (at most
// 107 bytes).
func (c *Conn) readV1() error {
	var line []byte
	for len(line) < 107 {
		b, err := c.br.ReadByte()
		if err != nil {
			return err
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return errors.New("PROXY v1 header too long or not ended by CRLF")
	}
	f := strings.Split(s, " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return nil // the proxy does not know: keep the connection's addresses
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return fmt.Errorf("malformed PROXY v1 header %q", s)
	}
	src, dst := net.ParseIP(f[2]), net.ParseIP(f[3])
	sp, err1 := strconv.ParseUint(f[4], 10, 16)
	dp, err2 := strconv.ParseUint(f[5], 10, 16)
	if src == nil || dst == nil || err1 != nil || err2 != nil || (f[1] == "TCP4") != (src.To4() != nil) {
		return fmt.Errorf("malformed PROXY v1 header %q", s)
	}
	c.remote = &net.TCPAddr{IP: src, Port: int(sp)}
	c.local = &net.TCPAddr{IP: dst, Port: int(dp)}
	return nil
}

// readV2 reads the binary header: signature, version and command, family,
// length, addresses, TLVs (skipped).
func (c *Conn) readV2() error {
	var hdr [16]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return err
	}
	if hdr[12]>>4 != 2 {
		return fmt.Errorf("PROXY v2 header with version %d", hdr[12]>>4)
	}
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	body := make([]byte, n)
	if _, err := io.ReadFull(c.br, body); err != nil {
		return err
	}
	switch hdr[12] & 0xf {
	case 0: // LOCAL: a health check by the proxy itself
		return nil
	case 1: // PROXY
	default:
		return fmt.Errorf("PROXY v2 header with command %d", hdr[12]&0xf)
	}
	switch hdr[13] {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return errors.New("short PROXY v2 IPv4 address block")
		}
		c.remote = &net.TCPAddr{IP: net.IP(body[0:4]), Port: int(binary.BigEndian.Uint16(body[8:10]))}
		c.local = &net.TCPAddr{IP: net.IP(body[4:8]), Port: int(binary.BigEndian.Uint16(body[10:12]))}
	case 0x21: // TCP over IPv6
		if n < 36 {
			return errors.New("short PROXY v2 IPv6 address block")
		}
		c.remote = &net.TCPAddr{IP: net.IP(body[0:16]), Port: int(binary.BigEndian.Uint16(body[32:34]))}
		c.local = &net.TCPAddr{IP: net.IP(body[16:32]), Port: int(binary.BigEndian.Uint16(body[34:36]))}
	}
	// UNSPEC, UDP and unix families: keep the connection's addresses.
	return nil
}
