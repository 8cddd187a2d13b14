package main

// Server hooks and process settings: gunicorn's on_starting ... on_exit
// (the master-side ones through internal/hooks, the worker-side ones in the
// workers), --user/--group/--initgroups and --proc-name.

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/hooks"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// serverHooks is the master side of a config file's hooks; a nil one runs
// nothing.
type serverHooks struct {
	host *hooks.Host
}

// startHooks starts the hook host when the config file defines master-side
// hooks, and runs nworkers_changed(server, N, None) and on_starting(server),
// in gunicorn's order, before any worker boots.
func startHooks(cfg *config.Config, python string, env []string, log *slog.Logger) (*serverHooks, error) {
	if cfg.Hooks.File == "" {
		return &serverHooks{}, nil
	}
	h, err := hooks.Start(hooks.Options{
		Python: python, File: cfg.Hooks.File, Names: cfg.Hooks.Names, Env: env,
		Chdir: cfg.Chdir, PythonPath: cfg.PythonPath, Settings: hookSettings(cfg), Log: log, Stderr: daemonOut,
	})
	if err != nil {
		return nil, err
	}
	h.SetWorkers(cfg.Workers)
	h.Post("nworkers_changed", cfg.Workers, nil)
	h.Call("on_starting")
	return &serverHooks{host: h}, nil
}

// Supervisor is what the worker pool calls at pre_fork, child_exit,
// nworkers_changed and on_reload.
func (s *serverHooks) Supervisor() workers.Hooks { return s.host.Supervisor() }

// Serving runs when_ready(server) once gowsgi serves, and with --daemon
// then lets the launcher return.
func (s *serverHooks) Serving() {
	s.host.Call("when_ready")
	daemonServing()
}

// PreExec runs pre_exec(server) before SIGUSR2 starts a new gowsgi on the
// same sockets (gunicorn runs it before executing the new master), unless
// an upgrade is already under way.
func (s *serverHooks) PreExec(socks *sockets) {
	if !socks.upgrading.Load() {
		s.host.Call("pre_exec")
	}
}

// Exit runs on_exit(server), then ends the host.
func (s *serverHooks) Exit() {
	s.host.Call("on_exit")
	s.host.Close()
}

// hookSettings are the effective settings as hooks read them, by gunicorn
// name (server.cfg.workers, server.cfg.bind, ...), gowsgi's name for the
// options gunicorn lacks.
func hookSettings(cfg *config.Config) map[string]any {
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
	if cr := credential(cfg, slog.Default()); cr != nil {
		uid, gid = int(cr.Uid), int(cr.Gid)
	}
	out["uid"], out["gid"], out["user"], out["group"] = uid, gid, uid, gid
	if cfg.ProcName == "" {
		out["proc_name"] = cfg.Target
	}
	return out
}

// processOptions completes the workers' per-process settings p (the
// configuration's): worker-side hooks, user, SERVER_SOFTWARE, output.
func processOptions(cfg *config.Config, p workers.Process, log *slog.Logger) workers.Process {
	p.ServerSoftware = "gowsgi/" + version
	p.Credential = credential(cfg, log)
	p.Output = daemonOut
	for _, n := range cfg.Hooks.Names {
		for _, w := range hooks.Worker {
			if n == w {
				p.HookNames = append(p.HookNames, n)
			}
		}
	}
	if len(p.HookNames) > 0 {
		p.HookFile = cfg.Hooks.File
		p.Settings = hookSettings(cfg)
		for _, n := range p.HookNames {
			if n == "worker_abort" || n == "worker_exit" { // as gunicorn, worker_exit runs after a timeout too
				p.AbortGrace = 5 * time.Second
			}
		}
	}
	return p
}

// credential is --user/--group/--initgroups as a process credential; nil
// when neither is given.
func credential(cfg *config.Config, log *slog.Logger) *syscall.Credential {
	if cfg.UID < 0 && cfg.GID < 0 {
		return nil
	}
	uid, gid := os.Geteuid(), os.Getegid()
	var u *user.User
	if cfg.UID >= 0 {
		uid = cfg.UID
		if found, err := user.LookupId(strconv.Itoa(uid)); err == nil {
			u = found
			if cfg.GID < 0 {
				gid, _ = strconv.Atoi(found.Gid) // the user's primary group
			}
		}
	}
	if cfg.GID >= 0 {
		gid = cfg.GID
	}
	cr := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	if cfg.InitGroups && u != nil {
		ids, err := u.GroupIds()
		if err != nil {
			log.Warn("--initgroups: cannot list the user's groups", "user", u.Username, "err", err)
		}
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil {
				cr.Groups = append(cr.Groups, uint32(n))
			}
		}
	}
	return cr
}

// dropPrivileges switches gowsgi itself to --user/--group once its ports
// are bound (the workers started as that user already), and names the
// process after --proc-name. Switching needs root; gowsgi already running
// as the user is fine.
func dropPrivileges(cfg *config.Config, log *slog.Logger) error {
	if cfg.ProcName != "" {
		// comm (ps -o comm, top); the command line stays gowsgi's own.
		name := cfg.ProcName
		if len(name) > 15 {
			name = name[:15]
		}
		os.WriteFile("/proc/self/comm", []byte(name), 0)
	}
	cr := credential(cfg, log)
	if cr == nil {
		return nil
	}
	if os.Geteuid() == int(cr.Uid) && os.Getegid() == int(cr.Gid) {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("--user/--group: switching to uid %d gid %d needs root (gowsgi runs as uid %d)", cr.Uid, cr.Gid, os.Geteuid())
	}
	groups := make([]int, len(cr.Groups))
	for i, g := range cr.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("--user/--group: setgroups: %v", err)
	}
	if err := syscall.Setgid(int(cr.Gid)); err != nil {
		return fmt.Errorf("--group: setgid %d: %v", cr.Gid, err)
	}
	if err := syscall.Setuid(int(cr.Uid)); err != nil {
		return fmt.Errorf("--user: setuid %d: %v", cr.Uid, err)
	}
	log.Info("switched user", "uid", cr.Uid, "gid", cr.Gid)
	return nil
}
