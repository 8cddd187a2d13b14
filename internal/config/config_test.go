package config

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// parse runs Parse in an empty directory (no ./gunicorn.conf.py).
func parse(t *testing.T, args []string, e map[string]string) (*Config, error) {
	t.Helper()
	t.Chdir(t.TempDir())
	return Parse(args, env(e), io.Discard)
}

func mustParse(t *testing.T, args []string, e map[string]string) *Config {
	t.Helper()
	c, err := parse(t, args, e)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return c
}

func bindSpecs(bs []Bind) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.Network+" "+b.Addr)
	}
	return strings.Join(s, ",")
}

func TestParseFlagsAndEnvironment(t *testing.T) {
	c := mustParse(t, []string{"app:app", "-b", ":9000", "--bind", "unix:/tmp/x.sock", "-t", "45", "--graceful-timeout", "1m30s"},
		map[string]string{"GOWSGI_WORKERS": "3", "GOWSGI_THREADS": "4", "GOWSGI_BIND": "10.0.0.1:1"})
	if c.Target != "app:app" || c.Workers != 3 || c.Threads != 4 {
		t.Fatalf("target %q workers %d threads %d", c.Target, c.Workers, c.Threads)
	}
	if got := bindSpecs(c.Binds); got != "tcp :9000,unix /tmp/x.sock" {
		t.Fatalf("flags must replace GOWSGI_BIND, got %v", got)
	}
	if c.Timeout != 45*time.Second || c.GracefulTimeout != 90*time.Second {
		t.Fatalf("timeout %v graceful %v", c.Timeout, c.GracefulTimeout)
	}
	c = mustParse(t, nil, map[string]string{"GOWSGI_APP": "x:y", "GOWSGI_BIND": "127.0.0.1:1"})
	if c.Target != "x:y" || bindSpecs(c.Binds) != "tcp 127.0.0.1:1" {
		t.Fatalf("from the environment: %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, []string{"a"}, nil)
	want := map[string][2]any{
		"binds":           {bindSpecs(c.Binds), "tcp 127.0.0.1:8000"},
		"workers":         {c.Workers, runtime.NumCPU()},
		"threads":         {c.Threads, 1},
		"access log":      {c.AccessLog, Output{To: OutputStdout}},
		"error log":       {c.ErrorLog, Output{To: OutputStderr}},
		"log level":       {c.LogLevel, slog.LevelInfo},
		"pipeline":        {c.PipelineDepth, 32},
		"body memory":     {c.BodyMemory, int64(1 << 20)},
		"body total":      {c.BodyMemoryTotal, int64(64 << 20)},
		"body min rate":   {c.BodyMinRate, int64(1024)},
		"response buffer": {c.ResponseBuffer, int64(1 << 20)},
		"response spool":  {c.ResponseSpool, int64(1 << 30)},
		"tmp upload dir":  {c.TmpUploadDir, os.TempDir()},
		"static max age":  {c.StaticMaxAge, time.Duration(0)},
		"header bytes":    {c.MaxHeaderBytes, int64(64 << 10)},
		"keep-alive":      {c.KeepAlive, 5 * time.Second},
		"umask":           {c.Umask, -1},
		"worker class":    {c.WorkerClass, "sync"},
		"warnings":        {len(c.Warnings), 0},
	}
	for name, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s: %v, want %v", name, v[0], v[1])
		}
	}
	// gunicorn's PORT and WEB_CONCURRENCY set the defaults, as in gunicorn.
	c = mustParse(t, []string{"a"}, map[string]string{"PORT": "5000", "WEB_CONCURRENCY": "3"})
	if bindSpecs(c.Binds) != "tcp 0.0.0.0:5000" || c.Workers != 3 {
		t.Errorf("PORT/WEB_CONCURRENCY: %s, %d workers", bindSpecs(c.Binds), c.Workers)
	}
}

func TestTypedValues(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, []string{"a", "--static", "/static/=" + dir, "--static-max-age", "1h", "--static-allow-dotfiles",
		"--access-log", "acc.log", "--log-level", "WARNING", "--max-body-size", "10M", "--max-memory", "512",
		"--limit-request-header-size", "32K", "--body-memory-total", "128M", "--body-min-rate", "0",
		"--response-buffer", "256K", "--response-spool", "0", "--tmp-upload-dir", dir, "--no-access-log=false",
		"--root-path", "/app/"}, nil)
	if len(c.Static) != 1 || c.Static[0].Prefix != "/static" || c.Static[0].Dir != dir || !c.StaticAllowDotfiles || c.StaticMaxAge != time.Hour {
		t.Errorf("static: %+v", c.Static)
	}
	cwd, _ := os.Getwd()
	if c.AccessLog != (Output{To: OutputFile, Path: filepath.Join(cwd, "acc.log")}) {
		t.Errorf("access log %+v", c.AccessLog)
	}
	if c.LogLevel != slog.LevelWarn || c.MaxBodySize != 10<<20 || c.MaxMemory != 512<<20 || c.MaxHeaderBytes != 32<<10 {
		t.Errorf("level %v body %d memory %d header %d", c.LogLevel, c.MaxBodySize, c.MaxMemory, c.MaxHeaderBytes)
	}
	if c.BodyMemoryTotal != 128<<20 || c.BodyMinRate != 0 || c.ResponseBuffer != 256<<10 || c.ResponseSpool != 0 || c.TmpUploadDir != dir || c.RootPath != "/app" {
		t.Errorf("new options: %+v", c)
	}
	if c = mustParse(t, []string{"a", "--no-access-log", "--max-memory", "2G"}, nil); c.AccessLog.To != OutputOff || c.MaxMemory != 2<<30 {
		t.Errorf("--no-access-log: %+v, max memory %d", c.AccessLog, c.MaxMemory)
	}
}

func TestParseErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for args, want := range map[string]string{
		"":                                     "no application given",
		"a b":                                  "one application expected, got 2: a b",
		"a -w 0":                               "--workers: must be at least 1, got 0",
		"a --threads 0":                        "--threads: must be at least 1, got 0",
		"a --threads many":                     `--threads: "many" is not a whole number`,
		"a --max-requests -1":                  `--max-requests: "-1" is not a whole number`,
		"a --bind host:port":                   `port "port" is not a number`,
		"a --bind :99999":                      "port",
		"a --bind [::1:80":                     "unbalanced brackets",
		"a --bind ::1:80":                      "put an IPv6 address in brackets",
		"a --bind unix:":                       "empty socket path",
		"a --bind fd://x":                      "not a file descriptor number",
		"a --max-body-size lots":               "--max-body-size: \"lots\" is not a size",
		"a --body-memory-total 1T":             "--body-memory-total: \"1T\" is not a size",
		"a --response-spool -5":                "--response-spool:",
		"a --timeout soon":                     "--timeout: \"soon\" is not a duration",
		"a --static-max-age -1":                "--static-max-age: \"-1\" is negative",
		"a --reload-extra-file x.txt":          "needs --reload",
		"a --no-such-flag":                     "unknown flag: --no-such-flag",
		"a --max-re 3":                         "ambiguous option --max-re could match --max-requests, --max-requests-jitter",
		"a --static static=.":                  "expected /URL-PREFIX=DIRECTORY",
		"a --static /s=/no/such/dir":           "/no/such/dir is not a directory",
		"a --tmp-upload-dir /no/such/dir":      "--tmp-upload-dir: /no/such/dir is not a directory",
		"a --tmp-upload-dir " + file:           "is not a directory",
		"a --env NOEQUALS":                     `--env: "NOEQUALS": expected KEY=VALUE`,
		"a --umask 0o1000":                     "is not a umask",
		"a --chdir /no/such/dir":               "--chdir: /no/such/dir is not a directory",
		"a --root-path app":                    `--root-path: "app" must start with /`,
		"a --preload=maybe":                    `--preload: "maybe" is not a boolean`,
		"a -k myapp.workers.Special":           "--worker-class: worker class myapp.workers.Special: cannot import it: ModuleNotFoundError: No module named 'myapp'",
		"a -k special":                         "worker class special is not one of gunicorn's",
		"a -k trio":                            "worker class trio runs trio apps",
		"a --ciphers ECDHE+NOSUCH":             `--ciphers: unknown cipher or keyword "NOSUCH"`,
		"a --cert-reqs 3":                      `--cert-reqs: "3": expected 0 (none), 1 (optional) or 2 (required)`,
		"a --ssl-version SSLv3":                "--ssl-version: \"SSLv3\": SSLv2 and SSLv3 are broken",
		"a --http-protocols h3":                "--http-protocols: h3 (HTTP/3) is not implemented",
		"a --http2-cleartext maybe":            `--http2-cleartext: "maybe": expected off, prior-knowledge, upgrade or both`,
		"a --http2-max-frame-size 100":         "--http2-max-frame-size: must be between 16384 and 16777215",
		"a --paste development.ini":            "--paste: development.ini: no such file",
		"a --proxy-protocol=v3":                "--proxy-protocol: \"v3\" is not a PROXY protocol mode",
		"a --user nobody-gowsgi-test":          `--user: no user named "nobody-gowsgi-test"`,
		"a --worker-connections 0":             "--worker-connections: must be at least 1",
		"a --dirty-workers 2":                  "--dirty-workers: gowsgi has no dirty arbiters",
		"a --protocol uwsgi":                   "--protocol: gowsgi speaks HTTP only",
		"a --config /no/such/gunicorn.conf.py": "/no/such/gunicorn.conf.py doesn't exist",
	} {
		_, err := parse(t, strings.Fields(args), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", args, err, want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: the error is more than one line: %q", args, err)
		}
	}
	for e, want := range map[string]string{
		"GOWSGI_THREADS=many":                "GOWSGI_THREADS: \"many\" is not a whole number",
		"GUNICORN_CMD_ARGS=--workers=x":      "GUNICORN_CMD_ARGS: --workers: \"x\" is not a whole number",
		"GUNICORN_CMD_ARGS=--bogus":          "GUNICORN_CMD_ARGS: unknown flag: --bogus",
		"GUNICORN_CMD_ARGS=--bind 'x":        "GUNICORN_CMD_ARGS: unterminated quote",
		"GUNICORN_CMD_ARGS=app:app":          "GUNICORN_CMD_ARGS: only options belong here",
		"GOWSGI_WORKER_CLASS=tornado.Custom": "GOWSGI_WORKER_CLASS",
	} {
		k, v, _ := strings.Cut(e, "=")
		_, err := parse(t, []string{"a"}, map[string]string{k: v})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", e, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "64K": 64 << 10, "10M": 10 << 20, "1G": 1 << 30, "2MiB": 2 << 20, "3kb": 3 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "1T", "x", ""} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseBind(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8000":    "tcp 127.0.0.1:8000",
		"0.0.0.0":           "tcp 0.0.0.0:8000", // gunicorn's default port
		"localhost":         "tcp localhost:8000",
		":5000":             "tcp :5000",
		"":                  "tcp 0.0.0.0:8000",
		"[::1]:9000":        "tcp [::1]:9000",
		"[::]":              "tcp [::]:8000",
		"tcp://10.0.0.1:80": "tcp 10.0.0.1:80",
		"unix:/run/a.sock":  "unix /run/a.sock",
		"unix:///run/a.s":   "unix /run/a.s",
		"fd://3":            "fd 3",
	} {
		b, err := ParseBind(in)
		if err != nil || b.Network+" "+b.Addr != want || b.Spec != in {
			t.Errorf("%q: %+v %v, want %s", in, b, err, want)
		}
	}
}

