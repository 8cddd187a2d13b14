// Package hooks runs the master-side gunicorn server hooks of a config file
// (on_starting, when_ready, on_reload, pre_fork, pre_exec, child_exit,
// nworkers_changed, on_exit) for gowsgi, whose master is Go.
//
// A Host is one Python process, the hook host, started with the workers'
// interpreter and an embedded stdlib-only script (hookhost.py). It executes
// the config file once, the way gunicorn does, and then runs one hook per
// request: a JSON line {hook, args} on its stdin, answered by {"done": hook}
// on its stdout once the hook has returned. Hooks run one at a time, in the
// order they were asked for, so child_exit comes before the pre_fork of
// the replacement, as under gunicorn's arbiter.
//
// A hook that raises is logged by the host with its traceback and the
// server carries on. A hook that runs longer than Options.Timeout is
// abandoned: the host is killed, that is logged, and a fresh host (the
// config file executed again) runs the next hook. So no hook holds the
// supervisor, or a worker's boot, for longer than the bound.
//
// The worker-side hooks (post_fork, post_worker_init, pre_request,
// post_request, worker_int, worker_abort, worker_exit) run in the workers
// themselves (internal/pyshim/worker.py), with the same config loading and
// hook objects (internal/pyshim/gunicorn_compat.py).
package hooks

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/workers"
)

//go:embed hookhost.py
var hostSource []byte

// hostProgram is hookhost.py after the module that executes the config
// file and builds the hooks' server and worker objects
// (pyshim.GunicornCompat, which the config reader and the workers use too).
var hostProgram = pyshim.Bundle(pyshim.GunicornCompat, pyshim.NewPart("hookhost.py", hostSource))

// Master are the hooks the hook host runs, in gunicorn's order; the others
// run in the workers.
var Master = []string{"on_starting", "on_reload", "when_ready", "pre_fork", "pre_exec", "child_exit", "nworkers_changed", "on_exit"}

// Worker are the hooks the workers run.
var Worker = []string{"post_fork", "post_worker_init", "worker_int", "worker_abort", "pre_request", "post_request", "worker_exit"}

// DefaultTimeout bounds one master hook.
const DefaultTimeout = 30 * time.Second

// Options configure a Host.
type Options struct {
	Python     string         // interpreter (the workers')
	File       string         // config file, file:FILE or python:module
	Names      []string       // hooks the file defines; only master ones are run
	Env        []string       // environment (the workers')
	Chdir      string         // working directory (gunicorn's chdir)
	PythonPath []string       // prepended to sys.path
	Settings   map[string]any // server.cfg: effective settings by gunicorn name
	Timeout    time.Duration  // per hook; DefaultTimeout when 0
	Stderr     *os.File       // the host's stderr; nil = gowsgi's
	Log        *slog.Logger
}

// Host is a running hook host. A nil *Host runs nothing, so callers need
// not check whether a config file defines hooks.
type Host struct {
	o     Options
	names map[string]bool

	mu      sync.Mutex
	queue   []call
	wake    chan struct{}
	closed  bool
	workers *int               // server.num_workers, when known
	env     workers.EnvChanges // the hooks' changes to the master's environment, as last reported
	done    chan struct{}

	proc *proc // the running process; touched by the run goroutine only
}

type call struct {
	hook string
	args []any
	nw   *int
	done chan struct{} // closed once run (or abandoned); nil = nobody waits
}

// proc is one hook-host process.
type proc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	dead chan struct{}
}

