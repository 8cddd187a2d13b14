package hooks

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/workers"
)

func python(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("no python3")
	}
	return p
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs a host for conf with the given hooks.
func start(t *testing.T, conf string, timeout time.Duration, names ...string) (*Host, string, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "gunicorn.conf.py")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	h, err := Start(Options{
		Python: python(t), File: file, Names: names, Env: append(os.Environ(), "MARKS="+filepath.Join(dir, "marks")),
		Settings: map[string]any{"workers": 3, "bind": []string{"127.0.0.1:8000"}}, Timeout: timeout,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, filepath.Join(dir, "marks"), logs
}

const markConf = `import os
def mark(s):
    with open(os.environ['MARKS'], 'a') as f:
        f.write(s + '\n')
`

func marks(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return string(b)
}

// Hooks run in the order asked for, with the server and worker objects
// real hooks use; Call returns once the hook has run.
func TestOrderAndArguments(t *testing.T) {
	h, m, _ := start(t, markConf+`
def pre_fork(server, worker):
    mark('pre_fork %s %s %s %s' % (worker.age, worker.pid, server.cfg.workers, server.cfg.bind))
def child_exit(server, worker):
    mark('child_exit %s %s %s' % (worker.age, worker.pid, server.num_workers))
def nworkers_changed(server, new, old):
    mark('nworkers_changed %s %s' % (new, old))
def post_fork(server, worker):
    mark('post_fork in the host!')
`, time.Second, "pre_fork", "child_exit", "nworkers_changed", "post_fork")
	if h.Has("post_fork") {
		t.Errorf("the host would run post_fork, a worker-side hook")
	}
	sup := h.Supervisor()
	h.Post("nworkers_changed", 3, nil)
	sup.ChildExit(workers.HookWorker{ID: 2, PID: 4242})
	sup.WorkersChanged(4, 3)
	sup.PreFork(workers.HookWorker{ID: 5})
	want := "nworkers_changed 3 None\nchild_exit 2 4242 3\nnworkers_changed 4 3\npre_fork 5 None 3 ['127.0.0.1:8000']\n"
	if got := marks(t, m); got != want {
		t.Errorf("marks:\n%s\nwant:\n%s", got, want)
	}
}

// A hook that raises is logged and the next one runs; one that runs past
// the timeout is abandoned and a fresh host runs the next.
func TestRaisingAndStuckHooks(t *testing.T) {
	h, m, logs := start(t, markConf+`
import time
def on_starting(server):
    raise RuntimeError('broken on_starting')
def on_reload(server):
    mark('reload begins')
    time.sleep(60)
def when_ready(server):
    mark('when_ready %s' % server.pid)
`, 500*time.Millisecond, "on_starting", "on_reload", "when_ready")
	h.Call("on_starting")
	h.Call("when_ready")
	began := time.Now()
	h.Call("on_reload")
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("a stuck hook held Call for %s", d)
	}
	h.Call("when_ready")
	if got := marks(t, m); strings.Count(got, "when_ready") != 2 || !strings.Contains(got, "reload begins") {
		t.Errorf("marks:\n%s", got)
	}
	if !strings.Contains(logs.String(), "ran past its time limit") || !strings.Contains(logs.String(), "on_reload") {
		t.Errorf("the abandoned hook was not logged: %s", logs)
	}
}

// A config file that does not execute is an error with its traceback; one
// without master-side hooks starts no host.
func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.py")
	os.WriteFile(file, []byte("def on_starting(server): pass\nraise ValueError('bad config')\n"), 0o644)
	_, err := Start(Options{Python: python(t), File: file, Names: []string{"on_starting"}, Env: os.Environ()})
	if err == nil || !strings.Contains(err.Error(), "ValueError: bad config") || !strings.Contains(err.Error(), "Traceback") {
		t.Errorf("err = %v", err)
	}
	h, err := Start(Options{Python: python(t), File: file, Names: []string{"post_fork", "pre_request"}})
	if h != nil || err != nil {
		t.Errorf("worker-side hooks only: %v %v, want no host", h, err)
	}
	h.Call("on_exit") // a nil host runs nothing
	h.Close()
}

// The host executes the config file as the config reader and the workers
// do (pyshim's gunicorn_compat): what the file and its hooks print goes to
// stderr, never into the host's answers, and the file imports a module
// beside it.
func TestConfigPrintsAndImportsBesideIt(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gunicorn.conf.py")
	os.WriteFile(filepath.Join(dir, "confhelper.py"), []byte("VALUE = 'from-beside'\n"), 0o644)
	conf := markConf + `import confhelper
print("printed at import")
def on_starting(server):
    print("printed by a hook")
    mark(confhelper.VALUE + ' ' + str(server.num_workers) + ' ' + server.cfg.bind[0])
`
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	h, err := Start(Options{
		Python: python(t), File: file, Names: []string{"on_starting"}, Env: append(os.Environ(), "MARKS="+filepath.Join(dir, "marks")),
		Settings: map[string]any{"workers": 3, "bind": []string{"127.0.0.1:8000"}}, Timeout: 30 * time.Second,
		Stderr: stderr, Chdir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Call("on_starting")
	h.Close()
	if got := marks(t, filepath.Join(dir, "marks")); got != "from-beside 3 127.0.0.1:8000\n" {
		t.Fatalf("on_starting marked %q", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	if !strings.Contains(string(b), "printed at import\n") || !strings.Contains(string(b), "printed by a hook\n") {
		t.Fatalf("the prints did not reach stderr: %q", b)
	}
}
