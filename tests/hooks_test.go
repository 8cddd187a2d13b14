package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hooksConf is a gunicorn config file defining every server hook; each
// appends one JSON line to $HOOK_MARKS with what it was handed.
const hooksConf = `import json, os

raw_env = ['HOOK_SECRET=hunter2']

def mark(hook, **kw):
    with open(os.environ['HOOK_MARKS'], 'a') as f:
        f.write(json.dumps(dict(hook=hook, pid=os.getpid(), **kw)) + '\n')

def on_starting(server):
    server.log.info('hook: on_starting')
    mark('on_starting', spid=server.pid, workers=server.cfg.workers, bind=server.cfg.bind, timeout=server.cfg.timeout, uid=server.cfg.uid)

def on_reload(server):
    mark('on_reload', spid=server.pid)

def when_ready(server):
    mark('when_ready', spid=server.pid, nw=server.num_workers)

def pre_fork(server, worker):
    mark('pre_fork', age=worker.age, wpid=worker.pid)

def post_fork(server, worker):
    mark('post_fork', age=worker.age, wpid=worker.pid, spid=server.pid, ppid=os.getppid())

def post_worker_init(worker):
    worker.log.info('hook: post_worker_init')
    mark('post_worker_init', age=worker.age, wpid=worker.pid, workers=worker.cfg.workers, raw_env=worker.cfg.raw_env,
         leaked='GOWSGI_HOOK_SETTINGS' in os.environ)

def worker_int(worker):
    mark('worker_int', wpid=worker.pid)

def worker_abort(worker):
    mark('worker_abort', wpid=worker.pid)

def pre_exec(server):
    mark('pre_exec')

def pre_request(worker, req):
    mark('pre_request', wpid=worker.pid, method=req.method, path=req.path, query=req.query, headers=req.headers)

def post_request(worker, req, environ, resp):
    mark('post_request', wpid=worker.pid, path=req.path, env_path=environ['PATH_INFO'], status=resp.status, code=resp.status_code)

def child_exit(server, worker):
    mark('child_exit', age=worker.age, wpid=worker.pid)

def worker_exit(server, worker):
    mark('worker_exit', age=worker.age, wpid=worker.pid)

def nworkers_changed(server, new_value, old_value):
    mark('nworkers_changed', new=new_value, old=old_value)

def on_exit(server):
    mark('on_exit', spid=server.pid)
`

// hookMark is one line a hook wrote.
type hookMark map[string]any

func (m hookMark) num(k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

// hookMarks reads the marker file.
func hookMarks(t *testing.T, path string) []hookMark {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []hookMark
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		var m hookMark
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue // a line being written
		}
		out = append(out, m)
	}
	return out
}

// waitMark waits until a mark of hook for which match holds has been
// written, and returns it.
func waitMark(t *testing.T, path, hook string, match func(hookMark) bool) hookMark {
	t.Helper()
	var found hookMark
	ok := waitFor(30*time.Second, func() bool {
		for _, m := range hookMarks(t, path) {
			if m["hook"] == hook && (match == nil || match(m)) {
				found = m
				return true
			}
		}
		return false
	})
	if !ok {
		var lines []string
		for _, m := range hookMarks(t, path) {
			lines = append(lines, fmt.Sprint(m))
		}
		t.Fatalf("no %s hook ran (matching); marks:\n%s", hook, strings.Join(lines, "\n"))
	}
	return found
}

// index is the position of the first mark of hook matching, -1 if none.
func markIndex(ms []hookMark, hook string, match func(hookMark) bool) int {
	for i, m := range ms {
		if m["hook"] == hook && (match == nil || match(m)) {
			return i
		}
	}
	return -1
}

func pidIs(pid int) func(hookMark) bool { return func(m hookMark) bool { return m.num("wpid") == pid } }

