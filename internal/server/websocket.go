package server

import (
	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/metrics"
	"github.com/gowsgi/gowsgi/internal/websocket"
	"github.com/gowsgi/gowsgi/internal/workers"
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
		// A retiring worker's WebSockets close (1012) a moment before its
		// grace ends, as on SIGTERM: its requests are told to go away
		// next, and its lifespan shutdown fits in the grace too.
		DrainTimeout: cfg.GracefulTimeout - workers.GoAwayLead(cfg.GracefulTimeout),
	}
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
