package tests

// gowsgi's exit status when its workers cannot boot (README, "Exit
// statuses"): gunicorn's arbiter's, 3 (WORKER_BOOT_ERROR) for a worker
// that could not boot and 4 (APP_LOAD_ERROR) for a module without the
// callable named; for WSGI and ASGI apps, with and without --preload.
// (TestLoadErrors, TestPreloadBootFailure, TestBootFailureGivesUp and the
// ASGI lifespan tests pin the other cases.)

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExitStatusBootFailures(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dies := write("dies.py", "import os\nos._exit(7)\n")
	hangs := write("hangs.py", "import time\ntime.sleep(120)\n")
	asgiBroken := write("asgi_broken.py", "async def app(scope, receive, send):\n    pass\nraise RuntimeError('settings missing')\n")
	asgiOK := write("asgi_ok.py", "async def app(scope, receive, send):\n    pass\n")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a worker that dies while importing", []string{dies}, 3, "exited during boot"},
		{"a worker that dies while importing, --preload", []string{dies, "--preload"}, 3, "exited during boot"},
		{"a worker that hangs while importing", []string{hangs, "--boot-timeout", "2", "--timeout", "1"}, 3, "did not load the application within 2s"},
		{"an ASGI module that raises", []string{asgiBroken, "--interface", "asgi"}, 3, "RuntimeError: settings missing"},
		{"an ASGI module without the callable", []string{asgiOK + ":application", "--interface", "asgi"}, 4, "has no attribute 'application'"},
		{"a module without the callable, --preload", []string{asgiOK + ":nope", "--preload"}, 4, "has no attribute 'nope'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runGowsgi(t, 60*time.Second, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want %d with %q; stderr:\n%s", code, c.code, c.want, stderr)
			}
		})
	}
}