// envPID asks the probe which worker process answered.
func envPID(t *testing.T, s *Server) int {
	t.Helper()
	resp, body := get(t, s, "GET", "/env", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/env: %d %s", resp.StatusCode, body)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	return int(env["_pid"].(float64))
}

// Every gunicorn server hook runs at gunicorn's moment, in the process
// gunicorn runs it in, with the arguments real configs use: start, a
// request, SIGTTIN, a --timeout, SIGINT to a worker, SIGHUP and SIGTERM.
func TestServerHooks(t *testing.T) {
	t.Parallel()
	st := newProbeState(t)
	conf := st.Path("gunicorn_hooks.py")
	marks := st.Path("marks")
	if err := os.WriteFile(conf, []byte(hooksConf), 0o644); err != nil {
		t.Fatal(err)
	}
	s := StartServerEnv(t, append(st.Env(), "HOOK_MARKS="+marks), probe, "-c", conf, "--timeout", "2", "-w", "1")
	t.Cleanup(func() { os.WriteFile(st.Path("ALL.release"), nil, 0o644) })
	gowsgiPID := s.Cmd.Process.Pid

	// Start: nworkers_changed(N, None), on_starting, pre_fork, post_fork
	// in the worker, post_worker_init, when_ready.
	waitMark(t, marks, "when_ready", nil)
	ms := hookMarks(t, marks)
	order := []string{"nworkers_changed", "on_starting", "pre_fork", "post_fork", "post_worker_init", "when_ready"}
	for i := 1; i < len(order); i++ {
		a, b := markIndex(ms, order[i-1], nil), markIndex(ms, order[i], nil)
		if a < 0 || b < 0 || a > b {
			t.Fatalf("start hooks out of order (want %v): %v", order, ms)
		}
	}
	if m := ms[markIndex(ms, "nworkers_changed", nil)]; m.num("new") != 1 || m["old"] != nil {
		t.Errorf("nworkers_changed at start: %v, want new=1 old=None", m)
	}
	start := ms[markIndex(ms, "on_starting", nil)]
	if start.num("spid") != gowsgiPID || start.num("workers") != 1 || fmt.Sprint(start["bind"]) != "["+s.Addr+"]" || start.num("timeout") != 2 || start.num("uid") != os.Geteuid() {
		t.Errorf("on_starting saw server.pid/cfg %v; gowsgi is %d on %s", start, gowsgiPID, s.Addr)
	}
	if start.num("pid") == gowsgiPID {
		t.Errorf("on_starting ran in gowsgi's own process?")
	}
	worker1 := envPID(t, s)
	pf := ms[markIndex(ms, "post_fork", nil)]
	if pf.num("pid") != worker1 || pf.num("wpid") != worker1 || pf.num("spid") != gowsgiPID || pf.num("ppid") != gowsgiPID || pf.num("age") != 1 {
		t.Errorf("post_fork %v: want it in worker %d, child of gowsgi %d, age 1", pf, worker1, gowsgiPID)
	}
	if pre := ms[markIndex(ms, "pre_fork", nil)]; pre.num("age") != 1 || pre["wpid"] != nil || pre.num("pid") != start.num("pid") {
		t.Errorf("pre_fork %v: want age 1, no pid yet, in the hook host", pre)
	}
	if pwi := ms[markIndex(ms, "post_worker_init", nil)]; pwi.num("wpid") != worker1 || pwi.num("workers") != 1 ||
		fmt.Sprint(pwi["raw_env"]) != "[HOOK_SECRET=hunter2]" || pwi["leaked"] != false {
		t.Errorf("post_worker_init %v", pwi)
	}
	// The settings (raw_env may hold secrets) are in no command line.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, _ := os.ReadFile(p); strings.Contains(string(b), "hunter2") {
			t.Errorf("%s shows the config's raw_env: %q", p, b)
		}
	}
	if !strings.Contains(s.Stderr.String(), "hook: on_starting") || !strings.Contains(s.Stderr.String(), "hook: post_worker_init") {
		t.Errorf("server.log / worker.log lines missing from the error log")
	}

	// A request: pre_request and post_request in the worker.
	resp, _ := get(t, s, "GET", "/status?s=201+Created", nil, "X-Hook-Test", "yes")
	if resp.StatusCode != 201 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	pr := waitMark(t, marks, "pre_request", func(m hookMark) bool { return m["path"] == "/status" })
	if pr["method"] != "GET" || pr["query"] != "s=201+Created" || pr.num("wpid") != worker1 || !strings.Contains(fmt.Sprint(pr["headers"]), "[X-HOOK-TEST yes]") {
		t.Errorf("pre_request saw %v", pr)
	}
	post := waitMark(t, marks, "post_request", func(m hookMark) bool { return m["path"] == "/status" })
	if post["status"] != "201 Created" || post.num("code") != 201 || post["env_path"] != "/status" {
		t.Errorf("post_request saw %v", post)
	}
	// An app that raises: post_request sees the 500 the client got.
	if resp, _ := get(t, s, "GET", "/raise-before", nil); resp.StatusCode != 500 {
		t.Fatalf("/raise-before: %d", resp.StatusCode)
	}
	if m := waitMark(t, marks, "post_request", func(m hookMark) bool { return m["path"] == "/raise-before" }); m.num("code") != 500 {
		t.Errorf("post_request after an exception saw %v", m)
	}

	// SIGTTIN: nworkers_changed(2, 1), then pre_fork and post_fork of worker 2.
	s.Signal(syscall.SIGTTIN)
	waitMark(t, marks, "post_worker_init", func(m hookMark) bool { return m.num("age") == 2 })
	ms = hookMarks(t, marks)
	nc := markIndex(ms, "nworkers_changed", func(m hookMark) bool { return m.num("new") == 2 && m.num("old") == 1 })
	pf2 := markIndex(ms, "pre_fork", func(m hookMark) bool { return m.num("age") == 2 })
	if nc < 0 || pf2 < nc || markIndex(ms, "post_fork", func(m hookMark) bool { return m.num("age") == 2 }) < pf2 {
		t.Errorf("SIGTTIN: want nworkers_changed(2, 1), pre_fork, post_fork of age 2 in order: %v", ms)
	}
	s.WaitLog(t, `msg="added a worker"`, 1, 30*time.Second)

	// --timeout: the stacks are dumped, then worker_abort and worker_exit
	// run in the stuck worker, and child_exit in the host.
	p := sendAsync(t, s.Addr, "GET", "/block?name=stuck")
	st.WaitEntered("stuck")
	if r := p.wait(30 * time.Second); r.status != 504 {
		t.Fatalf("stuck request: %d %v, want 504", r.status, r.err)
	}
	abort := waitMark(t, marks, "worker_abort", nil)
	stuckPID := abort.num("wpid")
	if abort.num("pid") != stuckPID {
		t.Errorf("worker_abort ran in %d, not the worker", abort.num("pid"))
	}
	waitMark(t, marks, "child_exit", pidIs(stuckPID))
	ms = hookMarks(t, marks)
	ab, ex, ce := markIndex(ms, "worker_abort", nil), markIndex(ms, "worker_exit", pidIs(stuckPID)), markIndex(ms, "child_exit", pidIs(stuckPID))
	if ex < ab || ce < ex {
		t.Errorf("want worker_abort, worker_exit, child_exit for %d in order: %v", stuckPID, ms)
	}
	if !strings.Contains(s.Stderr.String(), "in block_route") {
		t.Errorf("no stack dump in the error log")
	}

	// SIGINT straight to a worker: worker_int, then it exits and is replaced.
	s.WaitLog(t, `msg="worker ready"`, 3, 30*time.Second)
	victim := envPID(t, s)
	syscall.Kill(victim, syscall.SIGINT)
	waitMark(t, marks, "worker_int", pidIs(victim))
	waitMark(t, marks, "child_exit", pidIs(victim))

	// SIGHUP: on_reload, then the new generation's pre_fork hooks.
	s.WaitLog(t, `msg="worker ready"`, 4, 30*time.Second)
	before := len(hookMarks(t, marks))
	s.Signal(syscall.SIGHUP)
	waitMark(t, marks, "on_reload", nil)
	s.WaitLog(t, "reload complete", 1, 30*time.Second)
	ms = hookMarks(t, marks)
	if r := markIndex(ms, "on_reload", nil); r < before || markIndex(ms[r:], "pre_fork", nil) < 0 {
		t.Errorf("SIGHUP: want on_reload, then pre_fork: %v", ms[before:])
	}

	// SIGTERM: worker_exit in each worker, child_exit, on_exit last.
	last := envPID(t, s)
	if code := s.Stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	ms = hookMarks(t, marks)
	exit := markIndex(ms, "on_exit", nil)
	if exit != len(ms)-1 || ms[exit].num("spid") != gowsgiPID {
		t.Errorf("on_exit is not the last hook: %v", ms)
	}
	if markIndex(ms, "worker_exit", pidIs(last)) < 0 || markIndex(ms, "child_exit", pidIs(last)) < 0 {
		t.Errorf("no worker_exit/child_exit for worker %d at shutdown: %v", last, ms)
	}
	if markIndex(ms, "pre_exec", nil) >= 0 {
		t.Errorf("pre_exec ran without a SIGUSR2")
	}
}