func TestParseDurationAndBool(t *testing.T) {
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, "0.5": 500 * time.Millisecond, "2m": 2 * time.Minute, "0": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for in, want := range map[string]bool{"True": true, "yes": true, "on": true, "1": true, "False": false, "no": false, "0": false} {
		if got, err := parseBool(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
}

func TestGunicornCommandLine(t *testing.T) {
	c := mustParse(t, strings.Fields("-w4 -b 0.0.0.0 --access-logfile - --error-logfile - -k gthread --threads 4 "+
		"--limit-request-field_size 100000 --limit-request-line 4094 --keep-alive 2 --graceful-timeout 10 "+
		"--max-requests 1000 --max-requests-jitter 50 -t 60 --chdir /tmp --pythonpath a,b --pythonpath c "+
		"-e A=1 --env B=2 --preload --reload -p app.pid -m 0o117 --forwarded-allow-ips 10.0.0.1,10.0.0.2 app:app"), nil)
	if c.Workers != 4 || bindSpecs(c.Binds) != "tcp 0.0.0.0:8000" || c.AccessLog.To != OutputStdout || c.ErrorLog.To != OutputStderr {
		t.Errorf("workers %d binds %s logs %+v %+v", c.Workers, bindSpecs(c.Binds), c.AccessLog, c.ErrorLog)
	}
	if c.Threads != 4 || c.WorkerClass != "gthread" || c.MaxHeaderBytes != 100000 || c.MaxRequestLine != 4094 {
		t.Errorf("threads %d class %s header %d line %d", c.Threads, c.WorkerClass, c.MaxHeaderBytes, c.MaxRequestLine)
	}
	if c.KeepAlive != 2*time.Second || c.GracefulTimeout != 10*time.Second || c.Timeout != time.Minute || c.MaxRequests != 1000 || c.MaxRequestsJitter != 50 {
		t.Errorf("durations/recycling: %+v", c)
	}
	if c.Chdir != "/tmp" || strings.Join(c.PythonPath, " ") != "a b c" || strings.Join(c.Env, " ") != "A=1 B=2" {
		t.Errorf("chdir %q pythonpath %v env %v", c.Chdir, c.PythonPath, c.Env)
	}
	if !c.Preload || !c.Reload || c.PidFile != "app.pid" || c.Umask != 0o117 || strings.Join(c.ForwardedAllowIPs.Items(), " ") != "10.0.0.1 10.0.0.2" {
		t.Errorf("preload %v reload %v pid %q umask %o fwd %v", c.Preload, c.Reload, c.PidFile, c.Umask, c.ForwardedAllowIPs)
	}
	// Both spellings of the field-size limit, and notices, one line each.
	c = mustParse(t, strings.Fields("a --limit-request-field-size 10 --worker-tmp-dir /dev/shm --statsd-host localhost:8125 "+
		"--capture-output --backlog 64 --log-file - --spew"), nil)
	if c.Backlog != 64 || c.MaxHeaderBytes != 64<<10 || c.MaxFieldBytes != 10 {
		t.Errorf("backlog %d; field size %d; a small field size must not lower the header limit: %d", c.Backlog, c.MaxFieldBytes, c.MaxHeaderBytes)
	}
	for _, want := range []string{"--worker-tmp-dir: gowsgi workers write no heartbeat files",
		"--spew:"} {
		if !containsPrefix(c.Warnings, want) {
			t.Errorf("no notice %q in %q", want, c.Warnings)
		}
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "\n") {
			t.Errorf("notice of several lines: %q", w)
		}
	}
	// argparse's abbreviations, as gunicorn takes them.
	c = mustParse(t, strings.Fields("a --max-requests-j 3 --worker-cl=gthread --grace 5 --prel"), nil)
	if c.MaxRequestsJitter != 3 || c.WorkerClass != "gthread" || c.GracefulTimeout != 5*time.Second || !c.Preload {
		t.Errorf("abbreviations: jitter %d class %s graceful %v preload %v", c.MaxRequestsJitter, c.WorkerClass, c.GracefulTimeout, c.Preload)
	}
	// gevent: a thread count instead of green threads; --threads wins.
	c = mustParse(t, strings.Fields("a -k gevent --worker-connections 20"), nil)
	if c.Threads != 20 || !containsPrefix(c.Warnings, "worker class gevent: running 20 threads") {
		t.Errorf("gevent: %d threads, %q", c.Threads, c.Warnings)
	}
	if c = mustParse(t, strings.Fields("a -k eventlet"), nil); c.Threads != 64 {
		t.Errorf("eventlet with 1000 connections: %d threads, want 64", c.Threads)
	}
	if c = mustParse(t, strings.Fields("a -k gevent --threads 8"), nil); c.Threads != 8 {
		t.Errorf("gevent with --threads 8: %d", c.Threads)
	}
	if c = mustParse(t, strings.Fields("a -k sync --threads 3"), nil); c.Threads != 3 || len(c.Warnings) != 0 {
		t.Errorf("sync with threads: %d %q", c.Threads, c.Warnings)
	}
	// gunicorn's zeros.
	c = mustParse(t, strings.Fields("a --keep-alive 0 --limit-request-line 0 --limit-request-fields 0"), nil)
	if c.KeepAlive != 5*time.Second || c.MaxRequestLine != 8190 || c.MaxHeaderFields != 32768 ||
		!containsPrefix(c.Warnings, "--keep-alive: 0 (no keep-alive) is not offered") || !containsPrefix(c.Warnings, "--limit-request-line: 0 (no limit)") {
		t.Errorf("zeros: keep-alive %v line %d fields %d %q", c.KeepAlive, c.MaxRequestLine, c.MaxHeaderFields, c.Warnings)
	}
	// Values that ask for nothing gowsgi lacks are fine: no refusal.
	if _, err := parse(t, strings.Fields("a --daemon=false --access-logformat"), nil); err == nil {
		// --access-logformat needs a value: pflag says so.
		t.Errorf("--access-logformat without a value accepted")
	}
	c = mustParse(t, []string{"a", "--daemon=false", "--proxy-protocol=off", "--header-map", "drop", "--access-logformat", gunicornAccessFormat}, nil)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings for settings that match gowsgi: %q", c.Warnings)
	}
}

func containsPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("gunicorn.conf.py", []byte("workers = 2\nthreads = 2\ntimeout = 7\nkeepalive = 9\nbind = ['127.0.0.1:1']\n"), 0o644)
	c, err := Parse([]string{"a", "--threads", "5"}, env(map[string]string{
		"GUNICORN_CMD_ARGS": "--threads 4 --workers 4 --timeout=8",
		"GOWSGI_WORKERS":    "3", "GOWSGI_TIMEOUT": "6", "GOWSGI_KEEP_ALIVE": "3",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Threads != 5 || c.Workers != 4 || c.Timeout != 8*time.Second || c.KeepAlive != 3*time.Second || bindSpecs(c.Binds) != "tcp 127.0.0.1:1" {
		t.Errorf("threads %d (flag 5) workers %d (GUNICORN_CMD_ARGS 4) timeout %v (8s) keepalive %v (env 3s) bind %s (file)",
			c.Threads, c.Workers, c.Timeout, c.KeepAlive, bindSpecs(c.Binds))
	}
	src := map[string]string{}
	for _, s := range c.Settings() {
		src[s.Name] = s.Source
	}
	for name, want := range map[string]string{"threads": "flag", "workers": "GUNICORN_CMD_ARGS", "keep-alive": "env",
		"bind": "config file", "config": "config file", "max-queue": "default", "app": "flag"} {
		if src[name] != want {
			t.Errorf("%s: source %q, want %q", name, src[name], want)
		}
	}
	if c.ConfigFile != "gunicorn.conf.py" {
		t.Errorf("config file %q", c.ConfigFile)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "helper.py"), []byte("PORT = 8123\n"), 0o644)
	conf := `import multiprocessing, os
from helper import PORT
bind = "0.0.0.0:%d" % PORT
WORKERS = 2
workers = multiprocessing.cpu_count() * 2 + 1
threads = "3"
umask = 0o117
raw_env = "GREETING=" + os.environ.get("GOWSGI_TEST_GREETING", "none")
preload = True
preload_app = "true"
timeout = 12.5
limit_request_line = "4094"
pythonpath = "lib,vendor"
accesslog = "-"
wsgi_app = "myapp:app"
print("config file output goes to stderr")
def post_fork(server, worker):
    pass
def when_ready(server):
    pass
def helper():
    pass
def post_forks(server, worker):
    pass
`
	os.WriteFile(filepath.Join(dir, "conf.py"), []byte(conf), 0o644)
	t.Chdir(t.TempDir())
	t.Setenv("GOWSGI_TEST_GREETING", "hello")
	c, err := Parse([]string{"-c", filepath.Join(dir, "conf.py")}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if bindSpecs(c.Binds) != "tcp 0.0.0.0:8123" || c.Workers != runtime.NumCPU()*2+1 || c.Threads != 3 || c.Umask != 0o117 {
		t.Errorf("bind %s workers %d threads %d umask %o", bindSpecs(c.Binds), c.Workers, c.Threads, c.Umask)
	}
	if strings.Join(c.Env, " ") != "GREETING=hello" || !c.Preload || c.Timeout != 12500*time.Millisecond || c.MaxRequestLine != 4094 {
		t.Errorf("env %v preload %v timeout %v line %d", c.Env, c.Preload, c.Timeout, c.MaxRequestLine)
	}
	if strings.Join(c.PythonPath, " ") != "lib vendor" || c.Target != "myapp:app" || c.AccessLog.To != OutputStdout {
		t.Errorf("pythonpath %v target %q access %+v", c.PythonPath, c.Target, c.AccessLog)
	}
	if strings.Join(c.Hooks.Names, " ") != "when_ready post_fork" || c.Hooks.File != filepath.Join(dir, "conf.py") {
		t.Errorf("hooks %+v", c.Hooks)
	}
	wantWarn := filepath.Join(dir, "conf.py") + ": not gunicorn settings, ignored: WORKERS (did you mean workers?), post_forks (did you mean post_fork?), preload (did you mean preload_app?)"
	// when_ready and post_fork are run, so they are not noticed.
	if !containsPrefix(c.Warnings, wantWarn) || containsPrefix(c.Warnings, filepath.Join(dir, "conf.py")+" defines gunicorn server hooks") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), wantWarn)
	}
	// Helper variables, as templates name them, are not reported: only the
	// globals that look like a misspelt setting are (log_level).
	os.WriteFile(filepath.Join(dir, "helpers.py"), []byte(`import os
from logging import Handler as Worker  # a class named like a hook, as immich's gunicorn.workers.base.Worker
workers_per_core_str = os.getenv("WORKERS_PER_CORE", "1")
web_concurrency_str = os.getenv("WEB_CONCURRENCY", None)
host = "0.0.0.0"
port = "80"
bind_env = None
use_loglevel = "info"
use_bind = f"{host}:{port}"
cores = 2
workers_per_core = 1.0
default_web_concurrency = 2.0
keepalive_str = "120"
accesslog_var = "-"
log_data = {}
class Settings:
    port = 1
settings = Settings()
loglevel = use_loglevel
bind = use_bind
keepalive = int(keepalive_str)
log_level = "debug"
`), 0o644)
	c, err = Parse([]string{"-c", filepath.Join(dir, "helpers.py"), "main:app"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "helpers.py") + ": not gunicorn settings, ignored: log_level (did you mean loglevel?)"; strings.Join(c.Warnings, "\n") != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), want)
	}
	// The command line wins over the file; its target too.
	c, err = Parse([]string{"--config", "file:" + filepath.Join(dir, "conf.py"), "-w", "1", "other:app"}, env(nil), io.Discard)
	if err != nil || c.Workers != 1 || c.Target != "other:app" {
		t.Errorf("override: %v %+v", err, c)
	}
	// python:module, found on the current directory.
	t.Chdir(dir)
	os.WriteFile("settings_mod.py", []byte("workers = 6\n"), 0o644)
	if c, err = Parse([]string{"--config", "python:settings_mod", "a"}, env(nil), io.Discard); err != nil || c.Workers != 6 {
		t.Errorf("python:settings_mod: %v %+v", err, c)
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for body, want := range map[string]string{
		"workers = 'many'\n":            "gunicorn.conf.py: workers: \"many\" is not a whole number",
		"bind = object()\n":             "gunicorn.conf.py: bind: <object object at",
		"import no_such_module_xyz\n":   "cannot read config file gunicorn.conf.py: ModuleNotFoundError: No module named 'no_such_module_xyz'",
		"raise SystemExit(3)\n":         "cannot read config file gunicorn.conf.py: SystemExit: 3",
		"threads = [1, 2]\n":            "gunicorn.conf.py: threads: expected one value, got a list",
		"worker_class = 'gevent.Foo'\n": "worker class gevent.Foo: cannot import it: ModuleNotFoundError: No module named 'gevent'",
		"dirty_workers = 2\n":           "gunicorn.conf.py: dirty_workers: gowsgi has no dirty arbiters",
		"post_fork = 3\n":               "gunicorn.conf.py: post_fork: a server hook must be a function, got 3",
		"spew = object()\n":             "gunicorn.conf.py: spew: <object object at",
	} {
		os.WriteFile("gunicorn.conf.py", []byte(body), 0o644)
		_, err := Parse([]string{"a"}, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
	// daemon = False asks for nothing: accepted.
	os.WriteFile("gunicorn.conf.py", []byte("daemon = False\nworker_class = 'sync'\n"), 0o644)
	if _, err := Parse([]string{"a"}, env(nil), io.Discard); err != nil {
		t.Error(err)
	}
}

func TestPrintJSON(t *testing.T) {
	c := mustParse(t, strings.Fields("a -b 0.0.0.0 -t 2.5 --max-body-size 1K -e A=1 --worker-tmp-dir /tmp"), nil)
	var b strings.Builder
	if err := c.PrintSettings(&b, true); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Settings []struct {
			Name     string  `json:"name"`
			Gunicorn *string `json:"gunicorn"`
			Value    any     `json:"value"`
			Source   string  `json:"source"`
		} `json:"settings"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(b.String()), &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range out.Settings {
		v, _ := json.Marshal(s.Value)
		g := "null"
		if s.Gunicorn != nil {
			g = *s.Gunicorn
		}
		got[s.Name] = g + " " + string(v) + " " + s.Source
	}
	for name, want := range map[string]string{
		"bind":           `bind ["0.0.0.0:8000"] flag`,
		"timeout":        `timeout 2.5 flag`,
		"keep-alive":     `keepalive 5 default`,
		"max-body-size":  `null 1024 flag`,
		"env":            `raw_env ["A=1"] flag`,
		"worker-tmp-dir": `worker_tmp_dir "/tmp" flag`,
		"pid":            `pidfile null default`,
		"static":         `null [] default`,
		"post_fork":      `post_fork null default`,
	} {
		if got[name] != want {
			t.Errorf("%s: %s, want %s", name, got[name], want)
		}
	}
	if len(out.Warnings) != 1 || !strings.HasPrefix(out.Warnings[0], "--worker-tmp-dir:") {
		t.Errorf("warnings %q", out.Warnings)
	}
}

func TestShellSplit(t *testing.T) {
	for in, want := range map[string]string{
		`--workers=3 --bind 127.0.0.1:8000`: "--workers=3|--bind|127.0.0.1:8000",
		`-e 'A=a b' -e "B=\"x\""`:           `-e|A=a b|-e|B="x"`,
		`  a\ b  `:                          "a b",
	} {
		got, err := shellSplit(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
}

// gunicornSettings is every gunicorn setting from 20.1 to 26.1, with its
// command-line spellings (checked against gunicorn 20.1's own table below,
// when the Debian package is installed).
var gunicornSettings = map[string]string{
	"access_log_format": "--access-logformat", "accesslog": "--access-logfile", "asgi_disconnect_grace_period": "--asgi-disconnect-grace-period",
	"asgi_lifespan": "--asgi-lifespan", "asgi_loop": "--asgi-loop", "backlog": "--backlog", "bind": "-b --bind", "ca_certs": "--ca-certs",
	"capture_output": "--capture-output", "casefold_http_method": "--casefold-http-method", "cert_reqs": "--cert-reqs", "certfile": "--certfile",
	"chdir": "--chdir", "check_config": "--check-config", "child_exit": "", "ciphers": "--ciphers", "config": "-c --config",
	"control_socket": "--control-socket", "control_socket_disable": "--no-control-socket", "control_socket_mode": "--control-socket-mode",
	"daemon": "-D --daemon", "default_proc_name": "", "dirty_apps": "--dirty-app", "dirty_graceful_timeout": "--dirty-graceful-timeout",
	"dirty_post_fork": "", "dirty_threads": "--dirty-threads", "dirty_timeout": "--dirty-timeout", "dirty_worker_exit": "",
	"dirty_worker_init": "", "dirty_workers": "--dirty-workers", "disable_redirect_access_to_syslog": "--disable-redirect-access-to-syslog",
	"do_handshake_on_connect": "--do-handshake-on-connect", "dogstatsd_tags": "--dogstatsd-tags", "enable_backlog_metric": "--enable-backlog-metric",
	"enable_stdio_inheritance": "-R --enable-stdio-inheritance", "errorlog": "--error-logfile --log-file", "forwarded_allow_ips": "--forwarded-allow-ips",
	"forwarder_headers": "--forwarder-headers", "graceful_timeout": "--graceful-timeout", "group": "-g --group", "header_map": "--header-map",
	"http2_cleartext": "--http2-cleartext", "http2_initial_window_size": "--http2-initial-window-size",
	"http2_max_concurrent_streams": "--http2-max-concurrent-streams", "http2_max_frame_size": "--http2-max-frame-size",
	"http2_max_header_list_size": "--http2-max-header-list-size", "http_parser": "--http-parser", "http_protocols": "--http-protocols",
	"initgroups": "--initgroups", "keepalive": "--keep-alive", "keyfile": "--keyfile", "limit_request_field_size": "--limit-request-field_size",
	"limit_request_fields": "--limit-request-fields", "limit_request_line": "--limit-request-line", "logconfig": "--log-config",
	"logconfig_dict": "", "logconfig_json": "--log-config-json", "logger_class": "--logger-class", "loglevel": "--log-level",
	"max_requests": "--max-requests", "max_requests_jitter": "--max-requests-jitter", "nworkers_changed": "", "on_dirty_starting": "",
	"on_exit": "", "on_reload": "", "on_starting": "", "paste": "--paste --paster", "permit_obsolete_folding": "--permit-obsolete-folding",
	"permit_unconventional_http_method": "--permit-unconventional-http-method", "permit_unconventional_http_version": "--permit-unconventional-http-version",
	"pidfile": "-p --pid", "post_fork": "", "post_request": "", "post_worker_init": "", "pre_exec": "", "pre_fork": "", "pre_request": "",
	"preload_app": "--preload", "print_config": "--print-config", "proc_name": "-n --name", "protocol": "--protocol",
	"proxy_allow_ips": "--proxy-allow-from", "proxy_protocol": "--proxy-protocol", "pythonpath": "--pythonpath", "raw_env": "-e --env",
	"raw_paste_global_conf": "--paste-global", "reload": "--reload", "reload_engine": "--reload-engine", "reload_extra_files": "--reload-extra-file",
	"reuse_port": "--reuse-port", "root_path": "--root-path", "secure_scheme_headers": "", "sendfile": "--no-sendfile", "spew": "--spew",
	"ssl_context": "", "ssl_version": "--ssl-version", "statsd_host": "--statsd-host", "statsd_prefix": "--statsd-prefix",
	"strip_header_spaces": "--strip-header-spaces", "suppress_ragged_eofs": "--suppress-ragged-eofs", "syslog": "--log-syslog",
	"syslog_addr": "--log-syslog-to", "syslog_facility": "--log-syslog-facility", "syslog_prefix": "--log-syslog-prefix", "threads": "--threads",
	"timeout": "-t --timeout", "tmp_upload_dir": "", "tolerate_dangerous_framing": "--tolerate-dangerous-framing", "umask": "-m --umask",
	"user": "-u --user", "uwsgi_allow_ips": "--uwsgi-allow-from", "when_ready": "", "worker_abort": "", "worker_class": "-k --worker-class",
	"worker_connections": "--worker-connections", "worker_exit": "", "worker_int": "", "worker_tmp_dir": "--worker-tmp-dir",
	"workers": "-w --workers", "wsgi_app": "",
}

func TestEveryGunicornSetting(t *testing.T) {
	for name, cli := range gunicornSettings {
		s := byGunicorn[name]
		if s == nil {
			t.Errorf("gunicorn's %s is not in the table", name)
			continue
		}
		have := map[string]bool{}
		for _, f := range s.flags {
			have[strings.ReplaceAll(f, "_", "-")] = true
		}
		for _, sp := range strings.Fields(cli) {
			if !have[strings.ReplaceAll(sp, "_", "-")] {
				t.Errorf("%s: gunicorn's spelling %s is not accepted (have %v)", name, sp, s.flags)
			}
		}
		if s.kind != Native && s.why == "" {
			t.Errorf("%s: no note", name)
		}
	}
	for name := range byGunicorn {
		if _, ok := gunicornSettings[name]; !ok {
			t.Errorf("the table has %s, which gunicorn does not", name)
		}
	}
	// Every spelling parses on a command line.
	for name, cli := range gunicornSettings {
		for _, sp := range strings.Fields(cli) {
			fs := flagSet(newLayer(srcFlag), "")
			if fs.Lookup(strings.TrimLeft(strings.ReplaceAll(sp, "_", "-"), "-")) == nil && fs.ShorthandLookup(strings.TrimPrefix(sp, "-")) == nil {
				t.Errorf("%s: %s is not a flag", name, sp)
			}
		}
	}
}

// TestAgainstGunicorn20 reads gunicorn 20.1's own settings table, where the
// Debian package is installed, so the list above cannot drift from it.
func TestAgainstGunicorn20(t *testing.T) {
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import json, gunicorn.config as c; print(json.dumps({s.name: ' '.join(s.cli or []) for s in c.KNOWN_SETTINGS}))").Output()
	if err != nil {
		t.Skipf("gunicorn is not installed for /usr/bin/python3: %v", err)
	}
	var real map[string]string
	if err := json.Unmarshal(out, &real); err != nil {
		t.Fatal(err)
	}
	for name, cli := range real {
		if got, ok := gunicornSettings[name]; !ok || got != cli {
			t.Errorf("gunicorn %s: cli %q, the test's list has %q (present %v)", name, cli, got, ok)
		}
	}
}

func TestMigrationTableInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	table := MigrationTable()
	for name := range gunicornSettings {
		if !strings.Contains(table, "| `"+name+"` |") {
			t.Errorf("%s is not in the migration table", name)
		}
	}
	if !strings.Contains(string(readme), table) {
		if os.Getenv("GOWSGI_UPDATE_README") != "" {
			start := strings.Index(string(readme), migrationBegin)
			end := strings.Index(string(readme), migrationEnd)
			if start < 0 || end < start {
				t.Fatal("README lacks the migration table markers")
			}
			updated := string(readme[:start]) + table + string(readme[end+len(migrationEnd):])
			if err := os.WriteFile("../../README.md", []byte(updated), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's migration table is not MigrationTable()'s; regenerate it: GOWSGI_UPDATE_README=1 go test ./internal/config -run TestMigrationTableInREADME")
	}
}

func TestConfigFileChosenByEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("a.py", []byte("workers = 2\n"), 0o644)
	os.WriteFile("b.py", []byte("workers = 3\n"), 0o644)
	os.WriteFile("gunicorn.conf.py", []byte("workers = 4\n"), 0o644)
	for _, c := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{[]string{"x"}, nil, 4},
		{[]string{"x"}, map[string]string{"GOWSGI_CONFIG": "a.py"}, 2},
		{[]string{"x"}, map[string]string{"GOWSGI_CONFIG": "a.py", "GUNICORN_CMD_ARGS": "-c b.py"}, 3},
		{[]string{"x", "-c", "a.py"}, map[string]string{"GUNICORN_CMD_ARGS": "-c b.py"}, 2},
	} {
		cfg, err := Parse(c.args, env(c.env), io.Discard)
		if err != nil || cfg.Workers != c.want {
			t.Errorf("%v %v: %v, workers %d, want %d", c.args, c.env, err, cfg.Workers, c.want)
		}
	}
}

func TestPrintText(t *testing.T) {
	c := mustParse(t, strings.Fields("a -w 3 --spew"), nil)
	var b strings.Builder
	c.PrintSettings(&b, false)
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], "setting ") || !strings.Contains(lines[0], "value") || !strings.Contains(lines[0], "source") {
		t.Errorf("header %q", lines[0])
	}
	if !strings.Contains(b.String(), "\nworkers ") || !regexpMatch(b.String(), `\nworkers +3 +workers +flag\n`) ||
		!regexpMatch(b.String(), `\npid +\(unset\) +pidfile +default\n`) || !strings.Contains(b.String(), "\nwarning: --spew: ") {
		t.Errorf("print-config text:\n%s", b.String())
	}
}

func regexpMatch(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }

func TestConfigFileAccessLogNone(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("gunicorn.conf.py", []byte("accesslog = None\nerrorlog = '-'\n"), 0o644)
	c, err := Parse([]string{"a"}, env(nil), io.Discard)
	if err != nil || c.AccessLog.To != OutputOff || c.ErrorLog.To != OutputStderr {
		t.Errorf("accesslog = None: %v %+v", err, c)
	}
	if c, _ = Parse([]string{"a", "--access-logfile", "-"}, env(nil), io.Discard); c.AccessLog.To != OutputStdout {
		t.Errorf("--access-logfile - over accesslog = None: %+v", c.AccessLog)
	}
}

// TestUnknownLogLevel: an unknown --log-level (a deployment script's
// "'info'" with its quotes, "verbose") falls back to info with a one-line
// warning, as gunicorn does, from the command line, the environment and a
// config file alike.
func TestUnknownLogLevel(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"a", "--log-level", "'info'"}, nil},
		{[]string{"a", "--log-level", "verbose"}, nil},
		{[]string{"a"}, map[string]string{"GOWSGI_LOG_LEVEL": "loud"}},
	} {
		cfg := mustParse(t, c.args, c.env)
		if cfg.LogLevel != slog.LevelInfo {
			t.Errorf("%v %v: level %v, want info", c.args, c.env, cfg.LogLevel)
		}
		n := 0
		for _, w := range cfg.Warnings {
			if strings.HasPrefix(w, "--log-level: unknown level") && strings.HasSuffix(w, "; using info") && !strings.Contains(w, "\n") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%v %v: warnings %q, want one about the level", c.args, c.env, cfg.Warnings)
		}
	}
	if cfg := mustParse(t, []string{"a", "--log-level", "warning"}, nil); cfg.LogLevel != slog.LevelWarn || len(cfg.Warnings) != 0 {
		t.Errorf("--log-level warning: %v %q", cfg.LogLevel, cfg.Warnings)
	}
}
