package server

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/front"
	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/proxy"
	"github.com/gowsgi/gowsgi/internal/statsd"
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
	fwd       *proxy.Forwarding // whose forwarding headers are believed, and what they say
	usr1      chan os.Signal
}

// Provision opens both logs, statsd and the capture pipe, and makes the
// error log slog's default. Errors are one line for the user.
func (l *logs) Provision(s *Server) error {
	cfg := s.cfg
	if err := l.open(s); err != nil {
		return err
	}
	if cfg.StatsdHost != "" {
		var err error
		if l.stats, err = statsd.Dial(cfg.StatsdHost, cfg.StatsdPrefix, cfg.DogstatsdTags); err != nil {
			return fmt.Errorf("--statsd-host: %v", err)
		}
		s.cleanups.push(func() { l.stats.Close() }) // flushes
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
	l.log = logging.NewLogger(l.errOut, cfg.LogLevel, string(cfg.LogFormat), count)
	s.log = l.log
	slog.SetDefault(l.log)
	s.cleanups.push(func() {
		if s.served {
			l.log.Info("stopped")
		}
	})
	if cfg.CaptureOutput && cfg.ErrorLog.To == config.OutputFile {
		if err := l.capture(cfg.LogFormat); err != nil {
			return fmt.Errorf("--capture-output: %v", err)
		}
	}
	l.fwd = proxy.NewForwarding(cfg.ForwardedAllowIPs, cfg.SecureSchemeHeaders)
	return nil
}

// open opens the error log and the access log's destination.
func (l *logs) open(s *Server) error {
	cfg := s.cfg
	var err error
	switch cfg.ErrorLog.To {
	case config.OutputFile:
		if l.errOut, err = logging.OpenFile(cfg.ErrorLog.Path); err != nil {
			return fmt.Errorf("cannot open error log: %v", err)
		}
	case config.OutputStdout:
		l.errOut = logging.Stream(os.Stdout)
	default:
		l.errOut = logging.Stream(os.Stderr)
	}
	s.cleanups.push(func() { l.errOut.Close() })
	switch cfg.AccessLog.To {
	case config.OutputFile:
		if l.accessOut, err = logging.OpenFile(cfg.AccessLog.Path); err != nil {
			return fmt.Errorf("cannot open access log: %v", err)
		}
		s.cleanups.push(func() { l.accessOut.Close() })
	case config.OutputStdout:
		l.accessOut = logging.Stream(os.Stdout)
	case config.OutputStderr:
		l.accessOut = logging.Stream(os.Stderr)
	}
	return nil
}

func (l *logs) Validate() error { return nil }

// Start reopens the log files on SIGUSR1 from now on.
func (l *logs) Start(s *Server) error {
	l.usr1 = make(chan os.Signal, 1)
	signal.Notify(l.usr1, syscall.SIGUSR1)
	go func() {
		for range l.usr1 {
			l.reopen()
		}
	}()
	return nil
}

// Stop ends SIGUSR1's handling; the files close last, from Provision's
// cleanups.
func (l *logs) Stop(s *Server) {
	signal.Stop(l.usr1)
	close(l.usr1)
}

// capture gives the workers one pipe for stdout and stderr; its lines go to
// the error log file whole, so they never interleave with gowsgi's own
// records mid-line. With --log-format json each line is wrapped in a
// record of gowsgi's own (see logging.CopyLines), never written raw.
func (l *logs) capture(format config.LogFormat) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	l.workerOut = w
	go logging.CopyLines(l.errOut, r, string(format))
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

// accessLog is the front's access log (nil when there is neither an access
// log nor statsd). It starts before the pool so that it closes after the
// workers are stopped: the lines of requests that finish while they stop
// are written.
type accessLog struct {
	log *front.AccessLog
}

func (a *accessLog) Provision(s *Server) error { return nil }
func (a *accessLog) Validate() error           { return nil }

func (a *accessLog) Start(s *Server) error {
	l, cfg := s.logs, s.cfg
	if l.accessOut == nil && l.stats == nil {
		return nil
	}
	opts := front.AccessLogOptions{Format: cfg.AccessLogFormat, JSON: cfg.LogFormat == config.LogJSON,
		Forwarded: l.fwd, Scheme: s.front.scheme(), RootPath: cfg.RootPath, Stats: l.stats}
	var err error
	if l.accessOut == nil {
		a.log, err = front.NewAccessLogWith(nil, opts) // statsd only; a nil *Output would not be a nil io.Writer
	} else {
		a.log, err = front.NewAccessLogWith(l.accessOut, opts)
	}
	return usage(err)
}

func (a *accessLog) Stop(s *Server) {
	if a.log != nil {
		a.log.Close()
	}
}

// gauge sends statsd's gunicorn.workers every second, as gunicorn's arbiter
// does each turn of its loop.
type gauge struct {
	stop chan struct{}
	done chan struct{}
}

func (g *gauge) Provision(s *Server) error { return nil }
func (g *gauge) Validate() error           { return nil }

func (g *gauge) Start(s *Server) error {
	stats := s.logs.stats
	if stats == nil {
		return nil
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(g.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			stats.Gauge("gunicorn.workers", int64(s.pool.p.Size()))
			select {
			case <-t.C:
			case <-g.stop:
				return
			}
		}
	}()
	return nil
}

func (g *gauge) Stop(s *Server) {
	if g.stop != nil {
		close(g.stop)
		<-g.done
	}
}
