package tests

// The wheel and the Debian package, as a Python user and an admin get them:
// scripts/build-wheels.sh builds them once per go test run; the wheel is
// installed with pip into fresh virtualenvs (never activated, Go not on
// PATH) and serves the seed app three ways; the .deb installs a unit that
// systemd-analyze verify accepts.

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// packages is what one run of scripts/build-wheels.sh made.
var packages struct {
	once    sync.Once
	dir     string
	wheel   string // the linux/amd64 wheel
	deb     string // the amd64 .deb
	version string
	err     error
}

// buildPackages runs the project's script for linux/amd64 (wheel and .deb)
// once per test binary, into a temporary directory.
func buildPackages(t *testing.T) {
	t.Helper()
	packages.once.Do(func() {
		dir, err := os.MkdirTemp("", "gowsgi-dist-")
		if err != nil {
			packages.err = err
			return
		}
		packages.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "scripts/build-wheels.sh", "--platform", "linux/amd64", "--out", dir)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			packages.err = fmt.Errorf("build-wheels.sh: %v\n%s", err, out)
			return
		}
		whl, _ := filepath.Glob(filepath.Join(dir, "gowsgi-*-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64.whl"))
		debs, _ := filepath.Glob(filepath.Join(dir, "gowsgi_*_amd64.deb"))
		if len(whl) != 1 || len(debs) != 1 {
			entries, _ := os.ReadDir(dir)
			packages.err = fmt.Errorf("want one linux/amd64 wheel and one .deb, got %d and %d in %v", len(whl), len(debs), entries)
			return
		}
		packages.wheel, packages.deb = whl[0], debs[0]
		packages.version = strings.SplitN(filepath.Base(whl[0]), "-", 3)[1]
	})
	if packages.err != nil {
		t.Fatal(packages.err)
	}
}

// wantVersion is the version the script must stamp: the VERSION file's,
// or the tag HEAD is exactly on.
func wantVersion(t *testing.T) string {
	if out, err := exec.Command("git", "-C", repoRoot, "describe", "--tags", "--exact-match").Output(); err == nil {
		return strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// cleanEnv is a user's environment with no venv active, no Go on PATH and
// nothing of the test's own (GOWSGI_*, PYTHONPATH).
func cleanEnv(extra ...string) []string {
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8",
		"PIP_NO_INDEX=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_CACHE_DIR=1"}
	return append(env, extra...)
}

// runClean runs a command to completion (bounded) in a clean environment.
func runClean(t *testing.T, dir string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// treeOf lists every path under root (relative), for before/after checks.
func treeOf(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = true
		return nil
	})
	return out
}

// pythons are the interpreters the wheel is installed into: pyenv's 3.11,
// and its 3.8 when there is one (the oldest Python gowsgi supports).
func pythons(t *testing.T) map[string]string {
	home, _ := os.UserHomeDir()
	out := map[string]string{}
	for _, v := range []string{"3.11", "3.8"} {
		m, _ := filepath.Glob(filepath.Join(home, ".pyenv", "versions", v+".*", "bin", "python3"))
		if len(m) > 0 {
			out[v] = m[len(m)-1]
		}
	}
	if out["3.11"] == "" {
		t.Fatal("no pyenv Python 3.11 under ~/.pyenv/versions")
	}
	return out
}

