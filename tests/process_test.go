package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procStatus returns the fields of /proc/PID/status ("Uid" -> "0\t0\t0\t0").
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func ids(id string) string { return strings.Join([]string{id, id, id, id}, "\t") }

// --user and --group: the workers run as that user and group, with no
// supplementary groups, and gowsgi drops to them once its port is bound.
// With --initgroups the user's groups are kept.
func TestUserGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test switches users and must run as root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Fatal(err)
	}
	s := StartServer(t, probe, "--user", "nobody", "--group", g.Name)
	worker := envPID(t, s)
	ws := procStatus(t, worker)
	if ws["Uid"] != ids(nobody.Uid) || ws["Gid"] != ids(nobody.Gid) || ws["Groups"] != "" {
		t.Errorf("worker %d: Uid %q Gid %q Groups %q, want user %s group %s and no other groups", worker, ws["Uid"], ws["Gid"], ws["Groups"], nobody.Uid, nobody.Gid)
	}
	s.WaitLog(t, `msg="switched user"`, 1, 30*time.Second)
	ms := procStatus(t, s.Cmd.Process.Pid)
	if ms["Uid"] != ids(nobody.Uid) || ms["Gid"] != ids(nobody.Gid) {
		t.Errorf("gowsgi: Uid %q Gid %q, want %s and %s once bound", ms["Uid"], ms["Gid"], nobody.Uid, nobody.Gid)
	}
	if resp, _ := get(t, s, "GET", "/status", nil); resp.StatusCode != 200 {
		t.Errorf("status %d after switching users", resp.StatusCode)
	}

	// --user alone takes the user's primary group; --initgroups its groups.
	s2 := StartServer(t, probe, "-u", nobody.Uid, "--initgroups")
	worker = envPID(t, s2)
	ws = procStatus(t, worker)
	want, _ := nobody.GroupIds()
	if ws["Uid"] != ids(nobody.Uid) || ws["Gid"] != ids(nobody.Gid) || ws["Groups"] != strings.Join(want, " ") {
		t.Errorf("worker %d with --initgroups: Uid %q Gid %q Groups %q, want groups %v", worker, ws["Uid"], ws["Gid"], ws["Groups"], want)
	}
}

// --name names the workers in ps (command line and comm) and gowsgi's comm;
// without it workers are named after the app.
func TestProcName(t *testing.T) {
	s := StartServer(t, probe, "--name", "hookedapp")
	worker := envPID(t, s)
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", worker))
	if !strings.HasPrefix(string(cmdline), "gowsgi: worker [hookedapp]\x00") {
		t.Errorf("worker command line %q", cmdline)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", worker))
	if string(comm) != "hookedapp\n" {
		t.Errorf("worker comm %q", comm)
	}
	waitFor(10*time.Second, func() bool {
		comm, _ = os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.Cmd.Process.Pid))
		return string(comm) == "hookedapp\n"
	})
	if string(comm) != "hookedapp\n" {
		t.Errorf("gowsgi's comm %q", comm)
	}

	s2 := StartServer(t, probe, "--preload")
	worker = envPID(t, s2)
	cmdline, _ = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", worker))
	if !strings.HasPrefix(string(cmdline), "gowsgi: worker ["+probe+"]\x00") {
		t.Errorf("preloaded worker command line %q", cmdline)
	}
}

// The environ's SERVER_SOFTWARE names gowsgi and its version, as gunicorn's
// names gunicorn.
func TestServerSoftware(t *testing.T) {
	s := StartServer(t, probe)
	_, body := get(t, s, "GET", "/env", nil)
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	if sw, _ := env["SERVER_SOFTWARE"].(string); !strings.HasPrefix(sw, "gowsgi/") || len(sw) <= len("gowsgi/") {
		t.Errorf("SERVER_SOFTWARE = %q, want gowsgi/VERSION", env["SERVER_SOFTWARE"])
	}
}

// --paste loads a PasteDeploy .ini app (Pyramid's way), with --paste-global
// values in its global_conf; no TARGET is needed.
func TestPaste(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pasteapp.py"), []byte(`import os

def factory(global_conf, **local_conf):
    def app(environ, start_response):
        body = ('%s %s %s' % (global_conf.get('greeting'), local_conf.get('word'), global_conf.get('here') == os.environ['HERE'])).encode()
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
        return [body]
    return app
`), 0o644)
	ini := filepath.Join(dir, "development.ini")
	os.WriteFile(ini, []byte("[app:main]\nuse = call:pasteapp:factory\nword = local\n"), 0o644)
	s := StartServerEnv(t, []string{"HERE=" + dir}, "--paste", ini, "--paste-global", "greeting=hi", "--chdir", dir)
	resp, body := get(t, s, "GET", "/", nil)
	if resp.StatusCode != 200 || body != "hi local True" {
		t.Errorf("paste app: %d %q, want \"hi local True\"", resp.StatusCode, body)
	}

	// A file that is not there is a one-line error.
	code, _, errOut := runGowsgi(t, 30*time.Second, "--paste", filepath.Join(dir, "missing.ini"))
	if code != 2 || !strings.Contains(errOut, "missing.ini: no such file") {
		t.Errorf("missing .ini: exit %d, stderr %q", code, errOut)
	}
}

// --daemon: the command returns 0 once a detached server (its own session,
// stdio off the terminal) serves; a failure to start is reported by the
// command itself, with the traceback and exit status.
func TestDaemon(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "gowsgi.pid")
	errLog := filepath.Join(dir, "error.log")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	code, _, errOut := runGowsgi(t, 60*time.Second, probe, "--daemon", "--pid", pidFile, "--bind", addr, "--error-logfile", errLog)
	if code != 0 {
		t.Fatalf("gowsgi --daemon: exit %d\n%s", code, errOut)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("no pid file once the command returned: %v", err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		waitFor(15*time.Second, func() bool { return processGone(pid) })
	})
	if !strings.Contains(errOut, fmt.Sprintf("serving in the background (pid %d)", pid)) {
		t.Errorf("launcher output %q", errOut)
	}
	// Serving already: no wait needed.
	s := &Server{t: t, Addr: addr}
	if resp, body := get(t, s, "GET", "/status", nil); resp.StatusCode != 200 {
		t.Errorf("daemon: %d %s", resp.StatusCode, body)
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if f[3] != strconv.Itoa(pid) { // session id: setsid made it a leader
		t.Errorf("daemon %d is in session %s, not its own", pid, f[3])
	}
	for _, fd := range []string{"0", "1", "2"} {
		if dest, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd)); dest != "/dev/null" && dest != errLog {
			t.Errorf("daemon fd %s -> %s", fd, dest)
		}
	}
	if !waitFor(10*time.Second, func() bool { b, _ := os.ReadFile(errLog); return strings.Contains(string(b), "msg=listening") }) {
		t.Errorf("error log file lacks the listening line")
	}
	syscall.Kill(pid, syscall.SIGTERM)
	if !waitFor(15*time.Second, func() bool { return processGone(pid) }) {
		t.Errorf("daemon did not stop on SIGTERM")
	}

	// An app that does not load: the command says why and fails.
	code, _, errOut = runGowsgi(t, 60*time.Second, "tests/testdata/apps/broken_import.py", "--daemon")
	if code != 3 || !strings.Contains(errOut, "ModuleNotFoundError") {
		t.Errorf("broken app with --daemon: exit %d, stderr %q", code, errOut)
	}
}
