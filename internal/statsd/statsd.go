// Package statsd sends metrics under gunicorn's names (gunicorn.requests,
// gunicorn.request.duration, gunicorn.request.status.<code>,
// gunicorn.workers, gunicorn.log.<level>) to a statsd server over UDP, in
// gunicorn's formats, with its --statsd-prefix and --dogstatsd-tags.
//
// Sending never blocks a request: metrics go through a bounded channel to
// one goroutine, which packs what is waiting into datagrams (several
// metrics a datagram, newline-separated, as statsd, Telegraf and the
// Datadog agent read them). When the channel is full, metrics are dropped.
package statsd

import (
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// maxPacket keeps a datagram under a typical Ethernet MTU.
const maxPacket = 1432

// Client sends metrics. A nil *Client sends nothing, so callers need not
// check.
type Client struct {
	conn   net.Conn
	prefix string
	tags   string // "|#a:b,c" or ""
	ch     chan []byte
	done   chan struct{}
	once   sync.Once
	mu     sync.RWMutex // send holds it shared; Close, to close ch, alone
	closed bool
}

var trailingDots = regexp.MustCompile(`^(.+[^.]+)\.*$`)

// Dial prepares a client for addr (HOST:PORT). prefix gets one trailing
// dot, as gunicorn's statsd_prefix; tags are dogstatsd tags, appended as
// "|#tags".
func Dial(addr, prefix, tags string) (*Client, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, prefix: trailingDots.ReplaceAllString(prefix, "${1}."), ch: make(chan []byte, 8192), done: make(chan struct{})}
	if tags != "" {
		c.tags = "|#" + tags
	}
	go c.run()
	return c, nil
}

func (c *Client) run() {
	defer close(c.done)
	buf := make([]byte, 0, maxPacket)
	for m := range c.ch {
		if len(buf) > 0 && len(buf)+1+len(m) > maxPacket {
			c.conn.Write(buf)
			buf = buf[:0]
		}
		if len(buf) > 0 {
			buf = append(buf, '\n')
		}
		buf = append(buf, m...)
		if len(c.ch) == 0 {
			c.conn.Write(buf) // errors (no listener: ECONNREFUSED) are ignored, as gunicorn's
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		c.conn.Write(buf)
	}
}

// Close sends what is queued and closes the socket.
func (c *Client) Close() {
	if c == nil {
		return
	}
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true // a metric sent from now on (a gauge ticker) is dropped
		close(c.ch)
		c.mu.Unlock()
		<-c.done
		c.conn.Close()
	})
}

func (c *Client) send(name string, value []byte, typ string, rate bool) {
	b := make([]byte, 0, len(c.prefix)+len(name)+len(value)+len(typ)+len(c.tags)+8)
	b = append(b, c.prefix...)
	b = append(b, name...)
	b = append(b, ':')
	b = append(b, value...)
	b = append(b, '|')
	b = append(b, typ...)
	if rate {
		b = append(b, "|@1.0"...)
	}
	b = append(b, c.tags...)
	c.mu.RLock()
	if !c.closed {
		select {
		case c.ch <- b:
		default: // full: drop rather than stall
		}
	}
	c.mu.RUnlock()
}

// Incr adds n to a counter: "name:n|c|@1.0".
func (c *Client) Incr(name string, n int64) {
	if c == nil {
		return
	}
	var v [20]byte
	c.send(name, strconv.AppendInt(v[:0], n, 10), "c", true)
}

// Gauge sets a gauge: "name:v|g".
func (c *Client) Gauge(name string, v int64) {
	if c == nil {
		return
	}
	var b [20]byte
	c.send(name, strconv.AppendInt(b[:0], v, 10), "g", false)
}

// Timing records a duration in milliseconds: "name:12.5|ms".
func (c *Client) Timing(name string, d time.Duration) {
	if c == nil {
		return
	}
	var b [32]byte
	ms := float64(d.Microseconds()) / 1000
	c.send(name, strconv.AppendFloat(b[:0], ms, 'f', -1, 64), "ms", false)
}

// Request records one finished request as gunicorn's statsd logger does:
// its duration, the request count, and its status code's count.
func (c *Client) Request(d time.Duration, status int) {
	if c == nil {
		return
	}
	c.Timing("gunicorn.request.duration", d)
	c.Incr("gunicorn.requests", 1)
	var b [32]byte
	c.Incr(string(strconv.AppendInt(append(b[:0], "gunicorn.request.status."...), int64(status), 10)), 1)
}