// With --preload, post_fork and post_worker_init run in each forked worker
// (the template runs neither), with the worker's own age.
func TestServerHooksPreload(t *testing.T) {
	t.Parallel()
	st := newProbeState(t)
	conf := st.Path("gunicorn_hooks.py")
	marks := st.Path("marks")
	os.WriteFile(conf, []byte(hooksConf), 0o644)
	s := StartServerEnv(t, append(st.Env(), "HOOK_MARKS="+marks), probe, "-c", conf, "--preload", "-w", "2")
	waitMark(t, marks, "when_ready", nil)
	ms := hookMarks(t, marks)
	ages := map[int]int{}
	for _, m := range ms {
		if m["hook"] == "post_fork" {
			ages[m.num("age")] = m.num("wpid")
			if m.num("ppid") == s.Cmd.Process.Pid {
				t.Errorf("post_fork %v: a preloaded worker is the template's child", m)
			}
		}
	}
	if len(ages) != 2 || ages[1] == 0 || ages[2] == 0 || ages[1] == ages[2] {
		t.Errorf("post_fork by age: %v, want workers 1 and 2 in their own processes", ages)
	}
	if n := strings.Count(fmt.Sprint(ms), "post_worker_init"); n != 2 {
		t.Errorf("post_worker_init ran %d times, want 2: %v", n, ms)
	}
	pid := envPID(t, s)
	waitMark(t, marks, "post_request", pidIs(pid))
}