// Start starts a host for the master hooks among o.Names and waits until
// it has executed the config file. It returns nil, nil when there are none
// to run. An error carries the file's traceback.
func Start(o Options) (*Host, error) {
	h := &Host{o: o, names: map[string]bool{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	for _, n := range o.Names {
		for _, m := range Master {
			if n == m {
				h.names[n] = true
			}
		}
	}
	if len(h.names) == 0 {
		return nil, nil
	}
	if h.o.Timeout <= 0 {
		h.o.Timeout = DefaultTimeout
	}
	if h.o.Log == nil {
		h.o.Log = slog.Default()
	}
	p, err := h.spawn()
	if err != nil {
		return nil, err
	}
	h.proc = p
	go h.run()
	return h, nil
}

// Has reports whether the host runs hook.
func (h *Host) Has(hook string) bool { return h != nil && h.names[hook] }

// Call runs hook with args (after the server object) and waits until it
// has returned, or until the timeout abandoned it.
func (h *Host) Call(hook string, args ...any) {
	if done := h.enqueue(hook, args, true); done != nil {
		<-done
	}
}

// Post queues hook with args to run after those asked for before, without
// waiting.
func (h *Host) Post(hook string, args ...any) { h.enqueue(hook, args, false) }

// SetWorkers records server.num_workers for the hooks that follow.
func (h *Host) SetWorkers(n int) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.workers = &n
	h.mu.Unlock()
}

func (h *Host) enqueue(hook string, args []any, wait bool) chan struct{} {
	if !h.Has(hook) {
		return nil
	}
	c := call{hook: hook, args: args}
	if wait {
		c.done = make(chan struct{})
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	c.nw = h.workers
	h.queue = append(h.queue, c)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return c.done
}

// Close runs the hooks still queued, then ends the host.
func (h *Host) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	already := h.closed
	h.closed = true
	h.mu.Unlock()
	if !already {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	<-h.done
}

func (h *Host) run() {
	defer close(h.done)
	for {
		h.mu.Lock()
		var c *call
		if len(h.queue) > 0 {
			first := h.queue[0]
			c = &first
			h.queue = h.queue[1:]
		}
		closed := h.closed
		h.mu.Unlock()
		if c == nil {
			if closed {
				h.stopProc(false)
				return
			}
			<-h.wake
			continue
		}
		h.runOne(*c)
		if c.done != nil {
			close(c.done)
		}
	}
}

// runOne sends one request and waits for its answer, within the timeout.
func (h *Host) runOne(c call) {
	if h.proc == nil {
		p, err := h.spawn()
		if err != nil {
			h.o.Log.Error("server hook not run: the hook host does not start", "hook", c.hook, "err", err)
			return
		}
		h.proc = p
	}
	req := map[string]any{"hook": c.hook, "args": c.args}
	if c.nw != nil {
		req["num_workers"] = *c.nw
	}
	line, err := json.Marshal(req)
	if err != nil {
		h.o.Log.Error("server hook not run", "hook", c.hook, "err", err)
		return
	}
	p := h.proc
	answered := make(chan error, 1)
	go func() {
		if _, err := p.in.Write(append(line, '\n')); err != nil {
			answered <- err
			return
		}
		m, err := p.read()
		if err == nil {
			h.noteEnv(m["env"])
		}
		answered <- err
	}()
	t := time.NewTimer(h.o.Timeout)
	defer t.Stop()
	select {
	case err := <-answered:
		if err != nil {
			h.o.Log.Error("the hook host ended while running a server hook; a new one runs the next hook", "hook", c.hook, "err", err)
			h.stopProc(true)
		}
	case <-t.C:
		h.o.Log.Error("server hook ran past its time limit; abandoning it (the hook host is restarted)",
			"hook", c.hook, "limit", h.o.Timeout.String())
		h.stopProc(true)
	}
}

// stopProc ends the host process: EOF on its stdin, then SIGKILL if it is
// still running after the timeout; at once with kill (a stuck hook).
func (h *Host) stopProc(kill bool) {
	p := h.proc
	h.proc = nil
	if p == nil {
		return
	}
	p.in.Close() // EOF: the host exits
	if kill {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	select {
	case <-p.dead:
	case <-time.After(h.o.Timeout):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.dead
	}
}

// spawn starts a host process and reads its first line.
func (h *Host) spawn() (*proc, error) {
	names := make([]string, 0, len(h.names))
	for _, n := range Master {
		if h.names[n] {
			names = append(names, n)
		}
	}
	spec, err := json.Marshal(map[string]any{
		"file": h.o.File, "names": names, "pid": os.Getpid(), "settings": h.o.Settings,
		"chdir": h.o.Chdir, "pythonpath": h.o.PythonPath,
	})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(h.o.Python, "-c", pyshim.Loader)
	cmd.Env = h.o.Env
	cmd.Stderr = os.Stderr
	if h.o.Stderr != nil {
		cmd.Stderr = h.o.Stderr
	}
	// Its own process group: a terminal's Ctrl-C reaches gowsgi only, which
	// still runs on_exit through this host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// A pipe of our own, not StdoutPipe: Wait, which runs beside the
	// reader, would close that one as the host exits, before its last
	// line (the traceback of a config that fails) was read.
	out, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = pw
	started, err := pyshim.Feed(cmd, hostProgram)
	if err != nil {
		in.Close()
		out.Close()
		pw.Close()
		return nil, err
	}
	err = cmd.Start()
	started()
	if err != nil {
		out.Close()
		pw.Close()
		return nil, fmt.Errorf("starting %s for the server hooks: %w", h.o.Python, err)
	}
	pw.Close()                      // the host holds the write end
	go in.Write(append(spec, '\n')) // the spec: the first line
	p := &proc{cmd: cmd, in: in, out: bufio.NewReader(out), dead: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.dead)
	}()
	first := make(chan error, 1)
	go func() {
		m, err := p.read()
		if err == nil {
			if e, ok := m["error"].(string); ok {
				tb, _ := m["traceback"].(string)
				err = fmt.Errorf("server hooks of %s: %s\n%s", h.o.File, e, strings.TrimRight(tb, "\n"))
			} else {
				h.noteEnv(m["env"])
			}
		}
		first <- err
	}()
	select {
	case err = <-first:
	case <-time.After(2 * time.Minute):
		err = errors.New("the hook host did not load " + h.o.File + " within 2 minutes")
	}
	if err != nil {
		in.Close()
		cmd.Process.Signal(syscall.SIGKILL)
		<-p.dead
		out.Close()
		return nil, err
	}
	return p, nil
}

// noteEnv records the host's report of how hooks changed its os.environ
// (hookhost.py's env_changes: every change so far, null for a variable
// removed); an answer without one leaves the last report in place.
func (h *Host) noteEnv(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	env := workers.EnvChanges{}
	for name, val := range m {
		if s, ok := val.(string); ok {
			env[name] = &s
		} else {
			env[name] = nil
		}
	}
	h.mu.Lock()
	h.env = env
	h.mu.Unlock()
}

// Env is how the hooks have changed the master's environment so far: what
// a worker forked by gunicorn's master now would inherit.
func (h *Host) Env() workers.EnvChanges {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.env
}

// read reads one JSON line from the host.
func (p *proc) read() (map[string]any, error) {
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		if err == io.EOF {
			err = errors.New("the hook host exited")
		}
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("bad answer from the hook host: %q", line)
	}
	return m, nil
}

// worker is a worker as the host's scripts receive it.
func worker(w workers.HookWorker) map[string]any {
	info := map[string]any{"age": w.ID, "gen": w.Gen}
	if w.PID > 0 {
		info["pid"] = w.PID
	}
	return map[string]any{"__worker__": info}
}

// Supervisor returns what the worker pool calls at its hook moments, or nil
// when h is nil. Any master hook may change the environment the workers
// inherit (on_starting, when_ready...), so a host without pre_fork still
// gives the workers it starts its environment (PreFork).
func (h *Host) Supervisor() workers.Hooks {
	if h == nil {
		return nil
	}
	return supervisorHooks{h}
}

type supervisorHooks struct{ h *Host }

// PreFork runs pre_fork(server, worker) and waits: the worker starts after,
// with the environment as the master hooks have left it, as gunicorn's
// forked worker inherits its master's os.environ.
func (s supervisorHooks) PreFork(w workers.HookWorker) workers.EnvChanges {
	s.h.Call("pre_fork", worker(w))
	return s.h.Env()
}

// ChildExit queues child_exit(server, worker).
func (s supervisorHooks) ChildExit(w workers.HookWorker) { s.h.Post("child_exit", worker(w)) }

// WorkersChanged queues nworkers_changed(server, new, old).
func (s supervisorHooks) WorkersChanged(n, old int) {
	s.h.SetWorkers(n)
	s.h.Post("nworkers_changed", n, old)
}

// Reloading queues on_reload(server); the new generation's pre_fork hooks
// run after it.
func (s supervisorHooks) Reloading() { s.h.Post("on_reload") }
