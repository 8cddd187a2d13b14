package poller

import (
	"crypto/tls"
	"net"
)

// AheadReader is a connection that read its first bytes ahead of its
// reader (h2's sniffing of a cleartext connection) and gives them again
// first. Once AheadDrained reports true, each of its reads is a read of its
// NetConn.
type AheadReader interface {
	NetConn() net.Conn
	AheadDrained() bool
}

// Socket is the connection under TLS and the wrappers that read ahead (a
// PROXY header, a sniffed preface): the one with the descriptor.
func Socket(c net.Conn) net.Conn {
	for i := 0; i < 8; i++ {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return c
}

// CanWait reports whether c, once a read of it has timed out with nothing
// buffered by its reader, may wait for its next input in the Set instead of
// in a goroutine's read: reading c then reads its socket and holds nothing
// read from it, so the socket's readiness is c's. That is so for
//   - the socket itself;
//   - TLS over a socket: crypto/tls reads its socket only when it holds no
//     decrypted input, and a read timeout does not break the connection (it
//     keeps only errors that are not temporary); after one it holds at most
//     the start of a record whose rest the socket will bring;
//   - a wrapper that has given back all it read ahead (AheadReader) over a
//     socket.
//
// This is the one rule for parking, for idle keep-alive connections
// (internal/http1) and quiet WebSockets (internal/websocket).
func CanWait(c net.Conn) bool {
	if Socket(c) == c {
		return true
	}
	var under net.Conn
	switch w := c.(type) {
	case *tls.Conn:
		under = w.NetConn()
	case AheadReader:
		if !w.AheadDrained() {
			return false
		}
		under = w.NetConn()
	default:
		return false
	}
	return Socket(under) == under
}
