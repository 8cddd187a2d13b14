package server

// Server hooks and process settings: gunicorn's on_starting ... on_exit
// (the master-side ones through internal/hooks, the worker-side ones in the
// workers), and what the workers are started with besides the
// configuration's worker options.

import (
	"os"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/hooks"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// serverHooks is the master side of a config file's hooks; with none
// defined, host is nil and nothing runs.
type serverHooks struct {
	host *hooks.Host
}

func (h *serverHooks) Provision(s *Server) error { return nil }
func (h *serverHooks) Validate() error           { return nil }

// Start starts the hook host when the config file defines master-side
// hooks, and runs nworkers_changed(server, N, None) and on_starting(server),
// in gunicorn's order, before any worker boots.
func (h *serverHooks) Start(s *Server) error {
	cfg := s.cfg
	if cfg.Hooks.File == "" {
		return nil
	}
	host, err := hooks.Start(hooks.Options{
		Python: s.pool.python, File: cfg.Hooks.File, Names: cfg.Hooks.Names, Env: s.pool.env,
		Chdir: cfg.Chdir, PythonPath: cfg.PythonPath, Settings: hookSettings(cfg, s.cred), Log: s.log, Stderr: s.daemon.Stderr(),
	})
	if err != nil {
		return err
	}
	host.SetWorkers(cfg.Workers)
	host.Post("nworkers_changed", cfg.Workers, nil)
	host.Call("on_starting")
	h.host = host
	return nil
}

// Stop runs on_exit(server), then ends the host.
func (h *serverHooks) Stop(s *Server) {
	h.host.Call("on_exit")
	h.host.Close()
}

// supervisor is what the worker pool calls at pre_fork, child_exit,
// nworkers_changed and on_reload.
func (h *serverHooks) supervisor() workers.Hooks { return h.host.Supervisor() }

// serving runs when_ready(server) once gowsgi serves.
func (h *serverHooks) serving() { h.host.Call("when_ready") }

// preExec runs pre_exec(server) before SIGUSR2 starts a new gowsgi on the
// same sockets (gunicorn runs it before executing the new master), unless
// an upgrade is already under way.
func (h *serverHooks) preExec(socks *sockets) {
	if !socks.upgrading.Load() {
		h.host.Call("pre_exec")
	}
}

// hookSettings are the effective settings as hooks read them, by gunicorn
// name (server.cfg.workers, server.cfg.bind, ...), gowsgi's name for the
// options gunicorn lacks.
func hookSettings(cfg *config.Config, cred *syscall.Credential) map[string]any {
	out := map[string]any{}
	for _, s := range cfg.Settings() {
		name := s.Name
		if s.Gunicorn != nil {
			name = *s.Gunicorn
		}
		if m, ok := s.Value.(map[string]string); ok && m["callable"] != "" {
			continue // a hook itself
		}
		if _, ok := out[name]; !ok {
			out[name] = s.Value
		}
	}
	out["workers"] = cfg.Workers
	// uid and gid as gunicorn's cfg.uid/cfg.gid (and user/group) give them:
	// the ones the workers run as.
	uid, gid := os.Geteuid(), os.Getegid()
	if cred != nil {
		uid, gid = int(cred.Uid), int(cred.Gid)
	}
	out["uid"], out["gid"], out["user"], out["group"] = uid, gid, uid, gid
	if cfg.ProcName == "" {
		out["proc_name"] = cfg.Target
	}
	return out
}

// processOptions completes the workers' per-process settings p (the
// configuration's): worker-side hooks, user, SERVER_SOFTWARE, output.
func processOptions(s *Server, p workers.Process) workers.Process {
	cfg := s.cfg
	p.ServerSoftware = "gowsgi/" + s.version
	p.Credential = s.cred
	p.Output = s.daemon.Stderr()
	for _, n := range cfg.Hooks.Names {
		for _, w := range hooks.Worker {
			if n == w {
				p.HookNames = append(p.HookNames, n)
			}
		}
	}
	if len(p.HookNames) > 0 {
		p.HookFile = cfg.Hooks.File
		p.Settings = hookSettings(cfg, s.cred)
		for _, n := range p.HookNames {
			if n == "worker_abort" || n == "worker_exit" { // as gunicorn, worker_exit runs after a timeout too
				p.AbortGrace = 5 * time.Second
			}
		}
	}
	return p
}
