package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/compress"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/reclaim"
	"github.com/gowsgi/gowsgi/internal/websocket"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// httpFront is the HTTP front: the handler (HTTP <-> WSGI) in front of the
// pool, the http1 engine and, through frontEnd, TLS and HTTP/2, serving on
// every listener.
type httpFront struct {
	srv     *http1.Server
	handler *front.Handler
	serving sync.WaitGroup
}

func (h *httpFront) Provision(s *Server) error { return nil }
func (h *httpFront) Validate() error           { return nil }

// Start builds the handler and the engine and serves every listener.
func (h *httpFront) Start(s *Server) error {
	cfg := s.cfg
	reclaim.Start() // memory goes back to the OS after a burst
	handler := &front.Handler{
		Static: s.front.mounts, Defaults: cfg.ResponseHeaders,
		Upstream: front.PoolUpstream(s.pool.p), RootPath: cfg.RootPath, Scheme: s.front.scheme(), Forwarded: s.logs.fwd,
		MaxBodySize: cfg.MaxBodySize, BodyMemoryLimit: cfg.BodyMemory, TempDir: cfg.TmpUploadDir,
		SpoolFiles: s.pool.p.SpoolFiles(), CompressLimit: compress.NewLimiter(cfg.CompressMemory),
		BodyBudget: workers.NewBudget(cfg.BodyMemoryTotal),
		Log:        s.log,
		Compress:   cfg.Compress,
		AccessLog:  s.access.log,
	}
	handler.Observer = s.obs.frontObserver(handler.Scheme, cfg.RequestID)
	handler.WebSocket = webSocketOptions(cfg) // websocket.go
	h.handler = handler
	listeners := s.front.wrap(s.listeners.ls, s.listeners.plain, handler)
	h.srv = &http1.Server{
		Handler:           handler,
		Defaults:          cfg.ResponseHeaders,
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.KeepAlive,
		BodyReadTimeout:   cfg.BodyTimeout,
		BodyMinRate:       cfg.BodyMinRate,
		WriteTimeout:      cfg.WriteTimeout,
		MaxRequestLine:    cfg.MaxRequestLine,
		MaxHeaderBytes:    int(cfg.MaxHeaderBytes),
		MaxHeaderFields:   cfg.MaxHeaderFields,
		MaxFieldBytes:     fieldLimit(cfg.MaxFieldBytes),
		MaxConns:          cfg.MaxConnections,
		ErrorLog:          s.log,
	}
	for _, l := range listeners {
		h.serving.Add(1)
		go func(l net.Listener) {
			defer h.serving.Done()
			if err := h.srv.Serve(l); err != nil && !errors.Is(err, http1.ErrServerClosed) {
				s.log.Error("listener failed", "addr", l.Addr().String(), "err", err)
			}
		}(l)
		s.log.Info("listening", "url", s.front.url(l), "workers", s.pool.p.Size(), "threads", cfg.Threads,
			"front_procs", s.procs, "app", cfg.Target, "interface", s.pool.p.Interface(), "python", s.pool.python)
	}
	return nil
}

// Stop closes the listeners and lets the requests in flight finish, over
// HTTP/1.x and HTTP/2, within --graceful-timeout; a second SIGINT or
// SIGTERM (or a first SIGQUIT), or the timeout, closes the connections
// left. Once the drain ran out of time, the workers get no more
// (s.stopWait = 0). A failing server (s.stopNow) closes them at once.
func (h *httpFront) Stop(s *Server) {
	if s.stopNow {
		h.srv.Close()
		h.handler.AbortWebSockets() // they outlive the engine's connections
		h.serving.Wait()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.GracefulTimeout)
	defer cancel()
	if s.quick {
		cancel() // SIGQUIT: as a second signal, at once
	}
	go func() {
		// A second Ctrl-C means now.
		select {
		case sig := <-s.sigs:
			s.log.Warn("second signal: stopping at once", "signal", sig.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	// Open WebSockets have the graceful timeout too, then get 1001 (Going
	// Away) a moment before it ends, so that their close handshakes fit.
	// After a binary upgrade (SIGUSR2) the server restarts rather than
	// goes: 1012 (Service Restart) tells clients to reconnect.
	code, why := websocket.CloseGoingAway, "server shutting down"
	if s.upgraded {
		code, why = websocket.CloseServiceRestart, "server restarting"
	}
	wsCtx, wsCancel := context.WithTimeout(ctx, s.cfg.GracefulTimeout-workers.GoAwayLead(s.cfg.GracefulTimeout))
	defer wsCancel()
	go h.handler.CloseWebSockets(wsCtx, code, why)
	// ASGI requests still running then (streams, long polls) are told, by
	// their worker, that the server is going away, in the same moment: an
	// unanswered one gets 503 and a stream its end before the connections
	// close, and the lifespan shutdown runs within the graceful timeout.
	goAway := context.AfterFunc(wsCtx, func() { s.pool.p.GoAway(s.upgraded) })
	defer goAway()
	h2done := s.front.shutdown(ctx)
	if err := h.srv.Shutdown(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) { // else a signal said "at once", and the log said so
			s.log.Warn("graceful timeout reached; closing remaining connections", "err", err)
		}
		h.srv.Close()
	}
	// HTTP/1.1 WebSockets outlive the engine's connections. Stopping at
	// once, their close frames (CloseWebSockets, a second at most) still
	// go out: a client sees 1001, not a dropped connection.
	wsWait := ctx
	if errors.Is(ctx.Err(), context.Canceled) {
		var wsWaitCancel context.CancelFunc
		wsWait, wsWaitCancel = context.WithTimeout(context.Background(), time.Second)
		defer wsWaitCancel()
	}
	h.handler.WaitWebSockets(wsWait)
	h.serving.Wait()
	<-h2done
	if ctx.Err() != nil {
		s.stopWait = 0
	}
}

// fieldLimit turns gunicorn's 0 ("no per-field limit") into http1's -1.
func fieldLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