// seedWithGowsgi is the seed's playground.py with its one import changed
// to gowsgi's make_server, and its port 5000 made port (tests share the
// machine).
func seedWithGowsgi(t *testing.T, dir string, port int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "examples", "cloudacademy", "playground.py"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for old, new := range map[string]string{
		"from wsgiref.simple_server import make_server": "from gowsgi import make_server",
		"make_server('', 5000, app)":                    fmt.Sprintf("make_server('', %d, app)", port),
	} {
		if strings.Count(src, old) != 1 {
			t.Fatalf("the seed's playground.py no longer has %q once", old)
		}
		src = strings.Replace(src, old, new, 1)
	}
	p := filepath.Join(dir, "cloudacademy", "playground.py")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wheelProc is a process under test: its combined output and exit.
type wheelProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startServed(t *testing.T, dir string, name string, args ...string) *wheelProc {
	t.Helper()
	s := &wheelProc{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd.Dir = dir
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
			return
		default:
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *wheelProc) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// awaitHello waits until addr answers GET / with the seed's body.
func awaitHello(t *testing.T, s *wheelProc, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s.exited() {
			t.Fatalf("exited before serving:\n%s", s.out)
		}
		if resp, err := client().Get("http://" + addr + "/"); err == nil {
			var body strings.Builder
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				body.WriteString(sc.Text())
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || body.String() != "Hello, WSGI!" {
				t.Fatalf("GET / = %d %q", resp.StatusCode, body.String())
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 60s:\n%s", addr, s.out)
}

// descendants lists the processes below pid (from /proc), deepest last.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// awaitGone waits until every pid has ended and addr refuses connections.
func awaitGone(t *testing.T, what string, pids []int, addr string) {
	t.Helper()
	ok := waitFor(20*time.Second, func() bool {
		for _, p := range pids {
			if alive(p) {
				return false
			}
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	if !ok {
		var left []string
		for _, p := range pids {
			if alive(p) {
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
				left = append(left, fmt.Sprintf("%d %s", p, strings.ReplaceAll(string(cmd), "\x00", " ")))
			}
		}
		t.Fatalf("%s: processes left behind %v, or %s still accepts", what, left, addr)
	}
}

// serveScript serves an app object (not a function: found by its
// module-level name) waitress-style; %d is the port.
const serveScript = `import gowsgi


class Hello:
    def __call__(self, environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'Hello, WSGI!\n']


application = Hello()

if __name__ == '__main__':
    gowsgi.serve(application, listen='127.0.0.1:%d', workers=1, threads=2)
    print('serve() returned', flush=True)
`

// TestWheelInVirtualenvs: pip installs the wheel into fresh venvs of
// Python 3.11 and 3.8, none activated and without Go on PATH; the seed app
// is wheelProc by venv/bin/gowsgi, by venv/bin/python -m gowsgi and by the
// seed's own file with the one import changed; Ctrl-C and a killed parent
// leave no process behind; pip check is clean; uninstalling leaves the venv
// as it was.
func TestWheelInVirtualenvs(t *testing.T) {
	t.Parallel()
	buildPackages(t)
	if v := wantVersion(t); packages.version != v {
		t.Errorf("wheel version %s, want %s", packages.version, v)
	}
	for version, python := range pythons(t) {
		t.Run("python"+version, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			venv := filepath.Join(dir, "venv")
			runClean(t, dir, 2*time.Minute, python, "-m", "venv", venv)
			py := filepath.Join(venv, "bin", "python")
			before := treeOf(t, venv)

			out := runClean(t, dir, 2*time.Minute, py, "-m", "pip", "install", packages.wheel)
			if !strings.Contains(out, "Successfully installed gowsgi-"+packages.version) {
				t.Fatalf("pip install:\n%s", out)
			}
			if out := runClean(t, dir, time.Minute, py, "-m", "pip", "check"); !strings.Contains(out, "No broken requirements found") {
				t.Errorf("pip check:\n%s", out)
			}
			bin := filepath.Join(venv, "bin", "gowsgi")
			if fi, err := os.Lstat(bin); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
				t.Fatalf("venv/bin/gowsgi is not the executable binary: %v %v", fi, err)
			}
			// Not activated: the binary picks the venv's interpreter itself.
			wantPy := regexp.MustCompile(`^gowsgi ` + regexp.QuoteMeta(packages.version) + ` \(python: ` + regexp.QuoteMeta(py) + `, ` + regexp.QuoteMeta(version) + `\.\d+\)\n$`)
			if out := runClean(t, dir, time.Minute, bin, "--version"); !wantPy.MatchString(out) {
				t.Errorf("venv/bin/gowsgi --version = %q, want %s", out, wantPy)
			}
			if out := runClean(t, dir, time.Minute, py, "-m", "gowsgi", "--version"); !wantPy.MatchString(out) {
				t.Errorf("python -m gowsgi --version = %q, want %s", out, wantPy)
			}
			seedDir := filepath.Join(repoRoot, "examples")

			t.Run("command", func(t *testing.T) {
				addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
				s := startServed(t, seedDir, bin, "cloudacademy/playground.py", "--bind", addr, "--workers", "1")
				awaitHello(t, s, addr)
				if !strings.Contains(s.out.String(), "python="+py) {
					t.Errorf("the workers do not run the venv's python:\n%s", s.out)
				}
			})
			t.Run("python -m gowsgi", func(t *testing.T) {
				addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
				s := startServed(t, seedDir, py, "-m", "gowsgi", "cloudacademy/playground.py", "--bind", addr, "--workers", "1")
				awaitHello(t, s, addr)
				if !strings.Contains(s.out.String(), "python="+py) {
					t.Errorf("the workers do not run the venv's python:\n%s", s.out)
				}
			})
			t.Run("seed file, one import changed", func(t *testing.T) {
				app := t.TempDir()
				port := freePort(t)
				seedWithGowsgi(t, app, port)
				addr := fmt.Sprintf("127.0.0.1:%d", port)
				s := startServed(t, app, py, "cloudacademy/playground.py")
				awaitHello(t, s, addr)
				procs := descendants(s.cmd.Process.Pid)
				if len(procs) < 2 {
					t.Fatalf("want gowsgi and its workers below python, got %v", procs)
				}
				// Ctrl-C, as a terminal sends it to the foreground process.
				s.cmd.Process.Signal(syscall.SIGINT)
				select {
				case <-s.done:
				case <-time.After(30 * time.Second):
					t.Fatalf("python did not exit within 30s of SIGINT:\n%s", s.out)
				}
				awaitGone(t, "after Ctrl-C", procs, addr)
				if !strings.Contains(s.out.String(), "KeyboardInterrupt") {
					t.Errorf("no KeyboardInterrupt, as wsgiref's Ctrl-C ends:\n%s", s.out)
				}

				// A parent killed outright takes gowsgi with it.
				s = startServed(t, app, py, "cloudacademy/playground.py")
				awaitHello(t, s, addr)
				procs = descendants(s.cmd.Process.Pid)
				s.cmd.Process.Kill()
				<-s.done
				awaitGone(t, "after SIGKILL to python", procs, addr)
			})

			t.Run("serve, waitress-style", func(t *testing.T) {
				app := t.TempDir()
				port := freePort(t)
				os.WriteFile(filepath.Join(app, "site.py"), []byte(fmt.Sprintf(serveScript, port)), 0o644)
				addr := fmt.Sprintf("127.0.0.1:%d", port)
				s := startServed(t, app, py, "site.py")
				awaitHello(t, s, addr)
				if !strings.Contains(s.out.String(), "workers=1 threads=2") {
					t.Errorf("serve()'s keywords did not reach gowsgi:\n%s", s.out)
				}
				procs := descendants(s.cmd.Process.Pid)
				s.cmd.Process.Signal(syscall.SIGINT)
				select {
				case <-s.done:
				case <-time.After(30 * time.Second):
					t.Fatalf("python did not exit within 30s of SIGINT:\n%s", s.out)
				}
				// As waitress.serve, serve() returns on Ctrl-C.
				if code := s.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(s.out.String(), "serve() returned") {
					t.Errorf("exit %d, want serve() to return and the script to end normally:\n%s", code, s.out)
				}
				awaitGone(t, "after Ctrl-C", procs, addr)
			})
			t.Run("a lambda is refused", func(t *testing.T) {
				app := t.TempDir()
				os.WriteFile(filepath.Join(app, "lam.py"), []byte("from gowsgi import make_server\n"+
					"if __name__ == '__main__':\n    make_server('127.0.0.1', 0, lambda environ, start_response: []).serve_forever()\n"), 0o644)
				cmd := exec.Command(py, "lam.py")
				cmd.Dir, cmd.Env = app, cleanEnv()
				out, err := cmd.CombinedOutput()
				if err == nil || !strings.Contains(string(out), "it is a lambda, which has no name the workers can import") ||
					!strings.Contains(string(out), "Define it at module level") {
					t.Errorf("want a clear error, got %v:\n%s", err, out)
				}
			})

			out = runClean(t, dir, time.Minute, py, "-m", "pip", "uninstall", "-y", "gowsgi")
			if !strings.Contains(out, "Successfully uninstalled gowsgi-"+packages.version) {
				t.Fatalf("pip uninstall:\n%s", out)
			}
			after := treeOf(t, venv)
			var added, removed []string
			for p := range after {
				if !before[p] {
					added = append(added, p)
				}
			}
			for p := range before {
				if !after[p] {
					removed = append(removed, p)
				}
			}
			sort.Strings(added)
			sort.Strings(removed)
			if len(added)+len(removed) > 0 {
				t.Errorf("install + uninstall changed the venv: left %v, removed %v", added, removed)
			}
		})
	}
}

// TestDebPackage: the .deb installs with dpkg -i, puts the binary in
// /usr/bin and deploy/'s units where systemd reads them, pointed at that
// binary; systemd-analyze verify accepts them; dpkg --purge removes it all.
func TestDebPackage(t *testing.T) {
	t.Parallel()
	buildPackages(t)
	// One dpkg at a time: another run of this test waits here rather than
	// failing on dpkg's own lock.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "gowsgi-deb-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	const unitDir = "/usr/lib/systemd/system"
	installed := []string{"/usr/bin/gowsgi", unitDir + "/gowsgi.service", unitDir + "/gowsgi.socket"}
	purge := func() string {
		out, err := exec.Command("dpkg", "--purge", "gowsgi").CombinedOutput()
		if err != nil {
			t.Errorf("dpkg --purge gowsgi: %v\n%s", err, out)
		}
		return string(out)
	}
	out, err := exec.Command("dpkg", "-i", packages.deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg -i %s: %v\n%s", packages.deb, err, out)
	}
	purged := false
	t.Cleanup(func() {
		if !purged {
			purge()
		}
	})
	for _, p := range installed {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if out := runClean(t, "/", time.Minute, "/usr/bin/gowsgi", "--version"); !strings.HasPrefix(out, "gowsgi "+packages.version+" (python: ") {
		t.Errorf("/usr/bin/gowsgi --version = %q", out)
	}
	unit, _ := os.ReadFile(unitDir + "/gowsgi.service")
	if !strings.Contains(string(unit), "ExecStart=/usr/bin/gowsgi ") {
		t.Errorf("the installed gowsgi.service does not run /usr/bin/gowsgi:\n%s", unit)
	}
	verify := exec.Command("systemd-analyze", "verify", unitDir+"/gowsgi.service", unitDir+"/gowsgi.socket")
	if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	purge()
	purged = true
	for _, p := range installed {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left after dpkg --purge", p)
		}
	}
}
