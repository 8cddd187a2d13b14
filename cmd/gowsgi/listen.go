package main

import (
	"log/slog"
	"net"
	"os"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/listen"
)

// sockets is main's side of internal/listen: the listening sockets
// (inherited from systemd or an upgrading gowsgi, or bound), systemd
// notifications, and SIGUSR2 binary upgrades.
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

// startSockets takes inherited sockets and the notify socket from the
// environment, before any worker starts: the variables are unset and the
// descriptors close-on-exec, so workers inherit neither.
func startSockets(cfg *config.Config, log *slog.Logger) (*sockets, error) {
	in, err := listen.Inherit()
	if err != nil {
		return nil, err
	}
	n, err := listen.NewNotifier()
	if err != nil {
		in.Close()
		return nil, err
	}
	n.StartWatchdog()
	return &sockets{cfg: cfg, log: log, in: in, notify: n, upgraded: make(chan int, 1)}, nil
}

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

// cleanup removes the unix socket files gowsgi created, unless they now
// serve the new process.
func (s *sockets) cleanup() {
	s.notify.StopWatchdog()
	if !s.handedOver {
		listen.Unlink(s.socks)
	}
}