// A hook that raises is logged with its traceback; the server starts and
// serves anyway, as under gunicorn.
func TestServerHookRaises(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "gunicorn_raise.py")
	os.WriteFile(conf, []byte(`
def on_starting(server):
    raise RuntimeError('on_starting broke')

def when_ready(server):
    1 / 0

def post_worker_init(worker):
    raise KeyError('post_worker_init broke')

def pre_request(worker, req):
    raise ValueError('pre_request broke for ' + req.path)
`), 0o644)
	s := StartServer(t, probe, "-c", conf)
	resp, body := get(t, s, "GET", "/status", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	s.WaitLog(t, "ValueError: pre_request broke for /status", 1, 30*time.Second)
	// when_ready runs in the hook host, beside serving: its line may come
	// after the first request's.
	s.WaitLog(t, "ZeroDivisionError", 1, 30*time.Second)
	for _, want := range []string{
		"Exception in on_starting hook", "RuntimeError: on_starting broke",
		"Exception in when_ready hook", "ZeroDivisionError",
		"Exception in post_worker_init hook", "KeyError: 'post_worker_init broke'",
		"Exception in pre_request hook", "Traceback (most recent call last)",
	} {
		if !strings.Contains(s.Stderr.String(), want) {
			t.Errorf("error log lacks %q", want)
		}
	}
	get(t, s, "GET", "/status", nil) // still serving
}

// As under gunicorn, worker_exit runs in a worker that ran past --timeout
// even when the config file has no worker_abort hook.
func TestWorkerExitAfterTimeout(t *testing.T) {
	t.Parallel()
	st := newProbeState(t)
	conf := st.Path("gunicorn_exit.py")
	marks := st.Path("marks")
	os.WriteFile(conf, []byte(`import json, os
def worker_exit(server, worker):
    with open(os.environ['HOOK_MARKS'], 'a') as f:
        f.write(json.dumps({'hook': 'worker_exit', 'wpid': worker.pid, 'pid': os.getpid()}) + '\n')
`), 0o644)
	s := StartServerEnv(t, append(st.Env(), "HOOK_MARKS="+marks), probe, "-c", conf, "--timeout", "1")
	t.Cleanup(func() { os.WriteFile(st.Path("ALL.release"), nil, 0o644) })
	stuck := envPID(t, s)
	p := sendAsync(t, s.Addr, "GET", "/block?name=stuck")
	st.WaitEntered("stuck")
	if r := p.wait(30 * time.Second); r.status != 504 {
		t.Fatalf("stuck request: %d %v", r.status, r.err)
	}
	if m := waitMark(t, marks, "worker_exit", pidIs(stuck)); m.num("pid") != stuck {
		t.Errorf("worker_exit %v ran outside the worker", m)
	}
}

// SIGUSR2: pre_exec runs in the old gowsgi's hook host before the new
// process starts on the same sockets; the new one runs on_starting and
// when_ready of its own, and each runs on_exit.
func TestPreExecOnUpgrade(t *testing.T) {
	t.Parallel()
	st := newProbeState(t)
	conf := st.Path("gunicorn_hooks.py")
	marks := st.Path("marks")
	os.WriteFile(conf, []byte(hooksConf), 0o644)
	s := StartServerEnv(t, append(st.Env(), "HOOK_MARKS="+marks), probe, "-c", conf)
	oldPID := s.Cmd.Process.Pid
	waitMark(t, marks, "when_ready", nil)
	s.Signal(syscall.SIGUSR2)
	waitMark(t, marks, "pre_exec", nil)
	ready := waitMark(t, marks, "when_ready", func(m hookMark) bool { return m.num("spid") != oldPID })
	newPID := ready.num("spid")
	t.Cleanup(func() { syscall.Kill(newPID, syscall.SIGKILL) })
	ms := hookMarks(t, marks)
	pre := markIndex(ms, "pre_exec", nil)
	if start := markIndex(ms, "on_starting", func(m hookMark) bool { return m.num("spid") == newPID }); start < pre {
		t.Errorf("want pre_exec, then the new process's on_starting: %v", ms)
	}
	waitMark(t, marks, "on_exit", func(m hookMark) bool { return m.num("spid") == oldPID }) // the old one drained
	syscall.Kill(newPID, syscall.SIGTERM)
	waitMark(t, marks, "on_exit", func(m hookMark) bool { return m.num("spid") == newPID })
	if code := s.Wait(30 * time.Second); code != 0 {
		t.Errorf("old process: exit %d", code)
	}
}
