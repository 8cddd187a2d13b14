package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const preloadApp = "tests/testdata/apps/preload_app.py"

// preloadInfo is what preload_app.py answers: who served, its parent, and
// which process imported the module.
type preloadInfo struct {
	PID        int `json:"pid"`
	PPID       int `json:"ppid"`
	ImportedBy int `json:"imported_by"`
}

func preloadGet(t *testing.T, s *Server) preloadInfo {
	t.Helper()
	resp, body := get(t, s, "GET", "/", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var info preloadInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("bad body %q: %v", body, err)
	}
	return info
}

// importers reads the pids preload_app.py recorded at import time.
func importers(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %q", path, b)
		}
		pids = append(pids, n)
	}
	return pids
}

func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err == syscall.ESRCH {
		return true
	}
	// A zombie still answers kill(0); it runs no code any more.
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// With --preload the app is imported once, by the template, and the workers
// are its forked children; a crashed worker is forked again; SIGTERM leaves
// no process behind.
func TestPreloadImportsOnce(t *testing.T) {
	pidsFile := filepath.Join(t.TempDir(), "pids")
	t.Setenv("PRELOAD_PIDS_FILE", pidsFile)
	s := StartServer(t, preloadApp, "--preload", "-w", "2")

	imp := importers(t, pidsFile)
	if len(imp) != 1 {
		t.Fatalf("app imported by %v, want exactly one process", imp)
	}
	tmpl := imp[0]
	workers := map[int]bool{}
	for i := 0; i < 40 && len(workers) < 2; i++ {
		info := preloadGet(t, s)
		if info.PPID != tmpl || info.ImportedBy != tmpl {
			t.Fatalf("worker %d: parent %d, module imported by %d; want both %d (the template)", info.PID, info.PPID, info.ImportedBy, tmpl)
		}
		workers[info.PID] = true
	}
	if len(workers) != 2 || workers[tmpl] {
		t.Fatalf("requests served by %v; want two workers other than the template %d", workers, tmpl)
	}

	// A crash: the worker is forked again from the same template.
	if resp, _ := get(t, s, "GET", "/crash", nil); resp.StatusCode != 502 {
		t.Fatalf("crash: status %d, want 502", resp.StatusCode)
	}
	if !waitFor(10*time.Second, func() bool { return strings.Count(s.Stderr.String(), "worker ready") >= 3 }) {
		t.Fatalf("no replacement after a crash:\n%s", s.Stderr)
	}
	if !strings.Contains(s.Stderr.String(), "exit status 7") {
		t.Errorf("crash status not logged:\n%s", s.Stderr)
	}
	all := map[int]bool{tmpl: true}
	for w := range workers {
		all[w] = true
	}
	fresh := 0
	for i := 0; i < 40; i++ {
		info := preloadGet(t, s)
		if info.PPID != tmpl {
			t.Fatalf("replacement %d has parent %d, want the template %d", info.PID, info.PPID, tmpl)
		}
		if !workers[info.PID] {
			fresh++
		}
		all[info.PID] = true
	}
	if fresh == 0 {
		t.Fatalf("no request reached the replacement worker")
	}
	if imp := importers(t, pidsFile); len(imp) != 1 {
		t.Fatalf("after the crash the app was imported by %v; want only the template", imp)
	}

	s.Signal(syscall.SIGTERM)
	if code := s.Wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, s.Stderr)
	}
	for pid := range all {
		if !waitFor(5*time.Second, func() bool { return processGone(pid) }) {
			t.Errorf("process %d still running after gowsgi exited", pid)
		}
	}
}

func TestPreloadBootFailure(t *testing.T) {
	code, _, stderr := runGowsgi(t, 60*time.Second, "tests/testdata/apps/broken_import.py", "--preload", "-w", "2")
	if code != 3 {
		t.Fatalf("exit code %d, want 3 (a worker boot error, as without --preload); stderr:\n%s", code, stderr)
	}
	for _, w := range []string{"Traceback (most recent call last)", "ModuleNotFoundError: No module named 'this_module_does_not_exist_anywhere'"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Count(stderr, "Traceback") != 1 || strings.Contains(stderr, "listening") {
		t.Errorf("want one traceback and no listening:\n%s", stderr)
	}
}

// SIGHUP imports the changed code in a new template, forks the new
// generation from it and stops the old template once its workers are gone;
// code that does not load leaves the running generation serving.
func TestPreloadReload(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "versioned.py")
	write := func(v string) {
		os.WriteFile(app, []byte(fmt.Sprintf("import os\nVERSION = %q\ndef app(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    return [('%%s %%d' %% (VERSION, os.getppid())).encode()]\n", v)), 0o644)
	}
	var s *Server
	served := func() (string, int) {
		_, body := get(t, s, "GET", "/", nil)
		var v string
		var ppid int
		fmt.Sscanf(body, "%s %d", &v, &ppid)
		return v, ppid
	}
	write("v1")
	s = StartServer(t, app, "--preload", "-w", "2")
	v, oldTmpl := served()
	if v != "v1" {
		t.Fatalf("served %q, want v1", v)
	}
	write("v2")
	s.Signal(syscall.SIGHUP)
	var newTmpl int
	if !waitFor(20*time.Second, func() bool { v, newTmpl = served(); return v == "v2" }) {
		t.Fatalf("new code not served after SIGHUP\n%s", s.Stderr)
	}
	if newTmpl == oldTmpl {
		t.Fatalf("v2 served by a child of the old template %d", oldTmpl)
	}
	if !waitFor(10*time.Second, func() bool { return processGone(oldTmpl) }) {
		t.Fatalf("old template %d still running after its workers were retired", oldTmpl)
	}
	for i := 0; i < 10; i++ {
		if v, ppid := served(); v != "v2" || ppid != newTmpl {
			t.Fatalf("served %q by a child of %d; want v2 from %d", v, ppid, newTmpl)
		}
	}

	os.WriteFile(app, []byte("def broken(:\n"), 0o644)
	s.Signal(syscall.SIGHUP)
	if !waitFor(20*time.Second, func() bool { return strings.Contains(s.Stderr.String(), "reload failed") }) {
		t.Fatalf("failed reload not reported\n%s", s.Stderr)
	}
	if !strings.Contains(s.Stderr.String(), "SyntaxError") {
		t.Errorf("traceback of the broken reload not shown")
	}
	if v, ppid := served(); v != "v2" || ppid != newTmpl {
		t.Fatalf("after a broken reload: %q from a child of %d; want v2 from %d", v, ppid, newTmpl)
	}
}
