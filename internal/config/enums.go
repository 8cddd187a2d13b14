package config

import (
	"fmt"
	"slices"
	"strings"
)

// The enumerated settings: each is a type of its own, so a misspelt value
// cannot compile. The values are the spellings the flags take.

// LogFormat is how both logs are written (--log-format).
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text" // key=value lines
	LogJSON LogFormat = "json" // one JSON object a line
)

// RequestIDMode is what happens to X-Request-ID (--request-id).
type RequestIDMode string

// Request ID modes.
const (
	RequestIDGenerate RequestIDMode = "generate" // a trusted peer's own, else a new one
	RequestIDPass     RequestIDMode = "pass"     // a trusted peer's own only
	RequestIDOff      RequestIDMode = "off"      // an ordinary header
)

// Cleartext is gunicorn's http2_cleartext: how HTTP/2 is spoken without
// TLS (h2c), to trusted peers only. The values are internal/h2's.
type Cleartext string

// Cleartext HTTP/2 modes.
const (
	CleartextOff            Cleartext = "off"             // no h2c
	CleartextPriorKnowledge Cleartext = "prior-knowledge" // connections that open with the HTTP/2 preface
	CleartextUpgrade        Cleartext = "upgrade"         // an HTTP/1.1 request with Upgrade: h2c
	CleartextBoth           Cleartext = "both"            // either
)

// AppInterface is what the app speaks (--interface).
type AppInterface string

// App interfaces.
const (
	InterfaceAuto AppInterface = "auto" // ASGI when the callable is a coroutine function (or its __call__ is), else WSGI
	InterfaceWSGI AppInterface = "wsgi" // PEP 3333
	InterfaceASGI AppInterface = "asgi" // ASGI 3 (ASGI 2's double callable is adapted)
)

// LifespanMode is the ASGI lifespan protocol (--lifespan).
type LifespanMode string

// Lifespan modes.
const (
	LifespanAuto LifespanMode = "auto" // an app that raises on it carries on without it
	LifespanOn   LifespanMode = "on"   // startup must succeed
	LifespanOff  LifespanMode = "off"  // not run
)

// EventLoop is an ASGI worker's event loop (--loop).
type EventLoop string

// Event loops.
const (
	LoopAuto    EventLoop = "auto"    // uvloop when it imports, else asyncio
	LoopAsyncio EventLoop = "asyncio" // the standard library's
	LoopUvloop  EventLoop = "uvloop"  // uvloop, which must import
)

// Protocol is one of --http-protocols.
type Protocol string

// HTTP protocols.
const (
	HTTP1 Protocol = "h1" // HTTP/1.0 and HTTP/1.1
	HTTP2 Protocol = "h2" // HTTP/2: by ALPN over TLS, h2c as --http2-cleartext allows
)

// Offers reports whether --http-protocols offers p.
func (c *Config) Offers(p Protocol) bool { return slices.Contains(c.HTTPProtocols, p) }

// enumField reads one of values (case and surrounding space ignored) into
// *p; anything else is the error bad, a format with one %q for the value.
func enumField[T ~string](p func(*Config) *T, bad string, values ...T) accessor {
	return accessor{apply: func(c *Config, v string) error {
		v = strings.ToLower(strings.TrimSpace(v))
		for _, x := range values {
			if string(x) == v {
				*p(c) = x
				return nil
			}
		}
		return fmt.Errorf(bad, v)
	}, show: func(c *Config) any {
		return string(*p(c))
	}}
}
