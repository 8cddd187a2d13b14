package front

import (
	"errors"
	"net/http"

	"github.com/gowsgi/gowsgi/internal/h2"
	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/websocket"
)

// h2WS is a WebSocket over an HTTP/2 extended CONNECT stream (RFC 8441).
// Go's HTTP/2 server only lets one through when the process runs with
// GODEBUG=http2xconnect=1 (it then advertises SETTINGS_ENABLE_CONNECT_PROTOCOL);
// see the README.
type h2WS struct {
	w http.ResponseWriter
	r *http.Request
}

func (e h2WS) check(_ *request, o websocket.HandshakeOptions) (*websocket.Handshake, *websocket.HandshakeError) {
	return websocket.CheckHTTP2(websocket.FromHTTP2(e.r), o)
}

func (e h2WS) accept(hs *websocket.Handshake, sub string, f []http1.Field, d *http1.Defaults, o websocket.Options) (*websocket.Conn, error) {
	h2.SetDefaults(e.w.Header(), d, f)
	c, err := websocket.AcceptHTTP2(e.w, e.r, hs, sub, f, o)
	if errors.Is(err, websocket.ErrBadResponse) {
		clear(e.w.Header()) // nothing went out: the 500 that follows sets its own
	}
	return c, err
}
func (e h2WS) detached() bool { return false } // the stream ends with its handler

// isExtendedConnect reports an HTTP/2 WebSocket this handler serves.
func (h *Handler) isExtendedConnect(r *http.Request) bool {
	if h.WebSocket == nil {
		return false
	}
	_, ok := h.wsUp()
	return ok && websocket.IsExtendedConnect(r.Method, r.Header.Get(":protocol"))
}

// serveExtendedConnect serves an extended CONNECT as the WebSocket
// handshake it is: the request rules are HTTP/2's others, with the
// :protocol pseudo-header aside and the target read as a GET's (the scope
// has no method).
func (h *Handler) serveExtendedConnect(w http.ResponseWriter, r *http.Request) {
	shadow := *r
	shadow.Method = http.MethodGet
	shadow.Header = r.Header.Clone()
	delete(shadow.Header, ":protocol")
	shadow.ContentLength = 0
	shadow.Body = http.NoBody
	hw, rq, refuse := h.h2Request(w, &shadow)
	if refuse != 0 {
		h.plain(hw, rq, refuse, http.StatusText(refuse), nil)
		return
	}
	h.serveWebSocket(hw, rq, h2WS{w: w, r: r})
}
