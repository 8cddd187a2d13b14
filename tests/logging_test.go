package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileHas waits (bounded) until path contains substr and returns the file.
func fileHas(t *testing.T, path, substr string) string {
	t.Helper()
	var b []byte
	if !waitFor(15*time.Second, func() bool {
		b, _ = os.ReadFile(path)
		return strings.Contains(string(b), substr)
	}) {
		t.Fatalf("%s never contained %q:\n%s", filepath.Base(path), substr, b)
	}
	return string(b)
}

// startLogged starts gowsgi whose error log goes to errLog (so the harness
// cannot watch stderr for "listening") and waits for the line there.
func startLogged(t *testing.T, errLog string, args ...string) *Server {
	t.Helper()
	s := startProcess(t, append(args, "--error-logfile", errLog)...)
	fileHas(t, errLog, "listening")
	return s
}

func TestAccessLogFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "access.log")
	format := `%(h)s|%(l)s|%(u)s|%(r)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(f)s|%(a)s|` +
		`%({x-trace-note}i)s|%({X-Missing}i)s|%({content-type}o)s|%({path_info}e)s|%({HTTP_X_TRACE_NOTE}e)s|` +
		`%(p)s|%(T)s|%(D)s|%(M)s|%(L)s|%(t)s|%(nope)s|100%%`
	s := StartServer(t, probe, "--access-logfile", logFile, "--access-logformat", format)
	resp, _ := get(t, s, "GET", "/status/x?s=404+Not+Found&a=%22", nil,
		"X-Trace-Note", `id-1" forged="yes`, "Referer", "http://ref.example/", "User-Agent", "ua\\x", "Authorization", "Basic Ym9iOnNlY3JldA==")
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	line := strings.TrimSuffix(fileHas(t, logFile, "\n"), "\n")
	f := strings.Split(line, "|")
	if len(f) != 26 {
		t.Fatalf("%d fields in %q", len(f), line)
	}
	want := map[int]string{0: "127.0.0.1", 1: "-", 2: "bob", 3: "GET /status/x?s=404+Not+Found&a=%22 HTTP/1.1", 4: "GET", 5: "/status/x",
		6: "s=404+Not+Found&a=%22", 7: "HTTP/1.1", 8: "404", 9: "14", 10: "14", 11: "http://ref.example/", 12: `ua\x5cx`,
		13: `id-1\x22 forged=\x22yes`, 14: "-", 15: "text/plain", 16: "/status/x", 17: `id-1\x22 forged=\x22yes`,
		18: fmt.Sprintf("<%d>", s.Cmd.Process.Pid), 19: "0", 24: "-", 25: "100%"}
	for i, w := range want {
		if f[i] != w {
			t.Errorf("field %d = %q, want %q (line %q)", i, f[i], w, line)
		}
	}
	for i, re := range map[int]string{20: `^\d+$`, 21: `^\d+$`, 22: `^\d+\.\d{6}$`, 23: `^\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]$`} {
		if !regexp.MustCompile(re).MatchString(f[i]) {
			t.Errorf("field %d = %q, want %s", i, f[i], re)
		}
	}
	if strings.Count(line, `"`) != 0 {
		t.Errorf("a raw quote reached the log: %q", line)
	}

	// Without --access-logformat the line stays the Combined Log Format, escaped the same way.
	clf := filepath.Join(dir, "clf.log")
	s = StartServer(t, probe, "--access-logfile", clf)
	get(t, s, "GET", "/", nil, "User-Agent", "evil\" 200 0 \"x", "Referer", "caf\xe9")
	line = fileHas(t, clf, "\n")
	re := regexp.MustCompile(`^127\.0\.0\.1 - - \[[^\]]+\] "GET / HTTP/1\.1" 200 17 "caf\\xe9" "evil\\x22 200 0 \\x22x"\n$`)
	if !re.MatchString(line) {
		t.Fatalf("default access line %q", line)
	}

	// A bad format is refused at startup with the reason.
	if code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--access-logformat", "%(h)s %(r"); code != 2 || !strings.Contains(stderr, "unclosed") {
		t.Errorf("bad format: exit %d, %s", code, stderr)
	}
}

func TestLogFilesReopenOnSIGUSR1(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	access, errLog := filepath.Join(dir, "access.log"), filepath.Join(dir, "error.log")
	s := startLogged(t, errLog, probe, "--access-logfile", access)
	get(t, s, "GET", "/?before", nil)
	fileHas(t, access, "/?before")
	// logrotate: rename, then signal.
	os.Rename(access, access+".1")
	os.Rename(errLog, errLog+".1")
	s.Signal(syscall.SIGUSR1)
	fileHas(t, errLog, "reopened log files")
	get(t, s, "GET", "/?after", nil)
	fileHas(t, access, "/?after")
	if old, _ := os.ReadFile(access + ".1"); strings.Contains(string(old), "/?after") {
		t.Errorf("the rotated access log still gets lines: %q", old)
	}
	if old, _ := os.ReadFile(errLog + ".1"); strings.Contains(string(old), "reopened") {
		t.Errorf("the rotated error log still gets lines: %q", old)
	}
	if s.Wait(0) != -1 {
		t.Fatal("SIGUSR1 stopped gowsgi")
	}
}

func TestLogFormatJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	access, errLog := filepath.Join(dir, "access.log"), filepath.Join(dir, "error.log")
	s := startLogged(t, errLog, probe, "--access-logfile", access, "--log-format", "json")
	get(t, s, "GET", "/status?s=201+Created", nil, "User-Agent", "line\tbreak\"")
	line := fileHas(t, access, "\n")
	var a map[string]any
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		t.Fatalf("access line is not JSON: %v: %q", err, line)
	}
	for k, v := range map[string]any{"remote_addr": "127.0.0.1", "request": "GET /status?s=201+Created HTTP/1.1", "method": "GET",
		"path": "/status", "query": "s=201+Created", "status": 201.0, "bytes": 14.0, "user_agent": "line\tbreak\"", "referer": ""} {
		if a[k] != v {
			t.Errorf("access %s = %#v, want %#v", k, a[k], v)
		}
	}
	if _, ok := a["duration_ms"].(float64); !ok {
		t.Errorf("no duration_ms in %v", a)
	}
	for _, l := range strings.Split(strings.TrimSpace(fileHas(t, errLog, "listening")), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil || e["level"] == nil || e["msg"] == nil {
			t.Errorf("error log line is not a slog JSON record: %q", l)
		}
	}
}

func TestCaptureOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	errLog := filepath.Join(dir, "error.log")
	s := startLogged(t, errLog, probe, "--capture-output")
	get(t, s, "GET", "/pylog?print=captured-print&stderr=captured-stderr", nil)
	get(t, s, "GET", "/errors", nil)
	fileHas(t, errLog, "captured-print")
	fileHas(t, errLog, "captured-stderr")
	fileHas(t, errLog, "message to wsgi.errors")
	if strings.Contains(s.Stderr.String(), "captured-print") {
		t.Error("captured output also reached gowsgi's stderr")
	}

	// Without it, the workers' output stays on gowsgi's stderr.
	plain := startLogged(t, filepath.Join(dir, "plain.log"), probe)
	get(t, plain, "GET", "/pylog?print=uncaptured-print&stderr=uncaptured-stderr", nil)
	plain.WaitLog(t, "uncaptured-stderr", 1, 10*time.Second)
	if !waitFor(10*time.Second, func() bool { return strings.Contains(plain.Stdout.String(), "uncaptured-print") }) {
		t.Errorf("print() without --capture-output did not reach stdout: %q", plain.Stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "plain.log")); strings.Contains(string(b), "uncaptured") {
		t.Errorf("output captured without --capture-output: %q", b)
	}
}

func TestPythonLogConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "app.log")
	conf := filepath.Join(dir, "gunicorn.conf.py")
	os.WriteFile(conf, []byte(fmt.Sprintf(`logconfig_dict = {
    'version': 1,
    'formatters': {'f': {'format': 'DICT %%(levelname)s %%(name)s %%(message)s'}},
    'handlers': {'file': {'class': 'logging.FileHandler', 'filename': %q, 'formatter': 'f'}},
    'root': {'level': 'INFO', 'handlers': ['file']},
}
`, out)), 0o644)
	s := StartServer(t, probe, "-c", conf)
	get(t, s, "GET", "/pylog?name=myapp&msg=hello+dict", nil)
	fileHas(t, out, "DICT WARNING myapp hello dict")

	ini := filepath.Join(dir, "logging.ini")
	out2 := filepath.Join(dir, "app2.log")
	os.WriteFile(ini, []byte(fmt.Sprintf(`[loggers]
keys=root
[handlers]
keys=file
[formatters]
keys=f
[logger_root]
level=INFO
handlers=file
[handler_file]
class=FileHandler
args=(%q,)
formatter=f
[formatter_f]
format=INI %%(name)s %%(message)s
`, out2)), 0o644)
	s2 := StartServer(t, probe, "--log-config", ini)
	get(t, s2, "GET", "/pylog?name=other&msg=hello+ini", nil)
	fileHas(t, out2, "INI other hello ini")
}

func TestStatsd(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	got := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, m := range strings.Split(string(buf[:n]), "\n") {
				got <- m
			}
		}
	}()
	s := StartServer(t, probe, "--statsd-host", pc.LocalAddr().String(), "--statsd-prefix", "myapp", "--dogstatsd-tags", "env:test")
	get(t, s, "GET", "/status?s=404+Not+Found", nil)
	get(t, s, "GET", "/headers?kind=crlf", nil) // gowsgi logs an error: gunicorn.log.error
	want := map[string]*regexp.Regexp{
		"requests": regexp.MustCompile(`^myapp\.gunicorn\.requests:1\|c\|@1\.0\|#env:test$`),
		"status":   regexp.MustCompile(`^myapp\.gunicorn\.request\.status\.404:1\|c\|@1\.0\|#env:test$`),
		"duration": regexp.MustCompile(`^myapp\.gunicorn\.request\.duration:\d+(\.\d+)?\|ms\|#env:test$`),
		"workers":  regexp.MustCompile(`^myapp\.gunicorn\.workers:1\|g\|#env:test$`),
		"log":      regexp.MustCompile(`^myapp\.gunicorn\.log\.error:1\|c\|@1\.0\|#env:test$`),
	}
	var seen []string
	deadline := time.After(15 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-got:
			seen = append(seen, m)
			for k, re := range want {
				if re.MatchString(m) {
					delete(want, k)
				}
			}
		case <-deadline:
			t.Fatalf("metrics missing: %v; got %q", want, seen)
		}
	}
}
