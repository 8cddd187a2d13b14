package tests

// gunicorn's command line, GUNICORN_CMD_ARGS and config files, through the
// real binary: --print-config --json shows what they add up to, compared
// with what gunicorn 20.1's own parser makes of the same input where the
// Debian package is installed; refusals exit 2 with one line; a config
// file drives a real server.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// cliEnv is the test process's environment without anything that would
// change gowsgi's or gunicorn's configuration, plus extra.
func cliEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GOWSGI_") || k == "GUNICORN_CMD_ARGS" || k == "PORT" || k == "WEB_CONCURRENCY" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// gowsgiIn runs gowsgi with args in dir (bounded) and returns its exit code
// and output.
func gowsgiIn(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gowsgiBin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gowsgi %v did not finish within 60s\nstderr:\n%s", args, &stderr)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

type printedSetting struct {
	Name     string  `json:"name"`
	Gunicorn *string `json:"gunicorn"`
	Value    any     `json:"value"`
	Source   string  `json:"source"`
}

// printConfig runs `gowsgi ARGS --print-config --json` and returns the
// settings by gowsgi name, by gunicorn name, and the warnings.
func printConfig(t *testing.T, dir string, env []string, args ...string) (map[string]printedSetting, map[string]printedSetting, []string) {
	t.Helper()
	code, out, errOut := gowsgiIn(t, dir, env, append(args, "--print-config", "--json")...)
	if code != 0 {
		t.Fatalf("gowsgi %v --print-config: exit %d\nstderr:\n%s", args, code, errOut)
	}
	var res struct {
		Settings []printedSetting `json:"settings"`
		Warnings []string         `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--print-config --json is not one JSON object: %v\n%s", err, out)
	}
	byName, byGunicorn := map[string]printedSetting{}, map[string]printedSetting{}
	for _, s := range res.Settings {
		byName[s.Name] = s
		if s.Gunicorn != nil {
			byGunicorn[*s.Gunicorn] = s
		}
	}
	return byName, byGunicorn, res.Warnings
}

// gunicornParse is gunicorn 20.1's own reading of args, GUNICORN_CMD_ARGS
// (in env) and config files, in dir: every setting's value as JSON.
const gunicornParse = `
import json, sys
sys.argv = ['gunicorn'] + sys.argv[1:]
from gunicorn.app.wsgiapp import WSGIApplication
app = WSGIApplication('%(prog)s [OPTIONS] [APP_MODULE]')
d = {k: s.get() for k, s in app.cfg.settings.items()}
d['wsgi_app'] = d['wsgi_app'] or getattr(app, 'app_uri', None)
print(json.dumps(d, default=repr))
`

func gunicornSettings(t *testing.T, dir string, env []string, args ...string) map[string]any {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import gunicorn").Run(); err != nil {
		return nil // no gunicorn to compare with: the expectations below still hold
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", gunicornParse}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gunicorn's parser on %v: %v", args, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// comparable are the gunicorn settings whose values gowsgi prints in
// gunicorn's own form, and the normalisation gunicorn's side needs.
var comparable = map[string]func(any) any{
	"workers": nil, "threads": nil, "worker_class": nil, "timeout": nil, "graceful_timeout": nil, "keepalive": nil,
	"max_requests": nil, "max_requests_jitter": nil, "limit_request_line": nil, "limit_request_fields": nil,
	"raw_env": nil, "preload_app": nil, "reload": nil, "loglevel": nil, "umask": nil, "accesslog": nil,
	"errorlog": nil, "chdir": nil, "limit_request_field_size": nil, "wsgi_app": nil, "backlog": nil,
	"worker_tmp_dir": nil, "statsd_host": func(v any) any { // gunicorn keeps ("host", port)
		if l, ok := v.([]any); ok && len(l) == 2 {
			return fmt.Sprintf("%v:%v", l[0], l[1])
		}
		return v
	},
	"bind": func(v any) any { // gunicorn keeps the text; gowsgi fills in the default port
		var out []any
		for _, b := range v.([]any) {
			s := b.(string)
			if !strings.Contains(s, ":") {
				s += ":8000"
			}
			out = append(out, s)
		}
		return out
	},
	"pythonpath": func(v any) any { // one comma-separated string in gunicorn
		var out []any
		for _, p := range strings.Split(v.(string), ",") {
			out = append(out, p)
		}
		return out
	},
}

// sameAsGunicorn checks every comparable setting gowsgi did not take from
// its defaults against gunicorn's value.
func sameAsGunicorn(t *testing.T, gw map[string]printedSetting, gu map[string]any) {
	t.Helper()
	if gu == nil {
		return
	}
	for name, norm := range comparable {
		s, ok := gw[name]
		if !ok {
			t.Errorf("gowsgi does not print gunicorn's %s", name)
			continue
		}
		if s.Source == "default" {
			continue // gowsgi's defaults differ on purpose (README)
		}
		if wc := gw["worker_class"].Value; name == "threads" && (wc == "gevent" || wc == "eventlet") {
			continue // gowsgi runs threads where gunicorn runs greenlets
		}
		want := gu[name]
		if norm != nil && want != nil {
			want = norm(want)
		}
		got, _ := json.Marshal(s.Value)
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			t.Errorf("%s: gowsgi %s (from %s), gunicorn %s", name, got, s.Source, exp)
		}
	}
}

func value(t *testing.T, m map[string]printedSetting, name string) string {
	t.Helper()
	b, _ := json.Marshal(m[name].Value)
	return string(b) + " " + m[name].Source
}

func TestGunicornCommandLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		line string
		want map[string]string // gunicorn name → JSON value and source
		warn []string
	}{
		{"gunicorn -w 4 -b 0.0.0.0:8000 --access-logfile - --error-logfile - -k gthread --threads 4 app:app",
			map[string]string{"workers": "4 flag", "bind": `["0.0.0.0:8000"] flag`, "accesslog": `"-" flag`, "errorlog": `"-" flag`,
				"worker_class": `"gthread" flag`, "threads": "4 flag", "wsgi_app": `"app:app" flag`, "timeout": "30 default"}, nil},
		{"gunicorn -w4 -b 0.0.0.0 --keep-alive 7 --timeout 120 --graceful-timeout 10 --max-requests 1000 --max-requests-jitter 50 " +
			"--limit-request-line 4094 --limit-request-fields 50 --limit-request-field_size 16380 --log-level debug -e A=1 --env B=2 " +
			"--preload --reload -m 0o117 --chdir " + dir + " --pythonpath lib,vendor myproject.wsgi:application",
			map[string]string{"workers": "4 flag", "bind": `["0.0.0.0:8000"] flag`, "keepalive": "7 flag", "timeout": "120 flag",
				"graceful_timeout": "10 flag", "max_requests": "1000 flag", "limit_request_field_size": "16380 flag",
				"raw_env": `["A=1","B=2"] flag`, "preload_app": "true flag", "umask": "79 flag", "pythonpath": `["lib","vendor"] flag`,
				"loglevel": `"debug" flag`},
			nil},
		{"gunicorn --bind=unix:/tmp/gowsgi-cli.sock --workers=2 --log-file - --limit-request-field-size 100 --backlog 64 " +
			"--worker-tmp-dir /dev/shm --statsd-host localhost:8125 --capture-output -k gevent --worker-connections 30 app:app",
			map[string]string{"bind": `["unix:/tmp/gowsgi-cli.sock"] flag`, "workers": "2 flag", "errorlog": `"-" flag`,
				"threads": "30 flag", "worker_class": `"gevent" flag`, "backlog": "64 flag",
				"statsd_host": `"localhost:8125" flag`, "capture_output": "true flag"},
			[]string{"--worker-tmp-dir: gowsgi workers write no heartbeat files",
				"worker class gevent: running 30 threads per worker instead of green threads"}},
	} {
		args := strings.Fields(c.line)[1:]
		gw, byGunicorn, warnings := printConfig(t, dir, cliEnv(), args...)
		for name, want := range c.want {
			if got := value(t, byGunicorn, name); got != want {
				t.Errorf("%s: %s = %s, want %s", c.line, name, got, want)
			}
		}
		for _, w := range c.warn {
			found := false
			for _, have := range warnings {
				found = found || strings.HasPrefix(have, w)
			}
			if !found {
				t.Errorf("%s: no warning %q in %q", c.line, w, warnings)
			}
		}
		_ = gw
		// gunicorn spells it --limit-request-field_size only.
		guArgs := strings.Fields(strings.ReplaceAll(strings.Join(args, " "), "field-size", "field_size"))
		sameAsGunicorn(t, byGunicorn, gunicornSettings(t, dir, cliEnv(), guArgs...))
	}
}

func TestGunicornCmdArgsPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := "workers = 2\nthreads = 2\ntimeout = 7\nkeepalive = 9\ngraceful_timeout = 11\nbind = ['127.0.0.1:1']\n"
	if err := os.WriteFile(filepath.Join(dir, "gunicorn.conf.py"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmdArgs := "GUNICORN_CMD_ARGS=--threads 4 --workers=4 --timeout 8 --bind '127.0.0.1:9000'"
	args := []string{"--threads", "5", "app:app"}
	gw, _, _ := printConfig(t, dir, cliEnv(cmdArgs, "GOWSGI_WORKERS=3", "GOWSGI_TIMEOUT=6", "GOWSGI_KEEP_ALIVE=3"), args...)
	for name, want := range map[string]string{
		"threads":          "5 flag",
		"workers":          "4 GUNICORN_CMD_ARGS",
		"timeout":          "8 GUNICORN_CMD_ARGS",
		"bind":             `["127.0.0.1:9000"] GUNICORN_CMD_ARGS`,
		"keep-alive":       "3 env",
		"graceful-timeout": "11 config file",
		"config":           `"gunicorn.conf.py" config file`,
		"max-queue":        "2048 default",
	} {
		if got := value(t, gw, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	// gunicorn agrees where it has the same sources (no GOWSGI_*).
	gw, byGunicorn, _ := printConfig(t, dir, cliEnv(cmdArgs), args...)
	if value(t, gw, "workers") != "4 GUNICORN_CMD_ARGS" {
		t.Errorf("workers without GOWSGI_WORKERS: %s", value(t, gw, "workers"))
	}
	sameAsGunicorn(t, byGunicorn, gunicornSettings(t, dir, cliEnv(cmdArgs), args...))
}

func TestGunicornConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf"), 0o755)
	// Imported from the current directory, which gunicorn puts on sys.path.
	os.WriteFile(filepath.Join(dir, "common.py"), []byte("DEFAULT_THREADS = 3\n"), 0o644)
	conf := `import multiprocessing
import os
from common import DEFAULT_THREADS

bind = os.environ.get("APP_BIND", "127.0.0.1:8001")
workers = multiprocessing.cpu_count() * 2 + 1
threads = str(DEFAULT_THREADS)
worker_class = "gthread"
umask = 0o117
raw_env = "STAGE=" + os.environ.get("APP_STAGE", "dev")
preload = True
loglevel = "warning"
accesslog = "-"
timeout = "45"
wsgi_app = "myproject.wsgi:application"

def post_fork(server, worker):
    server.log.info("forked %s", worker.pid)

def on_starting(server):
    pass
`
	os.WriteFile(filepath.Join(dir, "conf", "gunicorn_prod.py"), []byte(conf), 0o644)
	env := cliEnv("APP_BIND=0.0.0.0:8123", "APP_STAGE=prod")
	args := []string{"-c", "conf/gunicorn_prod.py"}
	gw, byGunicorn, warnings := printConfig(t, dir, env, args...)
	for name, want := range map[string]string{
		"bind":         `["0.0.0.0:8123"] config file`,
		"workers":      fmt.Sprintf("%d config file", runtime.NumCPU()*2+1),
		"threads":      "3 config file",
		"umask":        "79 config file",
		"raw_env":      `["STAGE=prod"] config file`,
		"loglevel":     `"warning" config file`,
		"timeout":      "45 config file",
		"wsgi_app":     `"myproject.wsgi:application" config file`,
		"post_fork":    `{"callable":"post_fork"} config file`,
		"on_starting":  `{"callable":"on_starting"} config file`,
		"when_ready":   "null default",
		"preload_app":  "false default",
		"config":       `"conf/gunicorn_prod.py" flag`,
		"worker_class": `"gthread" config file`,
	} {
		if got := value(t, byGunicorn, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	wantWarn := []string{
		"conf/gunicorn_prod.py: not gunicorn settings, ignored: preload (did you mean preload_app?)",
	}
	if strings.Join(warnings, "\n") != strings.Join(wantWarn, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(wantWarn, "\n"))
	}
	sameAsGunicorn(t, byGunicorn, gunicornSettings(t, dir, env, args...))

	// A gunicorn.conf.py in the current directory is read without -c.
	os.WriteFile(filepath.Join(dir, "gunicorn.conf.py"), []byte("workers = 7\n"), 0o644)
	if gw, _, _ = printConfig(t, dir, cliEnv(), "app:app"); value(t, gw, "workers") != "7 config file" {
		t.Errorf("./gunicorn.conf.py: workers %s", value(t, gw, "workers"))
	}
	// python:module, importable from the current directory.
	os.WriteFile(filepath.Join(dir, "prodsettings.py"), []byte("workers = 5\nbind = ['127.0.0.1:1', 'unix:/tmp/x.sock']\n"), 0o644)
	gw, _, _ = printConfig(t, dir, cliEnv(), "--config", "python:prodsettings", "app:app")
	if value(t, gw, "workers") != "5 config file" || value(t, gw, "bind") != `["127.0.0.1:1","unix:/tmp/x.sock"] config file` {
		t.Errorf("python:prodsettings: workers %s bind %s", value(t, gw, "workers"), value(t, gw, "bind"))
	}
}

// TestGunicornRefusals: what gowsgi cannot do safely ends at once, exit 2,
// with one line that says why.
func TestGunicornRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.conf.py"), []byte("import os\ndirty_workers = 2\n"), 0o644)
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"-k", "trio", "app:app"}, nil, "worker class trio runs trio apps"},
		{[]string{"--worker-class=myapp.workers.CustomWorker", "app:app"}, nil, "worker class myapp.workers.CustomWorker: cannot import it: ModuleNotFoundError: No module named 'myapp'"},
		{[]string{"--certfile", "cert.pem", "--keyfile", "key.pem", "app:app"}, nil, "--certfile cert.pem / --keyfile key.pem: open cert.pem: no such file or directory"},
		{[]string{"--paste", "production.ini"}, nil, "--paste: production.ini: no such file"},
		{[]string{"app:app"}, []string{"GUNICORN_CMD_ARGS=--dirty-workers 2"}, "GUNICORN_CMD_ARGS: --dirty-workers: gowsgi has no dirty arbiters"},
		{[]string{"-c", "bad.conf.py", "app:app"}, nil, "bad.conf.py: dirty_workers: gowsgi has no dirty arbiters"},
		{[]string{"--user", "gowsgi-no-such-user", "app:app"}, nil, `--user: no user named "gowsgi-no-such-user"`},
		{[]string{"--no-such-option", "app:app"}, nil, "unknown flag: --no-such-option"},
	} {
		code, _, stderr := gowsgiIn(t, dir, cliEnv(c.env...), c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v %v: exit %d, stderr %q; want exit 2 and one line with %q", c.env, c.args, code, stderr, c.want)
		}
	}
}

// TestGunicornConfigFileServes runs a real server from nothing but a
// gunicorn config file: bind, workers, raw_env, chdir, pidfile and wsgi_app
// come from it, and its misspelt setting is reported on stderr.
func TestGunicornConfigFileServes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := "import os\n" +
		"def app(environ, start_response):\n" +
		"    body = ('%s %s' % (os.environ.get('GREETING'), os.getcwd())).encode()\n" +
		"    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])\n" +
		"    return [body]\n"
	os.MkdirAll(filepath.Join(dir, "site"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "hello.py"), []byte(app), 0o644)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pid := filepath.Join(dir, "gowsgi.pid")
	conf := fmt.Sprintf("bind = %q\nworkers = 1\nraw_env = ['GREETING=hi']\nchdir = %q\npidfile = %q\n"+
		"wsgi_app = 'hello:app'\nmax_request = 100\n", addr, filepath.Join(dir, "site"), pid)
	os.WriteFile(filepath.Join(dir, "gunicorn.conf.py"), []byte(conf), 0o644)

	s := serveIn(t, dir, nil, addr, "--python", pythonBin)
	body := fetchBody(t, s, "http://"+addr+"/")
	if string(body) != "hi "+filepath.Join(dir, "site") {
		t.Errorf("body %q, want raw_env's GREETING and chdir's directory", body)
	}
	if b, err := os.ReadFile(pid); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(s.Cmd.Process.Pid) {
		t.Errorf("pidfile: %q %v, want %d", b, err, s.Cmd.Process.Pid)
	}
	if !strings.Contains(s.Stderr.String(), "gowsgi: gunicorn.conf.py: not gunicorn settings, ignored: max_request (did you mean max_requests?)\n") {
		t.Errorf("no warning for max_request:\n%s", s.Stderr)
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(pid); !os.IsNotExist(err) {
		t.Errorf("pidfile left behind: %v", err)
	}
}

// serveIn starts gowsgi with args in dir, with extra descriptors from fd 3
// on, and waits until url answers. It is stopped when the test ends.
func serveIn(t *testing.T, dir string, extra []*os.File, addr string, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, Addr: addr, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	s.Cmd = exec.Command(gowsgiBin, args...)
	s.Cmd.Dir, s.Cmd.Env, s.Cmd.ExtraFiles = dir, cliEnv(), extra
	s.Cmd.Stdout, s.Cmd.Stderr = s.Stdout, s.Stderr
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exit = s.Cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("gowsgi stderr:\n%s", s.Stderr)
		}
	})
	if !waitFor(60*time.Second, func() bool {
		select {
		case <-s.done:
			return true
		default:
		}
		return strings.Contains(s.Stderr.String(), "msg=listening")
	}) {
		t.Fatalf("gowsgi did not start listening within 60s\nstderr:\n%s", s.Stderr)
	}
	select {
	case <-s.done:
		t.Fatalf("gowsgi exited before serving (%v)\nstderr:\n%s", s.exit, s.Stderr)
	default:
	}
	return s
}

// fetchBody GETs url with client (unix sockets too) and returns the body of a 200.
func fetchBody(t *testing.T, s *Server, url string, c ...*http.Client) []byte {
	t.Helper()
	cl := client()
	if len(c) > 0 {
		cl = c[0]
	}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v\nstderr:\n%s", url, err, s.Stderr)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %q", url, resp.Status, body)
	}
	return body
}

// TestGunicornFdBindAndUmask: -b fd://N serves on a listening socket the
// parent passed down, as under systemd socket activation or gunicorn's
// re-exec; -m sets the mode of the unix sockets gowsgi creates.
func TestGunicornFdBindAndUmask(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	l.Close() // the duplicate in f stays open and listening
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sock := filepath.Join(t.TempDir(), "app.sock")
	s := serveIn(t, repoRoot, []*os.File{f}, "", "--python", pythonBin, "-w", "1", "-b", "fd://3", "-b", "unix:"+sock,
		"-m", "0o077", "tests/testdata/apps/probe.py")
	if body := fetchBody(t, s, "http://"+l.Addr().String()+"/"); string(body) != "hello from probe\n" {
		t.Errorf("fd://3: %q", body)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("unix socket with umask 0o077: %v %v, want mode 0700", fi.Mode(), err)
	}
	unixClient := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	if body := fetchBody(t, s, "http://unix/", unixClient); string(body) != "hello from probe\n" {
		t.Errorf("unix socket: %q", body)
	}
}

// TestCheckConfig: --check-config loads the app and exits 0, or 1 when it
// does not load; nothing is served.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok.py"), []byte("def app(e, s):\n    s('200 OK', [])\n    return [b'']\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "gunicorn.conf.py"), []byte("wsgi_app = 'ok:app'\n"), 0o644)
	code, out, stderr := gowsgiIn(t, dir, cliEnv(), "--check-config", "--python", pythonBin)
	if code != 0 || !strings.Contains(out, "ok:app loads") {
		t.Errorf("--check-config: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	code, _, stderr = gowsgiIn(t, dir, cliEnv(), "--check-config", "--python", pythonBin, "ok:nope")
	if code != 1 || !strings.Contains(stderr, "cannot load ok:nope") {
		t.Errorf("--check-config on a wrong name: exit %d\nstderr:\n%s", code, stderr)
	}
}
