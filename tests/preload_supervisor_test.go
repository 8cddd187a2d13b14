package tests

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM while the --preload template is still importing the application
// stops gowsgi at once: the supervisor owns the template's boot and
// abandons it (the template is killed), rather than waiting for the import
// to end. gated.py's import would wait 120 s for a file this test never
// writes.
func TestPreloadStopDuringTemplateBoot(t *testing.T) {
	t.Parallel()
	gate := t.TempDir()
	s := startProcessEnv(t, []string{"GATE_DIR=" + gate}, "tests/testdata/apps/gated.py", "--preload", "--workers", "2")
	var entered []string // entered.PID, once gated.py has renamed it into place
	if !waitFor(30*time.Second, func() bool {
		all, _ := filepath.Glob(filepath.Join(gate, "entered.*"))
		entered = entered[:0]
		for _, f := range all {
			if !strings.HasSuffix(f, ".tmp") {
				entered = append(entered, f)
			}
		}
		return len(entered) > 0
	}) {
		t.Fatalf("the template never began importing the app\n%s", s.Stderr)
	}
	if len(entered) != 1 {
		t.Fatalf("%d processes import the app under --preload, want the template only: %v", len(entered), entered)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(entered[0]), "."))
	if err != nil {
		t.Fatal(err)
	}

	s.Signal(syscall.SIGTERM)
	if code := s.Wait(15 * time.Second); code == -1 {
		t.Fatalf("gowsgi did not exit within 15s of SIGTERM while the template was booting\n%s", s.Stderr)
	} else if code != 0 {
		t.Fatalf("exit code %d after SIGTERM during boot, want 0\n%s", code, s.Stderr)
	}
	if !waitFor(5*time.Second, func() bool { return processGone(pid) }) {
		t.Fatalf("the template (pid %d) outlived gowsgi", pid)
	}
}

// A template that dies is forgotten by the supervisor: its workers keep
// serving, and the next worker needed is forked from a new template, which
// imports the application afresh. SIGTERM then leaves no process behind.
func TestPreloadTemplateDies(t *testing.T) {
	pidsFile := filepath.Join(t.TempDir(), "pids")
	t.Setenv("PRELOAD_PIDS_FILE", pidsFile)
	s := StartServer(t, preloadApp, "--preload", "-w", "1")
	imp := importers(t, pidsFile)
	if len(imp) != 1 {
		t.Fatalf("app imported by %v, want exactly one process", imp)
	}
	oldTmpl := imp[0]
	first := preloadGet(t, s)

	syscall.Kill(oldTmpl, syscall.SIGKILL)
	s.WaitLog(t, "preload template died", 1, 10*time.Second)
	if info := preloadGet(t, s); info.PID != first.PID {
		t.Fatalf("after the template died, served by %d, want its worker %d", info.PID, first.PID)
	}

	// The worker crashes: its replacement needs a template, so a new one boots.
	if resp, _ := get(t, s, "GET", "/crash", nil); resp.StatusCode != 502 {
		t.Fatalf("crash: status %d, want 502", resp.StatusCode)
	}
	s.WaitLog(t, "worker ready", 2, 30*time.Second)
	imp = importers(t, pidsFile)
	if len(imp) != 2 || imp[1] == oldTmpl {
		t.Fatalf("after the template died the app was imported by %v, want the old and a new template", imp)
	}
	newTmpl := imp[1]
	info := preloadGet(t, s)
	if info.PPID != newTmpl || info.ImportedBy != newTmpl {
		t.Fatalf("replacement %d: parent %d, imported by %d; want the new template %d", info.PID, info.PPID, info.ImportedBy, newTmpl)
	}

	s.Signal(syscall.SIGTERM)
	if code := s.Wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, s.Stderr)
	}
	for _, pid := range []int{first.PID, newTmpl, info.PID} {
		if !waitFor(5*time.Second, func() bool { return processGone(pid) }) {
			t.Errorf("process %d still running after gowsgi exited", pid)
		}
	}
}
