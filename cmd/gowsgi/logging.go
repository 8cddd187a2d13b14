package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/proxy"
	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/statsd"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// logs are gowsgi's error log, access log destination, statsd client and
// the workers' captured output, opened from the configuration. SIGUSR1
// reopens the log files, as gunicorn's does, for logrotate.
type logs struct {
	log       *slog.Logger
	errOut    *logging.Output
	accessOut *logging.Output   // nil: no access log
	stats     *statsd.Client    // nil: no statsd
	workerOut *os.File          // --capture-output: the pipe the workers write to; nil = gowsgi's stdout/stderr
	fwd       *proxy.Forwarding // nil: no proxy headers are believed
}

// openLogs opens both logs and starts the SIGUSR1 handler. Errors are one
// line for the user.
func openLogs(cfg *config.Config) (*logs, error) {
	l := &logs{}
	var err error
	switch cfg.ErrorLog.To {
	case config.OutputFile:
		if l.errOut, err = logging.OpenFile(cfg.ErrorLog.Path); err != nil {
			return nil, fmt.Errorf("cannot open error log: %v", err)
		}
	case config.OutputStdout:
		l.errOut = logging.Stream(os.Stdout)
	default:
		l.errOut = logging.Stream(os.Stderr)
	}
	switch cfg.AccessLog.To {
	case config.OutputFile:
		if l.accessOut, err = logging.OpenFile(cfg.AccessLog.Path); err != nil {
			l.errOut.Close()
			return nil, fmt.Errorf("cannot open access log: %v", err)
		}
	case config.OutputStdout:
		l.accessOut = logging.Stream(os.Stdout)
	case config.OutputStderr:
		l.accessOut = logging.Stream(os.Stderr)
	}
	if cfg.StatsdHost != "" {
		if l.stats, err = statsd.Dial(cfg.StatsdHost, cfg.StatsdPrefix, cfg.DogstatsdTags); err != nil {
			l.close()
			return nil, fmt.Errorf("--statsd-host: %v", err)
		}
	}
	var count func(slog.Level)
	if l.stats != nil {
		count = func(lv slog.Level) {
			if lv >= slog.LevelError {
				l.stats.Incr("gunicorn.log.error", 1)
			} else {
				l.stats.Incr("gunicorn.log.warning", 1)
			}
		}
	}
	l.log = logging.NewLogger(l.errOut, cfg.LogLevel, cfg.LogFormat, count)
	if cfg.CaptureOutput && cfg.ErrorLog.To == config.OutputFile {
		if err := l.capture(cfg.LogFormat); err != nil {
			l.close()
			return nil, fmt.Errorf("--capture-output: %v", err)
		}
	}
	trusted, err := proxy.ParseAllowList(cfg.ForwardedAllowIPs)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("--forwarded-allow-ips: %v", err)
	}
	if !trusted.Empty() {
		l.fwd = proxy.NewForwarding(trusted, cfg.SecureSchemeHeaders)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			l.reopen()
		}
	}()
	return l, nil
}

// capture gives the workers one pipe for stdout and stderr; its lines go to
// the error log file whole, so they never interleave with gowsgi's own
// records mid-line. With --log-format json each line is wrapped in a
// record of gowsgi's own (see logging.CopyLines), never written raw.
func (l *logs) capture(format string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	l.workerOut = w
	go logging.CopyLines(l.errOut, r, format)
	return nil
}

// reopen reopens the log files (SIGUSR1): after logrotate renamed them, new
// lines go to new files at the configured paths.
func (l *logs) reopen() {
	for _, o := range []*logging.Output{l.errOut, l.accessOut} {
		if err := o.Reopen(); err != nil {
			l.log.Error("cannot reopen log file", "path", o.Path(), "err", err)
		}
	}
	l.log.Info("reopened log files", "signal", "SIGUSR1")
}

// workerOptions adds the workers' output and Python logging configuration.
func (l *logs) workerOptions(cfg *config.Config, o *workers.Options) {
	o.Output = l.workerOut
	o.LogConfig = pyshim.LogConfig{File: cfg.LogConfig, JSONFile: cfg.LogConfigJSON}
	if cfg.LogConfigDict != "" {
		o.LogConfig.Dict = json.RawMessage(cfg.LogConfigDict)
	}
}

// accessLog starts the access log for the handler h (nil when there is
// neither an access log nor statsd), and the gunicorn.workers gauge.
func (l *logs) accessLog(cfg *config.Config, h *front.Handler, pool *workers.Pool) (*front.AccessLog, error) {
	if l.stats != nil {
		go func() {
			for {
				l.stats.Gauge("gunicorn.workers", int64(pool.Size()))
				time.Sleep(time.Second) // gunicorn's arbiter reports it each turn of its 1s loop
			}
		}()
	}
	if l.accessOut == nil && l.stats == nil {
		return nil, nil
	}
	opts := front.AccessLogOptions{Format: cfg.AccessLogFormat, JSON: cfg.LogFormat == "json",
		Forwarded: h.Forwarded, Scheme: h.Scheme, RootPath: h.RootPath, Stats: l.stats}
	if l.accessOut == nil {
		return front.NewAccessLogWith(nil, opts) // statsd only; a nil *Output would not be a nil io.Writer
	}
	return front.NewAccessLogWith(l.accessOut, opts)
}

// proxyListeners wraps listeners in PROXY protocol readers when
// --proxy-protocol asks.
func (l *logs) proxyListeners(cfg *config.Config, ls []net.Listener) ([]net.Listener, error) {
	if cfg.ProxyProtocol == proxy.Off {
		return ls, nil
	}
	allow, err := proxy.ParseAllowList(cfg.ProxyAllowIPs)
	if err != nil {
		return nil, fmt.Errorf("--proxy-allow-from: %v", err)
	}
	out := make([]net.Listener, len(ls))
	for i, x := range ls {
		out[i] = &proxy.Listener{Listener: x, Allow: allow, Mode: cfg.ProxyProtocol, HeaderTimeout: cfg.HeaderTimeout, Log: l.log}
	}
	return out, nil
}

// close flushes statsd and closes the log files.
func (l *logs) close() {
	l.stats.Close()
	if l.accessOut != nil {
		l.accessOut.Close()
	}
	l.errOut.Close()
}
