package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// keyGUID is RFC 6455's magic string for Sec-WebSocket-Accept.
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// A Request is the part of an HTTP request the handshake looks at, from
// whichever engine received it.
type Request struct {
	Method     string
	ProtoMajor int // 1 or 2
	ProtoMinor int
	// Protocol is HTTP/2's :protocol pseudo-header (RFC 8441); "" for
	// HTTP/1.x.
	Protocol string
	// Header holds the request's fields with canonical names
	// (http.CanonicalHeaderKey), every line kept.
	Header http.Header
	// HasBody reports a request body (Content-Length above 0, or chunked).
	HasBody bool
}

// A HandshakeError is a handshake refused before any upstream sees it: the
// HTTP status to answer with, a reason for the client (the response body)
// and fields the response must carry (426's Sec-WebSocket-Version).
type HandshakeError struct {
	Status int
	Reason string
	Header http.Header
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket handshake: %d %s", e.Status, e.Reason)
}

func refuse(status int, reason string) *HandshakeError {
	return &HandshakeError{Status: status, Reason: reason}
}

// A Handshake is a valid opening handshake, pending: nothing has been sent
// to the client. The upstream decides: accept (WriteResponse101 or
// ResponseHeader, then NewConn), or deny with any HTTP response (a close
// before accept is a 403, as ASGI says).
type Handshake struct {
	// HTTP2 is set for an extended CONNECT stream (RFC 8441): the success
	// response is a 200 with no Sec-WebSocket-Accept.
	HTTP2 bool
	// Key is Sec-WebSocket-Key (HTTP/1.1 only).
	Key string
	// Subprotocols are the client's Sec-WebSocket-Protocol values, in the
	// client's order of preference.
	Subprotocols []string
	// Deflate holds the accepted permessage-deflate parameters; nil when
	// the client offered none that fit, or compression is off.
	Deflate *DeflateParams
}

// HandshakeOptions are the server's side of the negotiation.
type HandshakeOptions struct {
	// Compression enables permessage-deflate when the client offers it
	// (uvicorn's --ws-per-message-deflate).
	Compression bool
}

// IsUpgrade reports whether an HTTP/1.x request asks for a WebSocket: its
// Upgrade field has the token "websocket". Such a request is held to
// CheckHTTP1; any other is ordinary HTTP.
func IsUpgrade(h http.Header) bool {
	return hasToken(h["Upgrade"], "websocket")
}

// IsExtendedConnect reports whether an HTTP/2 request is an extended
// CONNECT for a WebSocket (RFC 8441 §4).
func IsExtendedConnect(method, protocol string) bool {
	return method == http.MethodConnect && strings.EqualFold(protocol, "websocket")
}

// CheckHTTP1 holds an HTTP/1.x upgrade request (one IsUpgrade accepts) to
// RFC 6455 §4.2.1. A request it refuses gets the HandshakeError's status:
// 400 for HTTP/1.0, a method other than GET, a body, no "upgrade" token in
// Connection, a missing, repeated or invalid Sec-WebSocket-Key, or a
// missing, repeated or malformed Sec-WebSocket-Version; 426 (with
// Sec-WebSocket-Version: 13) for another version (checkVersion).
func CheckHTTP1(r Request, opts HandshakeOptions) (*Handshake, *HandshakeError) {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 {
		return nil, refuse(400, "WebSocket handshake requires HTTP/1.1")
	}
	if r.Method != http.MethodGet {
		return nil, refuse(400, "WebSocket handshake requires the GET method")
	}
	if r.HasBody {
		return nil, refuse(400, "WebSocket handshake must not have a body")
	}
	if !hasToken(r.Header["Connection"], "upgrade") {
		return nil, refuse(400, "WebSocket handshake requires \"Connection: Upgrade\"")
	}
	keys := r.Header["Sec-Websocket-Key"]
	if len(keys) != 1 {
		return nil, refuse(400, "WebSocket handshake requires exactly one Sec-WebSocket-Key")
	}
	key := strings.TrimSpace(keys[0])
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return nil, refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64")
	}
	if e := checkVersion(r.Header); e != nil {
		return nil, e
	}
	hs := &Handshake{Key: key}
	if e := hs.readOffers(r.Header, opts); e != nil {
		return nil, e
	}
	return hs, nil
}

// CheckHTTP2 holds an HTTP/2 extended CONNECT (IsExtendedConnect) to RFC
// 8441 §5: Sec-WebSocket-Version 13, checked as for HTTP/1.1 (checkVersion).
func CheckHTTP2(r Request, opts HandshakeOptions) (*Handshake, *HandshakeError) {
	if !IsExtendedConnect(r.Method, r.Protocol) {
		return nil, refuse(400, "WebSocket over HTTP/2 requires CONNECT with :protocol websocket")
	}
	if e := checkVersion(r.Header); e != nil {
		return nil, e
	}
	hs := &Handshake{HTTP2: true}
	if e := hs.readOffers(r.Header, opts); e != nil {
		return nil, e
	}
	return hs, nil
}

