// Package websocket is gowsgi's WebSocket engine (RFC 6455, with
// permessage-deflate, RFC 7692): Go terminates the protocol, and the
// upstream (an ASGI worker, through the front) sees whole messages.
//
// It has three parts:
//
//   - The handshake (handshake.go): CheckHTTP1 and CheckHTTP2 hold an upgrade
//     request (HTTP/1.1 Upgrade, or HTTP/2 extended CONNECT, RFC 8441) to RFC
//     6455 §4.2.1 and answer a bad one with a *HandshakeError (400 or 426 and
//     a reason) before any upstream sees it. A good one is a *Handshake: a
//     pending session whose success response goes out only when the upstream
//     accepts (WriteResponse101, or ResponseHeader for HTTP/2), with its
//     subprotocol and extra header fields.
//   - The connection (conn.go): Conn runs one accepted WebSocket over any byte
//     stream. It checks every frame (masking, reserved bits and opcodes,
//     control frames, fragmentation, UTF-8 of text across fragments, close
//     codes), answers pings, runs the close handshake, sends keep-alive pings
//     and fails a peer that does not answer, and bounds everything: messages
//     by Options.MaxMessageSize (1009), decompressed output by the same limit
//     (a deflate bomb stops there), and the incoming queue by bytes (then the
//     reader stops reading, and TCP or HTTP/2 flow control holds the client).
//     Nothing outgoing is queued: Send writes the frame itself, so a slow
//     reader makes it wait (and slows the upstream), and a message costs no
//     goroutine hand-off on its way out.
//   - permessage-deflate (deflate.go), negotiated from the client's offer.
//
// # Why gobwas/ws
//
// Framing uses github.com/gobwas/ws's frame primitives (header parsing and
// writing, masking, close-code rules) because they work on any byte stream:
// gowsgi's own HTTP/1.1 engine (internal/http1) is not net/http and hands over
// a raw net.Conn after Hijack, and an HTTP/2 extended CONNECT stream is a
// request body and a response writer, not a connection at all.
// github.com/coder/websocket (and gorilla/websocket) need a hijackable
// net/http connection and own the handshake and the read loop, which would
// leave no room for a handshake held until the upstream decides, nor for
// the bounded queues between the socket and the worker. The message layer
// (assembly, UTF-8, limits, queues, close handshake) is this package's.
package websocket
