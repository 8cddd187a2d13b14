package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"

	"golang.org/x/net/http2"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/h2"
	"github.com/gowsgi/gowsgi/internal/tlsconf"
)

// frontEnd is run()'s TLS and HTTP/2 wiring: certificates (reloaded on
// SIGHUP) and the listener wrapper that sends HTTP/2 connections to Go's
// server and HTTP/1.x ones to the http1 engine. A nil *frontEnd (no TLS,
// no h2c) leaves the listeners as they are; every method accepts it.
type frontEnd struct {
	cfg   *config.Config
	log   *slog.Logger
	store *tlsconf.Store // nil without TLS
	mux   *h2.Mux
}

// newFrontEnd checks the TLS and HTTP/2 settings and loads the
// certificates, before any worker starts: a bad certificate is one line
// and exit 2.
func newFrontEnd(cfg *config.Config, log *slog.Logger) (*frontEnd, error) {
	http1On, http2On := slices.Contains(cfg.HTTPProtocols, "h1"), slices.Contains(cfg.HTTPProtocols, "h2")
	tlsOn := len(cfg.CertFiles) > 0
	cleartext := cfg.HTTP2Cleartext != "" && cfg.HTTP2Cleartext != h2.CleartextOff
	switch {
	case !tlsOn && len(cfg.KeyFiles) > 0:
		return nil, errors.New("--keyfile needs --certfile")
	case !tlsOn && cfg.CertReqs != tlsconf.CertNone:
		return nil, errors.New("--cert-reqs needs TLS: give --certfile and --keyfile")
	case cleartext && !http2On:
		return nil, errors.New("--http2-cleartext needs h2 in --http-protocols")
	case !tlsOn && !http1On && !cleartext:
		return nil, errors.New("--http-protocols h2 without h1 needs TLS (--certfile) or --http2-cleartext")
	}
	if !tlsOn && !cleartext {
		return nil, nil // plain HTTP/1.x: the listeners go to the http1 engine as they are
	}
	f := &frontEnd{cfg: cfg, log: log}
	if tlsOn {
		var protos []string
		for _, p := range cfg.HTTPProtocols {
			if p == "h2" {
				protos = append(protos, http2.NextProtoTLS)
			} else {
				protos = append(protos, "http/1.1")
			}
		}
		keys := cfg.KeyFiles
		if len(keys) == 0 {
			keys = cfg.CertFiles // gunicorn: the key may be in the certificate file
		}
		s, err := tlsconf.New(tlsconf.Options{
			CertFiles: cfg.CertFiles, KeyFiles: keys, CACerts: cfg.CACerts, CertReqs: cfg.CertReqs,
			Ciphers: cfg.Ciphers, MinVersion: cfg.TLSMinVersion, NextProtos: protos,
		})
		if err != nil {
			return nil, err
		}
		f.store = s
	}
	return f, nil
}

// wrap readies handler for TLS and HTTP/2 and wraps the listeners.
func (f *frontEnd) wrap(ls []net.Listener, handler *front.Handler) []net.Listener {
	if f == nil {
		return ls
	}
	cfg := f.cfg
	if f.store != nil {
		handler.Scheme = "https"
	}
	// What the http1 engine enforces itself, the HTTP/2 streams get here.
	handler.BodyTimeout, handler.BodyMinRate, handler.WriteTimeout = cfg.BodyTimeout, cfg.BodyMinRate, cfg.WriteTimeout
	handler.MaxHeaderFields, handler.MaxRequestLine, handler.MaxFieldBytes = cfg.MaxHeaderFields, cfg.MaxRequestLine, cfg.MaxFieldBytes
	headerList := cfg.HTTP2MaxHeaderListSize
	if headerList == 0 {
		headerList = int(cfg.MaxHeaderBytes)
	}
	hc := h2.Config{
		HTTP1:          slices.Contains(cfg.HTTPProtocols, "h1"),
		HTTP2:          slices.Contains(cfg.HTTPProtocols, "h2"),
		Cleartext:      cfg.HTTP2Cleartext,
		Trusted:        trusted(cfg.ForwardedAllowIPs),
		HeaderTimeout:  cfg.HeaderTimeout,
		MaxHeadBytes:   cfg.MaxRequestLine + int(cfg.MaxHeaderBytes) + 4,
		MaxHeaderBytes: headerList,
		MaxUpgradeBody: cfg.BodyMemory,
		Server: &http2.Server{
			MaxConcurrentStreams:     uint32(cfg.HTTP2MaxConcurrentStreams),
			MaxUploadBufferPerStream: int32(cfg.HTTP2InitialWindowSize),
			MaxReadFrameSize:         uint32(cfg.HTTP2MaxFrameSize),
			IdleTimeout:              cfg.KeepAlive,
			WriteByteTimeout:         cfg.WriteTimeout, // a connection that takes no bytes for this long is closed
		},
		Handler: handler,
		Log:     f.log,
	}
	if f.store != nil {
		hc.TLS = f.store.Config()
	}
	f.mux = h2.New(hc)
	out := make([]net.Listener, len(ls))
	for i, l := range ls {
		out[i] = f.mux.Listener(l)
	}
	return out
}

// url is the address a listener serves, for the "listening" line.
func (f *frontEnd) url(l net.Listener) string {
	u := listenURL(l)
	if f != nil && f.store != nil {
		u = strings.Replace(u, "http://", "https://", 1)
	}
	return u
}

// reload re-reads the certificates (SIGHUP): new handshakes get the new
// ones, open connections keep theirs. A file that does not load leaves
// the old certificates in use.
func (f *frontEnd) reload() {
	if f == nil || f.store == nil {
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
	if f == nil || f.mux == nil {
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

// trusted reports whether a peer may speak h2c: gunicorn's
// forwarded_allow_ips (addresses, networks, or *), 127.0.0.1 and ::1 by
// default as in gunicorn. Unix-socket peers are local and trusted, as
// gunicorn trusts them.
func trusted(allow []string) func(net.Addr) bool {
	if allow == nil {
		allow = []string{"127.0.0.1", "::1"}
	}
	var nets []*net.IPNet
	var ips []net.IP
	all := false
	for _, a := range allow {
		switch {
		case a == "*":
			all = true
		case strings.Contains(a, "/"):
			if _, n, err := net.ParseCIDR(a); err == nil {
				nets = append(nets, n)
			}
		default:
			if ip := net.ParseIP(a); ip != nil {
				ips = append(ips, ip)
			}
		}
	}
	return func(a net.Addr) bool {
		ta, ok := a.(*net.TCPAddr)
		if !ok {
			return true // a unix socket
		}
		if all {
			return true
		}
		for _, ip := range ips {
			if ip.Equal(ta.IP) {
				return true
			}
		}
		for _, n := range nets {
			if n.Contains(ta.IP) {
				return true
			}
		}
		return false
	}
}