// checkVersion holds Sec-WebSocket-Version to RFC 6455 (4.2.1, 4.4,
// 11.3.5), the same for HTTP/1.1 and RFC 8441: a request without it, with
// it more than once ("MUST NOT appear more than once in an HTTP request"),
// or with a value that is not a version number is a bad request (400); a
// version (or list of them) other than 13 is one this server does not
// speak: 426 with Sec-WebSocket-Version: 13, so the client may retry with
// it. wsproto answers a missing version with 400 and another with 426
// the same way; both carry the version this server speaks.
func checkVersion(h http.Header) *HandshakeError {
	v := h["Sec-Websocket-Version"]
	var e *HandshakeError
	switch {
	case len(v) == 0:
		e = refuse(400, "WebSocket handshake requires Sec-WebSocket-Version: 13")
	case len(v) > 1:
		e = refuse(400, "Sec-WebSocket-Version must appear once in a WebSocket handshake")
	case strings.TrimSpace(v[0]) == "13":
		return nil
	case !versionList(v[0]):
		e = refuse(400, "Sec-WebSocket-Version is not a version number")
	default:
		e = refuse(426, "WebSocket version 13 is required")
	}
	e.Header = http.Header{"Sec-Websocket-Version": {"13"}}
	return e
}

// versionList reports whether s is a comma-separated list of RFC 6455
// version numbers (11.3.5: 0 to 255, no leading zero).
func versionList(s string) bool {
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" || len(p) > 3 || len(p) > 1 && p[0] == '0' {
			return false
		}
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
			n = n*10 + int(p[i]-'0')
		}
		if n > 255 {
			return false
		}
	}
	return true
}

// readOffers reads the subprotocols and the extension offers.
func (hs *Handshake) readOffers(h http.Header, opts HandshakeOptions) *HandshakeError {
	for _, line := range h["Sec-Websocket-Protocol"] {
		for _, p := range strings.Split(line, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !http1.ValidToken(p) {
				return refuse(400, "Sec-WebSocket-Protocol is not a list of tokens")
			}
			hs.Subprotocols = append(hs.Subprotocols, p)
		}
	}
	if opts.Compression {
		hs.Deflate = negotiateDeflate(h["Sec-Websocket-Extensions"])
	}
	return nil
}

// hasToken reports whether a comma-separated field (every line of it) has
// tok, compared case-insensitively.
func hasToken(lines []string, tok string) bool {
	for _, line := range lines {
		for _, t := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// AcceptKey is Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	s := sha1.Sum([]byte(key + keyGUID))
	return base64.StdEncoding.EncodeToString(s[:])
}

// ErrBadResponse is returned when the upstream's subprotocol or extra fields
// cannot be sent: a subprotocol that is not a token, a field name that is not
// a token, or a value with control characters (it would split the response).
var ErrBadResponse = errors.New("websocket: invalid subprotocol or header field in the accept")

// reservedField reports fields the engine owns in a success response: the
// upstream's own are dropped, never sent twice.
func reservedField(name string) bool {
	switch strings.ToLower(name) {
	case "upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions",
		"sec-websocket-protocol", "content-length", "transfer-encoding":
		return true
	}
	return false
}

// ResponseHeader returns the success response's fields: the chosen
// subprotocol, the accepted extension, and the upstream's extra fields (less
// those the engine owns). For HTTP/1.1 WriteResponse101 adds Upgrade,
// Connection and Sec-WebSocket-Accept; for HTTP/2 the caller sends these
// fields with status 200.
//
// An upstream that names its subprotocol in an extra Sec-WebSocket-Protocol
// field instead (as apps written for servers that pass their fields through
// do) gets it as if it had chosen it, checked the same way.
func (hs *Handshake) ResponseHeader(subprotocol string, extra []http1.Field) ([]http1.Field, error) {
	var out []http1.Field
	if subprotocol == "" {
		for _, f := range extra {
			if strings.EqualFold(f.Name, "Sec-WebSocket-Protocol") {
				subprotocol = strings.TrimSpace(f.Value)
				break
			}
		}
	}
	if subprotocol != "" {
		if !http1.ValidToken(subprotocol) {
			return nil, ErrBadResponse
		}
		if len(hs.Subprotocols) > 0 && !slices.ContainsFunc(hs.Subprotocols, func(p string) bool { return strings.EqualFold(p, subprotocol) }) {
			// The client must fail such a connection (RFC 6455, 4.1):
			// refused here, where the reason can be said. (One that
			// offered none gets it, as from uvicorn: some clients take it.)
			return nil, fmt.Errorf("%w: subprotocol %q, which the client did not offer (it offered %s)",
				ErrBadResponse, subprotocol, strings.Join(hs.Subprotocols, ", "))
		}
		out = append(out, http1.Field{Name: "Sec-WebSocket-Protocol", Value: subprotocol})
	}
	if hs.Deflate != nil {
		out = append(out, http1.Field{Name: "Sec-WebSocket-Extensions", Value: hs.Deflate.responseValue()})
	}
	for _, f := range extra {
		if !http1.ValidToken(f.Name) || !http1.ValidFieldValue(f.Value) {
			return nil, ErrBadResponse
		}
		if !reservedField(f.Name) {
			out = append(out, f)
		}
	}
	return out, nil
}

// WriteResponse101 writes the HTTP/1.1 "101 Switching Protocols" response
// that accepts the handshake: the server's default fields (defaults: Date
// and Server unless the upstream sent them, the operator's extra fields),
// then those of ResponseHeader.
func (hs *Handshake) WriteResponse101(w io.Writer, subprotocol string, extra []http1.Field, defaults *http1.Defaults) error {
	fields, err := hs.ResponseHeader(subprotocol, extra)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, AcceptKey(hs.Key)...)
	b = append(b, "\r\n"...)
	for _, f := range append(defaults.Append(nil, fields, time.Now()), fields...) {
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	_, err = w.Write(b)
	return err
}

func timeNowPlus(d time.Duration) time.Time {
	if d <= 0 {
		d = DefaultWriteTimeout
	}
	return time.Now().Add(d)
}
