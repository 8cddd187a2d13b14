package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// WebSocketMetrics are the WebSocket collectors: open connections,
// messages and bytes each way, and closes by code.
type WebSocketMetrics struct {
	open              prometheus.Gauge
	msgIn, msgOut     prometheus.Counter
	bytesIn, bytesOut prometheus.Counter
	closed            *prometheus.CounterVec
}

// WebSockets registers the WebSocket collectors on m's registry.
func (m *Metrics) WebSockets() *WebSocketMetrics {
	w := &WebSocketMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gowsgi_websockets_open",
			Help: "WebSocket connections open now.",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gowsgi_websockets_closed_total",
			Help: "WebSocket connections ended, by close code (1006: dropped without a close; application codes 3000-4999 are \"app\").",
		}, []string{"code"}),
	}
	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gowsgi_websocket_messages_total",
		Help: "WebSocket messages, by direction: in (from clients) or out (to clients).",
	}, []string{"direction"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gowsgi_websocket_message_bytes_total",
		Help: "WebSocket message bytes (uncompressed), by direction: in or out.",
	}, []string{"direction"})
	w.msgIn, w.msgOut = msgs.WithLabelValues("in"), msgs.WithLabelValues("out")
	w.bytesIn, w.bytesOut = bytes.WithLabelValues("in"), bytes.WithLabelValues("out")
	m.reg.MustRegister(w.open, w.closed, msgs, bytes)
	return w
}

// Opened counts a WebSocket that was accepted.
func (w *WebSocketMetrics) Opened() { w.open.Inc() }

// Closed counts a WebSocket that ended with code.
func (w *WebSocketMetrics) Closed(code int) {
	w.open.Dec()
	label := strconv.Itoa(code)
	if code >= 3000 && code <= 4999 {
		label = "app"
	} else if code < 1000 || code > 1015 {
		label = "other"
	}
	w.closed.WithLabelValues(label).Inc()
}

// Message counts one message, in from a client or out to it.
func (w *WebSocketMetrics) Message(in bool, size int) {
	if in {
		w.msgIn.Inc()
		w.bytesIn.Add(float64(size))
		return
	}
	w.msgOut.Inc()
	w.bytesOut.Add(float64(size))
}
