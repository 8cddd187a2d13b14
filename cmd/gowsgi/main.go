// Command gowsgi serves a Python WSGI (PEP 3333) application.
//
//	gowsgi cloudacademy/playground.py --bind :5000
//	gowsgi myproject.wsgi:application -w 4 --threads 8
//	gowsgi check myproject.wsgi:application
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gowsgi/gowsgi/internal/check"
	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/reload"
	"github.com/gowsgi/gowsgi/internal/static"
	"github.com/gowsgi/gowsgi/internal/websocket"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

// fail prints one line, gowsgi-prefixed, to stderr and returns the exit code.
func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "gowsgi: "+format+"\n", a...)
	return code
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "check" {
		return check.Main(args[1:], os.Stdout, os.Stderr)
	}
	cfg, err := config.Parse(args, os.Getenv, os.Stdout)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(2, "%v", err)
	}
	if cfg.ShowVersion {
		fmt.Println("gowsgi", version)
		return 0
	}
	if cfg.PrintConfig {
		cfg.PrintSettings(os.Stdout, cfg.JSON) // warnings included
		return 0
	}
	if code, done := detach(cfg, args); done { // --daemon: the launcher
		return code
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(os.Stderr, "gowsgi: %s\n", w)
	}
	if cfg.CheckConfig {
		return check.CheckConfig(cfg, os.Stdout, os.Stderr)
	}
	procs := setFrontProcs(cfg.Workers)
	logs, err := openLogs(cfg) // logging.go: both logs, SIGUSR1, statsd, proxies
	if err != nil {
		return fail(1, "%v", err)
	}
	defer logs.close()
	log := logs.log
	slog.SetDefault(log)
	if path := os.Getenv("GOWSGI_CPUPROFILE"); path != "" {
		// For bench/: profile the Go side until shutdown.
		f, err := os.Create(path)
		if err != nil {
			return fail(1, "GOWSGI_CPUPROFILE: %v", err)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	var mounts []*static.Mount
	staticOpts := static.Options{AllowDotfiles: cfg.StaticAllowDotfiles, FollowSymlinks: cfg.StaticFollowSymlinks, MaxAge: cfg.StaticMaxAge}
	for _, sm := range cfg.Static {
		m, err := static.NewMount(sm.Prefix, sm.Dir, staticOpts)
		if err != nil {
			return fail(2, "%v", err)
		}
		mounts = append(mounts, m)
	}

	fe, err := newFrontEnd(cfg, log) // TLS and HTTP/2 (tls.go)
	if err != nil {
		return fail(2, "%v", err)
	}
	socks, err := startSockets(cfg, log) // before any worker: they must not inherit LISTEN_FDS
	if err != nil {
		return fail(1, "%v", err)
	}

	python, err := pyshim.FindPython(cfg.Python)
	if err != nil {
		return fail(1, "%v", err)
	}
	env := os.Environ()
	if os.Getenv("PYTHONUNBUFFERED") == "" {
		// print() in the app shows up at once, as under wsgiref in a terminal.
		env = append(env, "PYTHONUNBUFFERED=1")
	}
	env = append(env, cfg.Env...)
	removePid, err := cfg.WritePidFile()
	if err != nil {
		return fail(1, "%v", err)
	}
	defer removePid()
	hooks, err := startHooks(cfg, python, env, log) // on_starting; on_exit when run returns
	if err != nil {
		return fail(1, "%v", err)
	}
	defer hooks.Exit()

	// Signals are ours before any port is bound: a SIGTTIN that arrives
	// once a client can connect must not stop the process (its default).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	control := make(chan os.Signal, 4)
	signal.Notify(control, syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR2)

	obs, err := startObservability(cfg, log) // metrics.go
	if err != nil {
		return fail(1, "%v", err)
	}
	defer obs.close()
	var watcher atomic.Pointer[reload.Watcher] // set once watching starts
	var pool *workers.Pool
	popts := workers.Options{
		Python: python, Target: cfg.Target, Chdir: cfg.Chdir, PythonPath: cfg.PythonPath,
		Env: env, Workers: cfg.Workers, Threads: cfg.Threads, Preload: cfg.Preload,
		BootTimeout: cfg.BootTimeout, MaxQueue: cfg.MaxQueue, QueueTimeout: cfg.QueueTimeout,
		Timeout:     cfg.Timeout,
		MaxRequests: cfg.MaxRequests, MaxRequestsJitter: cfg.MaxRequestsJitter,
		PipelineDepth:  cfg.PipelineDepth,
		MaxMemory:      cfg.MaxMemory,
		ResponseBuffer: cfg.ResponseBuffer,
		ResponseSpool:  cfg.ResponseSpool,
		TempDir:        cfg.TmpUploadDir,
		Log:            log,
		Observer:       obs.poolObserver(),
		Hooks:          hooks.Supervisor(),
		Process:        processOptions(cfg, log),
		OnReloaded: func() {
			socks.reloaded()
			if w := watcher.Load(); w != nil {
				go func() { w.Watch(pool.AppFiles()) }()
			}
		},
		OnReloadFailed: func(error) { socks.reloaded() },
	}
	logs.workerOptions(cfg, &popts)
	pool = workers.New(popts)
	obs.watchPool(pool)
	// Load the app before binding: a broken app never takes a port.
	started := make(chan error, 1)
	go func() { started <- pool.Start() }()
	select {
	case err := <-started:
		if err != nil {
			return bootFailed(cfg.Target, err)
		}
	case s := <-sigs:
		log.Info("stopping before the workers finished booting", "signal", s.String())
		pool.Stop(0)
		<-started
		return 0
	}

	oldUmask := -1
	if cfg.Umask >= 0 {
		oldUmask = syscall.Umask(cfg.Umask) // gunicorn's --umask: for the unix sockets
	}
	listeners, err := socks.listen()
	if oldUmask >= 0 {
		syscall.Umask(oldUmask)
	}
	if err == nil {
		listeners, err = logs.proxyListeners(cfg, listeners)
	}
	if err == nil {
		err = dropPrivileges(cfg, log) // --user/--group, now that the ports are bound
	}
	if err != nil {
		pool.Stop(cfg.GracefulTimeout)
		return fail(1, "%v", err)
	}

	handler := &front.Handler{
		Static: mounts,
		Pool:   pool, RootPath: cfg.RootPath, Scheme: "http", Forwarded: logs.fwd,
		MaxBodySize: cfg.MaxBodySize, BodyMemoryLimit: cfg.BodyMemory, TempDir: cfg.TmpUploadDir,
		BodyBudget: workers.NewBudget(cfg.BodyMemoryTotal),
		Log:        log,
		Compress:   cfg.Compress,
	}
	handler.WebSocket = webSocketOptions(cfg)
	listeners = fe.wrap(listeners, handler) // sets the https scheme: before the log and observer read it
	accessLog, err := logs.accessLog(cfg, handler, pool)
	if err != nil {
		pool.Stop(cfg.GracefulTimeout)
		return fail(2, "%v", err)
	}
	handler.AccessLog = accessLog
	handler.Observer = obs.frontObserver(handler.Scheme, cfg.RequestID)
	srv := &http1.Server{
		Handler:           handler,
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
		ErrorLog:          log,
	}

	// Files are watched before the first request: a change made as soon
	// as the server listens is not missed.
	var changed <-chan string
	if cfg.Reload {
		w, err := reload.New(log)
		if err != nil {
			log.Error("--reload: cannot watch files", "err", err)
		} else {
			w.Watch(append(pool.AppFiles(), cfg.ReloadExtraFiles...))
			watchCtx, stopWatch := context.WithCancel(context.Background())
			defer stopWatch()
			go w.Run(watchCtx)
			changed = w.Changed
			watcher.Store(w)
		}
	}

	var serving sync.WaitGroup
	for _, l := range listeners {
		serving.Add(1)
		go func(l net.Listener) {
			defer serving.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, http1.ErrServerClosed) {
				log.Error("listener failed", "addr", l.Addr().String(), "err", err)
			}
		}(l)
		log.Info("listening", "url", fe.url(l), "workers", cfg.Workers, "threads", cfg.Threads, "front_procs", procs, "app", cfg.Target, "python", python)
	}
	socks.serving()
	hooks.Serving() // when_ready; --daemon returns

	// The signal loop only forwards: the pool's supervisor owns the workers.
	var sig os.Signal
	newPID := 0 // a binary upgrade's new process, serving: drain and exit
loop:
	for {
		select {
		case sig = <-sigs:
			break loop
		case err := <-pool.Fatal():
			log.Error("cannot keep any worker running; exiting")
			fmt.Fprintf(os.Stderr, "gowsgi: workers keep failing to boot:\n%s\n", strings.TrimRight(err.Error(), "\n"))
			srv.Close()
			pool.Stop(0)
			return 1
		case s := <-control:
			switch s {
			case syscall.SIGHUP:
				socks.reloading()
				pool.Reload()
				fe.reload()
			case syscall.SIGUSR2:
				hooks.PreExec(socks)
				socks.upgrade()
			case syscall.SIGTTIN:
				if err := pool.Scale(1); err != nil {
					log.Error("cannot add a worker", "err", err)
				}
			case syscall.SIGTTOU:
				if err := pool.Scale(-1); err != nil {
					log.Warn("cannot remove a worker", "err", err)
				}
			}
		case newPID = <-socks.upgraded:
			sig = syscall.SIGUSR2
			break loop
		case f := <-changed:
			fmt.Fprintf(os.Stderr, "gowsgi: %s changed; reloading\n", f)
			pool.Reload()
		}
	}
	obs.draining()
	socks.stopping(newPID)
	if newPID != 0 {
		log.Info("binary upgrade: the new process serves; draining", "new_pid", newPID)
	}
	log.Info("shutting down: finishing in-flight requests", "signal", sig.String(), "graceful_timeout", cfg.GracefulTimeout.String())

	ctx, cancel := context.WithTimeout(context.Background(), cfg.GracefulTimeout)
	defer cancel()
	go func() {
		// A second Ctrl-C means now.
		select {
		case s := <-sigs:
			log.Warn("second signal: stopping at once", "signal", s.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	code := 0
	// Open WebSockets have the graceful timeout too, then get 1001 (Going
	// Away) a moment before it ends, so that their close handshakes fit.
	wsCtx, wsCancel := context.WithTimeout(ctx, cfg.GracefulTimeout-wsCloseMargin(cfg.GracefulTimeout))
	defer wsCancel()
	go handler.CloseWebSockets(wsCtx, websocket.CloseGoingAway, "server shutting down")
	h2done := fe.shutdown(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("graceful timeout reached; closing remaining connections", "err", err)
		srv.Close()
	}
	serving.Wait()
	<-h2done
	stopWait := cfg.GracefulTimeout
	if ctx.Err() != nil {
		stopWait = 0
	}
	pool.Stop(stopWait)
	socks.cleanup()
	if accessLog != nil {
		accessLog.Close()
	}
	log.Info("stopped")
	return code
}

// bootFailed reports an app that does not load: the traceback, or one line.
func bootFailed(target string, err error) int {
	var be *workers.BootError
	if errors.As(err, &be) {
		detail := strings.TrimRight(be.Detail, "\n")
		if strings.Contains(detail, "\n") {
			fmt.Fprintf(os.Stderr, "gowsgi: cannot load %s:\n%s\n", target, detail)
			return 1
		}
		return fail(1, "cannot load %s: %s", target, detail)
	}
	return fail(1, "%v", err)
}

func listenURL(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return "http://" + l.Addr().String()
}

// fieldLimit turns gunicorn's 0 ("no per-field limit") into http1's -1.
func fieldLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
