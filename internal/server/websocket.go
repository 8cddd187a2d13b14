package server

import (
	"time"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/metrics"
	"github.com/gowsgi/gowsgi/internal/websocket"
)

// webSocketOptions are the front's WebSocket settings from the
// configuration (uvicorn's --ws-* names and defaults).
func webSocketOptions(cfg *config.Config) *front.WebSocketOptions {
	ping := cfg.WS.PingInterval
	if ping == 0 {
		ping = -1 // --ws-ping-interval 0: no pings
	}
	return &front.WebSocketOptions{
		Handshake: websocket.HandshakeOptions{Compression: cfg.WS.PerMessageDeflate},
		Conn: websocket.Options{
			MaxMessageSize: cfg.WS.MaxSize,
			PingInterval:   ping,
			PingTimeout:    cfg.WS.PingTimeout,
			WriteTimeout:   cfg.WriteTimeout,
		},
		DrainTimeout: cfg.GracefulTimeout,
	}
}

// wsCloseMargin is how long before the end of the graceful timeout open
// WebSockets are closed, for their close handshakes to complete in time,
// and ASGI workers are told to go away (Pool.GoAway), for what follows
// to reach the clients while the front still has their connections: an
// app's half-second to end on http.disconnect (asgi.py's
// ASGI_DISCONNECT_WAIT), then the 503 or a stream's end. A quarter of the
// timeout, 2 s at most, but at least 1 s (half of a timeout under 2 s).
func wsCloseMargin(graceful time.Duration) time.Duration {
	return max(min(graceful/4, 2*time.Second), min(graceful/2, time.Second))
}

// wsObserver is the front's Observer with the WebSocket metrics
// (front.WebSocketObserver).
type wsObserver struct {
	*requestObserver
	ws *metrics.WebSocketMetrics
}

func (o *wsObserver) WebSocketOpened()                    { o.ws.Opened() }
func (o *wsObserver) WebSocketClosed(s websocket.Summary) { o.ws.Closed(s.Code) }
func (o *wsObserver) Message(in bool, size int)           { o.ws.Message(in, size) }
