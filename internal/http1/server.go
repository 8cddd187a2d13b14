package http1

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrServerClosed is returned by Server.Serve after a call to Shutdown or
// Close.
var ErrServerClosed = errors.New("http1: Server closed")

// A Server serves HTTP/1.0 and HTTP/1.1 on the listeners given to Serve. The
// zero value, with a Handler, is a server with the default limits. Its
// fields must not be changed after the first call to Serve.
type Server struct {
	// Handler handles every request.
	Handler Handler

	// Defaults are the header fields the engine adds to every response,
	// its own error responses included: by default "Server: gowsgi" and a
	// Date field, each unless the handler sent one.
	Defaults Defaults

	// ReadHeaderTimeout bounds the time from the first byte of a request to
	// the end of its head, against slowloris clients. On expiry the client
	// gets a 408 and the connection is closed (silently if no byte came).
	// The default is 10s.
	ReadHeaderTimeout time.Duration

	// IdleTimeout is how long a keep-alive connection waits for the first
	// byte of the next request. The default is 5s.
	IdleTimeout time.Duration

	// BodyReadTimeout bounds the time Request.Body.Read may wait for any
	// progress. The default is 30s.
	BodyReadTimeout time.Duration

	// BodyMinRate, in bytes per second, is the lowest rate at which a
	// request body may arrive, over a sliding window of BodyReadTimeout
	// (see MinRate); 0 (the default) means no bound beyond
	// BodyReadTimeout. A client trickling a byte just within every
	// BodyReadTimeout is cut off after about BodyReadTimeout instead of
	// never, also after sending much at first: the bytes already received
	// buy at most BodyReadTimeout of slack. Read then returns an error for which IsTimeout is true, and
	// the connection is closed after the response. Timer slack may cut a
	// body off up to BodyReadTimeout/8 early.
	BodyMinRate int64

	// WriteTimeout bounds the time one write to the client may block, so a
	// client that stops reading cannot hold a handler forever. The default
	// is 30s.
	WriteTimeout time.Duration

	// MaxRequestLine is the longest request line accepted, in bytes without
	// the CRLF; a longer one gets 414. The default is 8190.
	MaxRequestLine int

	// MaxHeaderBytes bounds the header section (every field line with its
	// CRLF); a larger one gets 431. The default is 65536.
	MaxHeaderBytes int

	// MaxHeaderFields bounds the number of header fields; more get 431. The
	// default is 100.
	MaxHeaderFields int

	// MaxFieldBytes bounds one header field line (name, colon, value and
	// the CRLF, counted as gunicorn's limit_request_field_size counts it);
	// a longer one gets 431. The
	// default is 8190; negative means no bound beyond MaxHeaderBytes.
	MaxFieldBytes int

	// IdlePark is how long a keep-alive connection waits for its next
	// request with a goroutine of its own before it is parked: its
	// goroutine and buffers go, and one epoll set waits for its input
	// (see park.go). 0 means DefaultIdlePark; negative means never. TLS
	// connections and those behind a wrapper that reads ahead never park.
	IdlePark time.Duration

	// MaxConns limits the number of open connections. At the limit the
	// server stops accepting until one closes; 0 means no limit.
	MaxConns int

	// ErrorLog receives real problems (accept errors, handler panics,
	// invalid response heads), not client errors. nil means slog.Default().
	ErrorLog *slog.Logger

	initOnce  sync.Once
	cfg       config
	inShut    atomic.Bool
	closed    atomic.Bool   // Close was called: connections accepted late are dropped
	done      chan struct{} // closed when shutting down
	doneOnce  sync.Once
	sem       chan struct{}
	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	parked    atomic.Int64 // connections parked now
}

