package front

import (
	"context"

	"github.com/gowsgi/gowsgi/internal/workers"
)

// wsUpstream is what WebSockets need of the Upstream beyond Send: whether
// the application is ASGI (only ASGI apps get WebSockets; a WSGI app sees
// an upgrade request as plain HTTP), and an exchange that carries frames
// both ways for the connection's life (workers/websocket.go).
// PoolUpstream has it (ASGI is upstream.go's).
type wsUpstream interface {
	asgiTeller
	SendWebSocket(req *workers.Request) (*workers.Exchange, error)
}

// SendWebSocket dispatches a WebSocket handshake. Its exchange is not tied
// to the client's context: the relay tells the worker about the client's
// end itself, with the close code (WSDisconnect), and a canceled exchange
// would read the WebSocket's frames as an HTTP response's.
func (u poolUpstream) SendWebSocket(req *workers.Request) (*workers.Exchange, error) {
	return u.p.Send(context.Background(), req)
}

// wsUp returns the upstream as a wsUpstream when it serves an ASGI
// application.
func (h *Handler) wsUp() (wsUpstream, bool) {
	u, ok := h.Upstream.(wsUpstream)
	return u, ok && u.ASGI()
}
