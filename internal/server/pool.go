package server

import (
	"os"

	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// pool is the worker processes: the configuration's workers.Options and
// what is found at run time (the interpreter, the environment, hooks,
// observers, the output).
type pool struct {
	python string   // the interpreter
	env    []string // the workers' environment
	p      *workers.Pool
}

// Provision finds the interpreter and makes the workers' environment.
func (p *pool) Provision(s *Server) error {
	python, err := pyshim.FindPython(s.cfg.Python)
	if err != nil {
		return err
	}
	env := os.Environ()
	if os.Getenv("PYTHONUNBUFFERED") == "" {
		// print() in the app shows up at once, as under wsgiref in a terminal.
		env = append(env, "PYTHONUNBUFFERED=1")
	}
	p.python, p.env = python, append(env, s.cfg.Env...)
	return nil
}

func (p *pool) Validate() error { return nil }

// Start boots the workers and waits until they serve: the app is loaded
// before any port is bound, so a broken app never takes one. SIGINT or
// SIGTERM meanwhile stops them and the server (errInterrupted).
func (p *pool) Start(s *Server) error {
	opts := s.cfg.WorkerOptions()
	opts.Python, opts.Env, opts.Log = p.python, p.env, s.log
	opts.Observer = s.obs.poolObserver()
	opts.Hooks = s.hooks.supervisor()
	opts.Process = processOptions(s, opts.Process)
	opts.Output = s.logs.workerOut
	opts.ResponseMemory, opts.ResponseSpoolTotal = s.cfg.ResponseMemoryTotal, s.cfg.ResponseSpoolTotal
	opts.SpoolFiles = workers.NewBudget(int64(s.cfg.MaxSpoolFiles)) // the front's request spools count under it too
	opts.OnReloaded = func() {
		s.sockets.reloaded()
		s.reload.watchAgain()
	}
	opts.OnReloadFailed = func(error) { s.sockets.reloaded() }
	p.p = workers.New(opts)
	s.obs.watchPool(p.p)
	started := make(chan error, 1)
	go func() { started <- p.p.Start() }()
	select {
	case err := <-started:
		if err == nil && opts.WorkersByApp {
			// The application set the worker count: the front gets the
			// CPUs the workers it got leave.
			s.procs = setFrontProcs(p.p.Size())
		}
		return err // a failed Start has stopped the workers it started
	case sig := <-s.sigs:
		s.log.Info("stopping before the workers finished booting", "signal", sig.String())
		p.p.Stop(0)
		<-started
		return errInterrupted
	}
}

// Stop stops the workers, letting requests finish within s.stopWait.
func (p *pool) Stop(s *Server) { p.p.Stop(s.stopWait) }
