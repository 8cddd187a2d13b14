package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"

	"golang.org/x/net/http2"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/h2"
	"github.com/gowsgi/gowsgi/internal/static"
	"github.com/gowsgi/gowsgi/internal/tlsconf"
)

// frontEnd is what stands before the handler: static mounts, TLS
// certificates (reloaded on SIGHUP) and the listener wrapper that sends
// HTTP/2 connections to Go's server and HTTP/1.x ones to the http1 engine.
// Without TLS and h2c the listeners stay as they are.
type frontEnd struct {
	cfg    *config.Config
	log    *slog.Logger
	mounts []*static.Mount
	tlsOn  bool           // --certfile given
	h2c    bool           // --http2-cleartext on
	store  *tlsconf.Store // nil without TLS
	mux    *h2.Mux        // nil until wrap, and without TLS and h2c
}

// Provision reads the static mounts.
func (f *frontEnd) Provision(s *Server) error {
	f.cfg, f.log = s.cfg, s.log
	opts := static.Options{AllowDotfiles: f.cfg.StaticAllowDotfiles, FollowSymlinks: f.cfg.StaticFollowSymlinks, MaxAge: f.cfg.StaticMaxAge}
	for _, sm := range f.cfg.Static {
		m, err := static.NewMount(sm.Prefix, sm.Dir, opts)
		if err != nil {
			return usage(err)
		}
		f.mounts = append(f.mounts, m)
	}
	f.tlsOn = len(f.cfg.CertFiles) > 0
	f.h2c = f.cfg.HTTP2Cleartext != "" && f.cfg.HTTP2Cleartext != config.CleartextOff
	return nil
}

// Validate checks the TLS and HTTP/2 settings together and loads the
// certificates, before any worker starts: a bad certificate is one line
// and exit 2.
func (f *frontEnd) Validate() error {
	cfg := f.cfg
	http1On, http2On := cfg.Offers(config.HTTP1), cfg.Offers(config.HTTP2)
	switch {
	case !f.tlsOn && len(cfg.KeyFiles) > 0:
		return errors.New("--keyfile needs --certfile")
	case !f.tlsOn && cfg.CertReqs != tlsconf.CertNone:
		return errors.New("--cert-reqs needs TLS: give --certfile and --keyfile")
	case f.h2c && !http2On:
		return errors.New("--http2-cleartext needs h2 in --http-protocols")
	case !f.tlsOn && !http1On && !f.h2c:
		return errors.New("--http-protocols h2 without h1 needs TLS (--certfile) or --http2-cleartext")
	}
	if !f.tlsOn {
		return nil
	}
	store, err := tlsconf.New(*cfg.TLSOptions())
	f.store = store
	return err
}

// Start and Stop: the front has nothing of its own to run; the HTTP/2
// connections are drained with the HTTP/1.x ones (httpFront.Stop).
func (f *frontEnd) Start(s *Server) error { return nil }
func (f *frontEnd) Stop(s *Server)        {}

// scheme is wsgi.url_scheme of the listeners.
func (f *frontEnd) scheme() string {
	if f.store != nil {
		return "https"
	}
	return "http"
}

// wrap readies handler for TLS and HTTP/2 and wraps the listeners; those
// marked plain (--insecure-bind) get no TLS.
func (f *frontEnd) wrap(ls []net.Listener, plain []bool, handler *front.Handler) []net.Listener {
	if f.store == nil && !f.h2c {
		return ls // plain HTTP/1.x: the listeners go to the http1 engine as they are
	}
	cfg := f.cfg
	// What the http1 engine enforces itself, the HTTP/2 streams get here.
	handler.BodyTimeout, handler.BodyMinRate, handler.WriteTimeout = cfg.BodyTimeout, cfg.BodyMinRate, cfg.WriteTimeout
	handler.MaxHeaderFields, handler.MaxRequestLine, handler.MaxFieldBytes = cfg.MaxHeaderFields, cfg.MaxRequestLine, cfg.MaxFieldBytes
	headerList := cfg.HTTP2MaxHeaderListSize
	if headerList == 0 {
		headerList = int(cfg.MaxHeaderBytes)
	}
	hc := h2.Config{
		HTTP1:          cfg.Offers(config.HTTP1),
		HTTP2:          cfg.Offers(config.HTTP2),
		Cleartext:      string(cfg.HTTP2Cleartext),
		Trusted:        cfg.ForwardedAllowIPs.TrustsPeer,
		HeaderTimeout:  cfg.HeaderTimeout,
		MaxHeadBytes:   cfg.MaxRequestLine + int(cfg.MaxHeaderBytes) + 4,
		MaxHeaderBytes: headerList,
		MaxUpgradeBody: cfg.BodyMemory,
		UpgradeBudget:  handler.BodyBudget, // nil-safe: a nil *Budget has no bound
		Server: &http2.Server{
			MaxConcurrentStreams:     uint32(cfg.HTTP2MaxConcurrentStreams),
			MaxUploadBufferPerStream: int32(cfg.HTTP2InitialWindowSize),
			MaxReadFrameSize:         uint32(cfg.HTTP2MaxFrameSize),
			IdleTimeout:              cfg.KeepAlive,
			WriteByteTimeout:         cfg.WriteTimeout, // a connection that takes no bytes for this long is closed
		},
		Handler:  handler,
		Log:      f.log,
		Defaults: cfg.ResponseHeaders,
	}
	hc.MaxStreamsTotal = cfg.HTTP2MaxStreamsTotal
	if f.store != nil {
		hc.TLS = f.store.Config()
	}
	f.mux = h2.New(hc)
	out := make([]net.Listener, len(ls))
	for i, l := range ls {
		if i < len(plain) && plain[i] {
			out[i] = f.mux.PlainListener(l)
			continue
		}
		out[i] = f.mux.Listener(l)
	}
	return out
}

// url is the address a listener serves, for the "listening" line.
func (f *frontEnd) url(l net.Listener) string {
	u := listenURL(l)
	if tl, ok := l.(interface{ ServesTLS() bool }); ok && tl.ServesTLS() {
		u = strings.Replace(u, "http://", "https://", 1)
	}
	return u
}

// reload re-reads the certificates (SIGHUP): new handshakes get the new
// ones, open connections keep theirs. A file that does not load leaves
// the old certificates in use.
func (f *frontEnd) reload() {
	if f.store == nil {
		return
	}
	if err := f.store.Reload(); err != nil {
		f.log.Error("SIGHUP: cannot reload the TLS certificates; keeping the old ones", "err", err)
		return
	}
	f.log.Info("TLS certificates reloaded", "certfiles", strings.Join(f.cfg.CertFiles, ","))
}

// shutdown lets the HTTP/2 connections finish (GOAWAY) until ctx ends;
// the channel closes when they are gone.
func (f *frontEnd) shutdown(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if f.mux == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		if err := f.mux.Shutdown(ctx); err != nil {
			f.log.Warn("graceful timeout reached; closing remaining HTTP/2 connections", "err", err)
		}
	}()
	return done
}

// listenURL is a listener's address as a URL, for the "listening" line.
func listenURL(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return "http://" + l.Addr().String()
}