// config is the Server's settings with the defaults applied.
type config struct {
	serverLine        string // "Server: <name>\r\n", "" for none (Defaults)
	dateLine          bool   // a Date line unless the handler sent one
	extraLines        string // Defaults.Extra, each "Name: value\r\n"
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	bodyReadTimeout   time.Duration
	bodyRate          MinRate // BodyMinRate over BodyReadTimeout; zero: no rate bound
	writeTimeout      time.Duration
	maxRequestLine    int
	maxHeaderBytes    int
	maxHeaderFields   int
	maxFieldBytes     int
	maxHead           int           // largest buffer a request head may need
	idlePark          time.Duration // 0: never park
	log               *slog.Logger
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.cfg = config{
			readHeaderTimeout: orDur(s.ReadHeaderTimeout, 10*time.Second),
			idleTimeout:       orDur(s.IdleTimeout, 5*time.Second),
			bodyReadTimeout:   orDur(s.BodyReadTimeout, 30*time.Second),
			writeTimeout:      orDur(s.WriteTimeout, 30*time.Second),
			maxRequestLine:    orInt(s.MaxRequestLine, 8190),
			maxHeaderBytes:    orInt(s.MaxHeaderBytes, 65536),
			maxHeaderFields:   orInt(s.MaxHeaderFields, 100),
			maxFieldBytes:     orInt(s.MaxFieldBytes, 8190),
			log:               s.ErrorLog,
		}
		s.cfg.serverLine, s.cfg.dateLine, s.cfg.extraLines = s.Defaults.lines()
		s.cfg.idlePark = orDur(s.IdlePark, DefaultIdlePark)
		if s.IdlePark < 0 || closeWatcher() == nil {
			s.cfg.idlePark = 0
		}
		s.cfg.bodyRate = NewMinRate(s.BodyMinRate, s.cfg.bodyReadTimeout)
		if s.cfg.log == nil {
			s.cfg.log = slog.Default()
		}
		if s.MaxFieldBytes < 0 {
			s.cfg.maxFieldBytes = s.cfg.maxHeaderBytes
		}
		s.cfg.maxHead = s.cfg.maxRequestLine + s.cfg.maxHeaderBytes + 16
		s.done = make(chan struct{})
		if s.MaxConns > 0 {
			s.sem = make(chan struct{}, s.MaxConns)
		}
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
	})
}

func (s *Server) shuttingDown() bool { return s.inShut.Load() }

// Serve accepts connections on l and serves each on its own goroutine. It
// returns ErrServerClosed after Shutdown or Close, or the first accept error
// that is not temporary. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("http1: Server.Handler is nil")
	}
	s.init()
	if !s.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	defer l.Close()

	var delay time.Duration
	for {
		if s.sem != nil {
			select {
			case s.sem <- struct{}{}:
			case <-s.done:
				return ErrServerClosed
			}
		}
		rwc, err := l.Accept()
		if err != nil {
			if s.sem != nil {
				<-s.sem
			}
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				// Out of file descriptors and the like: back off, as
				// net/http does, instead of spinning.
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				s.cfg.log.Error("http1: accept error; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-s.done:
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		delay = 0
		c := newConn(s, rwc)
		if !s.trackConn(c, true) {
			rwc.Close()
			c.release()
			continue
		}
		go c.serve()
	}
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shuttingDown() {
			return false
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

// trackConn adds or removes c. During a graceful Shutdown a connection
// Accept returned just as the listener closed is still added and served:
// closing it would reset its client's request (Shutdown waits for Serve to
// return, so it sees the connection). After Close it is refused.
func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed.Load() {
			return false
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

// startShutdown marks the server as shutting down and closes its listeners.
func (s *Server) startShutdown() {
	s.init()
	s.inShut.Store(true)
	s.doneOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	for l := range s.listeners {
		(*l).Close()
	}
	s.mu.Unlock()
}

// Shutdown shuts the server down gracefully: it stops accepting, closes
// connections that are idle between requests, lets requests in flight
// finish (their connections then close, with "Connection: close" when the
// response head was not sent yet), and returns when every connection is
// gone, or with ctx's error when ctx ends first. A connection accepted but
// still waiting for its first request is not idle: its request is on the
// way (it is served, then the connection closes), unless IdleTimeout
// passes first, as net/http waits for new connections. Use Close after a failed
// Shutdown to drop what remains.
func (s *Server) Shutdown(ctx context.Context) error {
	s.startShutdown()
	const maxPoll = 100 * time.Millisecond
	poll := time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		if s.closeIdleConns() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if poll *= 2; poll > maxPoll {
				poll = maxPoll
			}
			t.Reset(poll)
		}
	}
}

// closeIdleConns closes the connections waiting for a request and reports
// whether no connection is left, and no Serve call that could still add one.
func (s *Server) closeIdleConns() bool {
	var parked []*conn
	s.mu.Lock()
	for c := range s.conns {
		if !c.used.Load() || pendingInput(c.rwc) {
			// A request has arrived but its goroutine has not woken yet:
			// let it be served (with "Connection: close") rather than
			// reset under the client.
			continue
		}
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.rwc.Close()
		} else if c.closeParked() {
			parked = append(parked, c) // no goroutine of its own to release it
		}
	}
	s.mu.Unlock()
	for _, c := range parked {
		c.release()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) == 0 && len(s.listeners) == 0
}

// pendingInput reports whether the kernel holds unread bytes for c.
func pendingInput(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), ioctlUnread)
	})
	return n > 0
}

// Close closes the listeners and every connection at once; handlers still
// running see their writes fail. It does not wait for them.
func (s *Server) Close() error {
	s.closed.Store(true)
	s.startShutdown()
	var parked []*conn
	s.mu.Lock()
	for c := range s.conns {
		if c.markClosed() {
			parked = append(parked, c)
		}
		c.rwc.Close()
	}
	s.mu.Unlock()
	for _, c := range parked {
		c.release()
	}
	return nil
}
