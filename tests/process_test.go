package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
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
