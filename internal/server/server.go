// Package server is gowsgi's composition root: it builds the server from a
// validated configuration (logs, TLS and HTTP/2, static files, sockets, the
// worker pool, server hooks, metrics and tracing, the HTTP front), starts
// it, forwards signals while it serves, and stops it.
//
// Each component is a part in Caddy's shape: Provision builds it from the
// configuration, Validate checks it, Start sets it going and Stop undoes
// Start. Every part is provisioned and validated, in order, before any is
// started, so a mistake in the configuration costs nothing: no worker
// boots, no port is bound. Then the parts start in order; each started
// part's Stop goes on a stack (and so does the closing of anything a
// Provision opened), and the stack runs newest first when the server stops
// or a start fails. No error path stops anything by hand.
//
// The order, and why:
//
//	logs       open both logs first: every later message goes there
//	profile    GOWSGI_CPUPROFILE, for bench/
//	front      static mounts, TLS certificates: a bad one is exit 2 before anything runs
//	sockets    take systemd's or an upgrading gowsgi's sockets before any process is started
//	pidfile    written once the configuration holds
//	hooks      the hook host and on_starting, before any worker
//	signals    ours before a port is bound (a SIGTTIN must not stop the process)
//	metrics    /healthz answers while the workers boot
//	tracer     the OTLP exporter, when the OTEL variables ask
//	accesslog  closed after the workers are stopped (lines of finishing requests)
//	pool       the workers boot: an app that does not load never takes a port
//	gauge      statsd's gunicorn.workers, once a second
//	listeners  bind, under --umask
//	privileges then --user/--group and --name
//	reload     files watched before the first request
//	http       serve; Stop drains within --graceful-timeout
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/check"
	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/listen"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// part is one component of the server.
type part interface {
	// Provision builds the part from the configuration and the parts
	// before it. It starts no process and binds no port; what it opens (a
	// file, a socket taken from the environment) it pushes the closing of
	// onto s.cleanups.
	Provision(s *Server) error
	// Validate checks the part as provisioned. Its errors, like
	// Provision's, are one line for the user.
	Validate() error
	// Start sets the part going, once every part is provisioned and the
	// parts before it have started.
	Start(s *Server) error
	// Stop undoes Start. It runs from s.cleanups, after the parts started
	// later have stopped.
	Stop(s *Server)
}

// Server is one gowsgi server: its configuration, its parts, and the state
// they share.
type Server struct {
	cfg     *config.Config
	version string
	daemon  *listen.Daemon // nil without --daemon

	cleanups stack
	log      *slog.Logger // the error log, once logs is provisioned

	logs      *logs
	front     *frontEnd
	sockets   *sockets
	hooks     *serverHooks
	obs       *observability
	access    *accessLog
	pool      *pool
	reload    *reloader
	http      *httpFront
	listeners *listeners

	// sigs are SIGINT, SIGTERM and SIGQUIT: stop. control are SIGHUP, SIGTTIN,
	// SIGTTOU and SIGUSR2, which the signal loop forwards.
	sigs, control chan os.Signal
	// stopWait is how long the pool's Stop lets requests finish:
	// --graceful-timeout, or 0 once the drain ran out of time or the
	// server fails.
	stopWait time.Duration
	// stopNow: the server fails; the front closes its connections at once.
	stopNow bool
	// quick: SIGQUIT, gunicorn's quick shutdown: the front stops at once,
	// as on a second SIGTERM (connections closed, workers given no grace).
	quick bool
	// upgraded: a binary upgrade's new process serves; this one drains.
	upgraded bool
	// served: the server got as far as serving (for the "stopped" line).
	served bool
	// procs is GOMAXPROCS, for the "listening" line.
	procs int
	// cred is --user/--group/--initgroups' credential; nil = unchanged.
	cred *syscall.Credential
}

// Run runs gowsgi with cfg, a parsed configuration, and returns the exit
// status. args are the command line (without the program name), for
// --daemon's re-execution; version is gowsgi's, for SERVER_SOFTWARE and
// OpenTelemetry.
func Run(cfg *config.Config, args []string, version string) int {
	daemon, launched := listen.Detach(cfg, args)
	if launched != nil { // --daemon: this is the launcher
		if launched.Err != nil {
			return fail(1, "%v", launched.Err)
		}
		return launched.Code
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(os.Stderr, "gowsgi: %s\n", w)
	}
	if cfg.CheckConfig {
		return check.CheckConfig(cfg, os.Stdout, os.Stderr)
	}
	s := &Server{cfg: cfg, version: version, daemon: daemon, stopWait: cfg.GracefulTimeout}
	s.procs = setFrontProcs(cfg.Workers)
	defer s.cleanups.run()
	if err := s.start(); err != nil {
		return report(cfg.Target, err)
	}
	return s.loop()
}

// parts are the server's parts in start order (see the package doc).
func (s *Server) parts() []part {
	s.logs, s.front, s.sockets = &logs{}, &frontEnd{}, &sockets{}
	s.hooks, s.obs, s.access = &serverHooks{}, &observability{}, &accessLog{}
	s.pool, s.listeners, s.reload, s.http = &pool{}, &listeners{}, &reloader{}, &httpFront{}
	return []part{s.logs, &profile{}, s.front, s.sockets, &pidFile{}, s.hooks, &signals{}, s.obs, tracer{},
		s.access, s.pool, &gauge{}, s.listeners, privileges{}, s.reload, s.http}
}

