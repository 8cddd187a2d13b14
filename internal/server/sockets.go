package server

import (
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/creds"
	"github.com/gowsgi/gowsgi/internal/listen"
	"github.com/gowsgi/gowsgi/internal/proxy"
)

// sockets is the server's side of internal/listen: the sockets inherited
// from systemd or an upgrading gowsgi, systemd notifications, and SIGUSR2
// binary upgrades. The listeners part binds them.
type sockets struct {
	cfg    *config.Config
	log    *slog.Logger
	in     *listen.Inherited
	notify *listen.Notifier
	socks  []*listen.Socket
	// upgrading is set while a new process started by SIGUSR2 boots.
	upgrading atomic.Bool
	// upgraded gives the new process's pid once it serves: then this one
	// drains and exits.
	upgraded chan int
	// handedOver: the sockets now serve the new process; do not unlink
	// unix socket files nor tell systemd we are stopping.
	handedOver bool
}

// Provision takes inherited sockets and the notify socket from the
// environment, before any process is started: the variables are unset and
// the descriptors close-on-exec, so workers inherit neither. The systemd
// watchdog runs from here until the very end.
func (s *sockets) Provision(srv *Server) error {
	s.cfg, s.log, s.upgraded = srv.cfg, srv.log, make(chan int, 1)
	in, err := listen.Inherit()
	if err != nil {
		return err
	}
	n, err := listen.NewNotifier()
	if err != nil {
		in.Close()
		return err
	}
	s.in, s.notify = in, n
	n.StartWatchdog()
	srv.cleanups.push(n.StopWatchdog)
	return nil
}

func (s *sockets) Validate() error         { return nil }
func (s *sockets) Start(srv *Server) error { return nil }
func (s *sockets) Stop(srv *Server)        {}

// listen returns the listeners for cfg.Binds (see internal/listen for the
// rule that matches inherited sockets to binds).
func (s *sockets) listen() ([]net.Listener, error) {
	explicit := false
	for _, st := range s.cfg.Settings() {
		if st.Name == "bind" {
			explicit = st.Source != "default"
		}
	}
	socks, err := listen.Listen(s.in, s.cfg.Binds, explicit, listen.Options{
		ReusePort: s.cfg.ReusePort, Backlog: s.cfg.Backlog, Log: s.log,
	})
	if err != nil {
		return nil, err
	}
	s.socks = socks
	ls := make([]net.Listener, len(socks))
	for i, sk := range socks {
		ls[i] = sk.Listener
		if sk.Origin != listen.Bound {
			s.log.Info("serving on an inherited socket", "from", sk.Origin, "name", sk.Name, "addr", sk.Addr().String())
		}
	}
	return ls, nil
}

// serving is called once every listener is served: systemd hears READY=1,
// and the process this one was upgraded from is told to drain.
func (s *sockets) serving() {
	if err := s.notify.Ready(0); err != nil {
		s.log.Warn("cannot notify systemd", "err", err)
	}
	if parent := s.in.Parent(); parent != 0 {
		if err := s.in.Ready(); err != nil {
			s.log.Warn("cannot tell the previous process to drain", "pid", parent, "err", err)
		} else {
			s.log.Info("binary upgrade: serving; the previous process drains", "old_pid", parent)
		}
	}
}

// reloading and reloaded frame a SIGHUP reload for systemd.
func (s *sockets) reloading() { s.notify.Reloading() }
func (s *sockets) reloaded()  { s.notify.Ready(0) }

// upgrade starts a new gowsgi on the same sockets (SIGUSR2) without
// waiting; upgraded fires once it serves. A failed upgrade is logged and
// this process keeps serving.
func (s *sockets) upgrade() {
	if !s.upgrading.CompareAndSwap(false, true) {
		s.log.Warn("SIGUSR2: a binary upgrade is already under way; ignored")
		return
	}
	pid, done, err := listen.StartUpgrade(s.socks, append(os.Environ(), s.notify.Env()...))
	if err != nil {
		s.upgrading.Store(false)
		s.log.Error("binary upgrade failed; still serving", "err", err)
		return
	}
	s.log.Info("binary upgrade: started a new process on the same sockets", "pid", pid)
	go func() {
		if err := <-done; err != nil {
			s.log.Error("binary upgrade failed; still serving", "err", err)
			if _, err := s.cfg.WritePidFile(); err != nil { // the new process's exit removed it
				s.log.Warn("cannot rewrite the pid file", "err", err)
			}
			s.upgrading.Store(false)
			return
		}
		s.notify.MainPID(pid)
		s.upgraded <- pid
	}()
}

// stopping is called when the serve loop ends.
func (s *sockets) stopping(newPID int) {
	if newPID != 0 {
		s.handedOver = true
		listen.HandOver(s.socks)
		return // the service goes on, in the new process
	}
	s.notify.Stopping()
}

// listeners are the sockets the server serves on: inherited or bound
// (under --umask), behind PROXY protocol readers when --proxy-protocol asks.
type listeners struct {
	ls []net.Listener
	// plain marks the listeners of plain binds (hypercorn's
	// --insecure-bind): TLS does not apply to them.
	plain []bool
}

func (l *listeners) Provision(s *Server) error { return nil }
func (l *listeners) Validate() error           { return nil }

func (l *listeners) Start(s *Server) error {
	cfg := s.cfg
	oldUmask := -1
	if cfg.Umask >= 0 {
		oldUmask = syscall.Umask(cfg.Umask) // gunicorn's --umask: for the unix sockets
	}
	ls, err := s.sockets.listen()
	if oldUmask >= 0 {
		syscall.Umask(oldUmask)
	}
	if err != nil {
		return err
	}
	plainSpec := map[string]bool{}
	for _, b := range cfg.Binds {
		plainSpec[b.Spec] = plainSpec[b.Spec] || b.Plain
	}
	l.plain = make([]bool, len(ls))
	for i, sk := range s.sockets.socks {
		l.plain[i] = plainSpec[sk.Name]
	}
	ls = listen.Limit(ls, cfg.MaxConnections) // every connection counts under --max-connections, from accept on
	if cfg.ProxyProtocol != proxy.Off {
		for i, x := range ls {
			ls[i] = &proxy.Listener{Listener: x, Allow: cfg.ProxyAllowIPs, Mode: cfg.ProxyProtocol, HeaderTimeout: cfg.HeaderTimeout, Log: s.log}
		}
	}
	l.ls = ls
	return nil
}

// Stop removes the unix socket files gowsgi created, unless they now serve
// the new process of a binary upgrade. The listeners themselves are closed
// by the front's Stop.
func (l *listeners) Stop(s *Server) {
	if !s.sockets.handedOver {
		listen.Unlink(s.sockets.socks)
	}
}

// privileges: once its ports are bound, gowsgi takes --name as its comm and
// switches to --user/--group (the workers started as that user already).
type privileges struct{}

// Provision settles the credential of --user, --group and --initgroups,
// once, for the workers, the hooks and gowsgi itself.
func (privileges) Provision(s *Server) error {
	s.cred = creds.For(s.cfg.UID, s.cfg.GID, s.cfg.InitGroups, s.log)
	return nil
}

func (privileges) Validate() error { return nil }
func (privileges) Stop(s *Server)  {}

func (privileges) Start(s *Server) error {
	cfg := s.cfg
	if cfg.ProcName != "" {
		// comm (ps -o comm, top); the command line stays gowsgi's own.
		name := cfg.ProcName
		if len(name) > 15 {
			name = name[:15]
		}
		os.WriteFile("/proc/self/comm", []byte(name), 0)
	}
	return creds.Drop(s.cred, s.log)
}
