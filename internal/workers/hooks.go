package workers

import (
	"os"
	"strings"
	"syscall"
	"time"
)

// Hooks is told of the moments gunicorn runs its master-side server hooks
// at (internal/hooks runs them). PreFork is called from the goroutine that
// starts a worker, just before it is started (exec'd, or forked by the
// --preload template), and may block for a bounded time; the others are
// called from the supervisor loop and must only queue their work.
type Hooks interface {
	// PreFork: a worker is about to be started (pre_fork); w.PID is 0.
	// It returns how the master hooks have changed the master's
	// environment so far (gunicorn's master is Python: its os.environ is
	// what a forked worker inherits); the worker starts with them.
	PreFork(w HookWorker) EnvChanges
	// ChildExit: a worker's process has ended (child_exit).
	ChildExit(w HookWorker)
	// WorkersChanged: the number of workers to keep went from old to n
	// (nworkers_changed), on SIGTTIN and SIGTTOU.
	WorkersChanged(n, old int)
	// Reloading: a reload (SIGHUP, or a changed file with --reload) starts
	// a new generation of workers (on_reload).
	Reloading()
}

// EnvChanges are changes to the workers' environment: a value by name, nil
// for a variable removed.
type EnvChanges map[string]*string

// apply returns env (NAME=VALUE entries) with c applied; env itself is not
// changed.
func (c EnvChanges) apply(env []string) []string {
	if len(c) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+len(c))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if _, changed := c[name]; !changed {
			out = append(out, kv)
		}
	}
	for name, v := range c {
		if v != nil {
			out = append(out, name+"="+*v)
		}
	}
	return out
}

// HookWorker identifies a worker to a hook.
type HookWorker struct {
	ID  int // gowsgi's worker number, counting every start: gunicorn's worker.age
	PID int // 0 before the process exists
	Gen int // generation: bumped by each reload
}

func (w *Worker) hookWorker() HookWorker { return HookWorker{ID: w.ID, PID: w.PID, Gen: w.Gen} }

// Process is what every worker process is started with besides the app:
// the gunicorn config file whose worker-side hooks it runs, its process
// title, its user, and values for the environ.
type Process struct {
	// HookFile is the config file defining worker-side hooks (post_fork,
	// post_worker_init, pre_request, post_request, worker_int,
	// worker_abort, worker_exit); the worker executes it once. "" = none.
	HookFile string
	// HookNames are the hooks HookFile defines.
	HookNames []string
	// Settings are the effective settings by gunicorn name, for the
	// hooks' worker.cfg and server.cfg.
	Settings map[string]any
	// AbortGrace, when > 0 (a worker_abort or worker_exit hook), changes
	// how a worker that ran past --timeout ends: once only its stuck
	// requests remain it is sent SIGABRT (its worker_abort and worker_exit
	// hooks run, then it exits), and it is killed only if it is still
	// running AbortGrace later.
	AbortGrace time.Duration
	// ProcName names the worker processes in ps: "gowsgi: worker [NAME]".
	ProcName string
	// Credential, when set, is the user and groups the workers run as
	// (gunicorn's --user/--group). It is applied while gowsgi itself still
	// runs as root; once gowsgi has dropped to that user, workers simply
	// inherit it.
	Credential *syscall.Credential
	// ServerSoftware is the environ's SERVER_SOFTWARE ("gowsgi/0.2.0").
	ServerSoftware string
	// PasteGlobal are KEY=VALUE pairs for a PasteDeploy app's global_conf
	// (gunicorn's --paste-global).
	PasteGlobal []string
	// Output, when set, is the workers' stdout and stderr instead of
	// gowsgi's (--daemon: the error log file, or /dev/null).
	Output *os.File
}