// start provisions and validates every part, then starts them in order,
// and tells systemd, the process this one upgraded from, the when_ready
// hook and a --daemon launcher that the server serves.
func (s *Server) start() error {
	if err := s.startParts(s.parts()); err != nil {
		return err
	}
	s.served = true
	s.sockets.serving()
	s.hooks.serving()
	s.daemon.Serving()
	return nil
}

// startParts provisions and validates every part, then starts them in
// order, pushing each started part's Stop onto s.cleanups. Validate's
// errors are the user's (exit 2).
func (s *Server) startParts(parts []part) error {
	for _, p := range parts {
		if err := p.Provision(s); err != nil {
			return err
		}
		if err := p.Validate(); err != nil {
			return usage(err)
		}
	}
	for _, p := range parts {
		if err := p.Start(s); err != nil {
			return err
		}
		s.cleanups.push(func() { p.Stop(s) })
	}
	return nil
}

// loop forwards signals until one stops the server, and returns the exit
// status; the pool's supervisor owns the workers, the loop only posts.
func (s *Server) loop() int {
	for {
		select {
		case sig := <-s.sigs:
			s.quick = sig == syscall.SIGQUIT
			s.stopping(sig, 0)
			return 0
		case pid := <-s.sockets.upgraded:
			s.upgraded = true
			s.stopping(syscall.SIGUSR2, pid)
			return 0
		case err := <-s.pool.p.Fatal():
			s.log.Error("cannot keep any worker running; exiting")
			fmt.Fprintf(os.Stderr, "gowsgi: workers keep failing to boot:\n%s\n", strings.TrimRight(err.Error(), "\n"))
			s.stopNow, s.stopWait = true, 0
			return bootStatus(err)
		case sig := <-s.control:
			s.signal(sig)
		case f := <-s.reload.changed:
			fmt.Fprintf(os.Stderr, "gowsgi: %s changed; reloading\n", f)
			s.pool.p.Reload()
		}
	}
}

// signal handles a control signal: SIGHUP reloads the workers and the
// certificates, SIGUSR2 starts a binary upgrade, SIGTTIN and SIGTTOU add
// and remove a worker.
func (s *Server) signal(sig os.Signal) {
	switch sig {
	case syscall.SIGHUP:
		s.sockets.reloading()
		s.pool.p.Reload()
		s.front.reload()
	case syscall.SIGUSR2:
		s.hooks.preExec(s.sockets)
		s.sockets.upgrade()
	case syscall.SIGTTIN:
		if err := s.pool.p.Scale(1); err != nil {
			s.log.Error("cannot add a worker", "err", err)
		}
	case syscall.SIGTTOU:
		if err := s.pool.p.Scale(-1); err != nil {
			s.log.Warn("cannot remove a worker", "err", err)
		}
	}
}

// stopping begins a graceful stop on sig: /readyz answers 503, systemd
// hears STOPPING=1 (or, after a binary upgrade, the sockets stay for the
// new process newPID). The parts' Stops then run from the stack.
func (s *Server) stopping(sig os.Signal, newPID int) {
	s.obs.draining()
	s.sockets.stopping(newPID)
	if newPID != 0 {
		s.log.Info("binary upgrade: the new process serves; draining", "new_pid", newPID)
	}
	if s.quick {
		s.log.Info("shutting down at once: in-flight requests are cut", "signal", sig.String())
		return
	}
	s.log.Info("shutting down: finishing in-flight requests", "signal", sig.String(), "graceful_timeout", s.cfg.GracefulTimeout.String())
}

// exitError is an error that ends gowsgi with a given status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usage marks err as the user's mistake: exit status 2.
func usage(err error) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &exitError{2, err}
}

// errInterrupted: a signal stopped the server before it served; exit 0.
var errInterrupted = errors.New("interrupted while starting")

// report prints why the server did not start and returns the exit status:
// an app that does not load gets its traceback, anything else one line.
// A boot failure exits as gunicorn's arbiter does (bootStatus), anything
// else 1, or 2 for the user's mistake (usage).
func report(target string, err error) int {
	var be *workers.BootError
	var ee *exitError
	switch {
	case errors.Is(err, errInterrupted):
		return 0
	case errors.As(err, &be):
		detail := strings.TrimRight(be.Detail, "\n")
		if strings.Contains(detail, "\n") {
			fmt.Fprintf(os.Stderr, "gowsgi: cannot load %s:\n%s\n", target, detail)
			return be.ExitStatus()
		}
		return fail(be.ExitStatus(), "cannot load %s: %s", target, detail)
	case errors.As(err, &ee):
		return fail(ee.code, "%v", ee.err)
	}
	return fail(1, "%v", err)
}

// bootStatus is the exit status for workers that keep failing to boot:
// the last failure's (workers.ExitAppLoad or workers.ExitWorkerBoot), as
// gunicorn's arbiter halts with a worker's boot error at any time.
func bootStatus(err error) int {
	var be *workers.BootError
	if errors.As(err, &be) {
		return be.ExitStatus()
	}
	return workers.ExitWorkerBoot
}

// fail prints one line, gowsgi-prefixed, to stderr and returns code.
func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "gowsgi: "+format+"\n", a...)
	return code
}
