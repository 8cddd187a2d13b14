package server

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// profile profiles the Go side until the server stops, when
// GOWSGI_CPUPROFILE names a file (for bench/); GOWSGI_MEMPROFILE names a
// file for the allocations made meanwhile (every one recorded:
// `go tool pprof -sample_index=alloc_objects`), written at shutdown.
type profile struct{}

func (profile) Provision(s *Server) error {
	if path := os.Getenv("GOWSGI_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("GOWSGI_CPUPROFILE: %v", err)
		}
		pprof.StartCPUProfile(f)
		s.cleanups.push(func() { pprof.StopCPUProfile(); f.Close() })
	}
	if path := os.Getenv("GOWSGI_MEMPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("GOWSGI_MEMPROFILE: %v", err)
		}
		runtime.MemProfileRate = 1
		s.cleanups.push(func() { pprof.Lookup("allocs").WriteTo(f, 0); f.Close() })
	}
	return nil
}

func (profile) Validate() error       { return nil }
func (profile) Start(s *Server) error { return nil }
func (profile) Stop(s *Server)        {}

// pidFile is --pid: written once the configuration holds, removed at exit
// unless a binary upgrade's new process has written its own.
type pidFile struct {
	remove func()
}

func (p *pidFile) Provision(s *Server) error { return nil }
func (p *pidFile) Validate() error           { return nil }

func (p *pidFile) Start(s *Server) error {
	remove, err := s.cfg.WritePidFile()
	p.remove = remove
	return err
}

func (p *pidFile) Stop(s *Server) { p.remove() }

// signals are taken before any port is bound: a SIGTTIN that arrives once a
// client can connect must not stop the process (its default action), nor
// a SIGQUIT leave the workers behind (Go's default: dump and exit 2).
type signals struct{}

func (signals) Provision(s *Server) error {
	s.sigs, s.control = make(chan os.Signal, 2), make(chan os.Signal, 4)
	return nil
}

func (signals) Validate() error { return nil }

func (signals) Start(s *Server) error {
	signal.Notify(s.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	signal.Notify(s.control, syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR2)
	return nil
}

func (signals) Stop(s *Server) {
	signal.Stop(s.control)
	signal.Stop(s.sigs)
}
