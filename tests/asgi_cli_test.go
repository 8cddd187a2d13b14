package tests

// uvicorn's and granian's command lines, and gunicorn's ASGI and custom
// worker classes, through the real binary: --print-config --json shows
// what they add up to, --check-config loads the app, refusals exit 2 with
// one line, and the uvicorn command line drives a real server.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// asgiHello is a stdlib ASGI app, as a FastAPI user's main.py would name it.
const asgiHello = `async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})
`

// uvicornDockerfile is uvicorn's command line as real Dockerfiles write it
// (KEY and CERT are replaced by files).
var uvicornDockerfile = []string{"main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "4", "--proxy-headers",
	"--forwarded-allow-ips", "*", "--root-path", "/api", "--lifespan", "on", "--limit-concurrency", "500",
	"--timeout-keep-alive", "5", "--ssl-keyfile", "KEY", "--ssl-certfile", "CERT", "--log-level", "info", "--no-access-log"}

func withFiles(args []string, key, cert string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		switch a {
		case "KEY":
			out[i] = key
		case "CERT":
			out[i] = cert
		}
	}
	return out
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestUvicornDockerfileCommandLine: every value of uvicorn's command line
// is read as uvicorn means it, and the ASGI app loads.
func TestUvicornDockerfileCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.py"), []byte(asgiHello), 0o644)
	pki := newPKI(t)
	cert, key, _ := pki.issue("server", "localhost", []string{"localhost"}, false)
	args := withFiles(uvicornDockerfile, key, cert)
	env := cliEnv("GOWSGI_PYTHON=" + pythonBin)
	byName, _, warnings := printConfig(t, dir, env, args...)
	for name, want := range map[string]string{
		"app": `"main:app"`, "bind": `["0.0.0.0:8000"]`, "workers": "4", "proxy-headers": "true",
		"forwarded-allow-ips": `["*"]`, "root-path": `"/api"`, "lifespan": `"on"`, "limit-concurrency": "500",
		"keep-alive": "5", "keyfile": jsonText([]string{key}), "certfile": jsonText([]string{cert}), "log-level": `"info"`,
		"access-log": "null", "interface": `"auto"`, "loop": `"auto"`,
	} {
		if got := jsonText(byName[name].Value); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if byName["bind"].Source != "flag" || byName["limit-concurrency"].Source != "flag" {
		t.Errorf("sources: bind %s, limit-concurrency %s", byName["bind"].Source, byName["limit-concurrency"].Source)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings for uvicorn's own command line: %q", warnings)
	}
	code, out, errOut := gowsgiIn(t, dir, env, append(args, "--check-config")...)
	if code != 0 || !strings.Contains(out+errOut, "main:app loads") {
		t.Errorf("--check-config: exit %d\n%s%s", code, out, errOut)
	}
}

// TestGranianCommandLine: granian's spellings, through the binary.
func TestGranianCommandLineRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.py"), []byte(asgiHello), 0o644)
	byName, _, warnings := printConfig(t, dir, cliEnv(), "--interface", "asginl", "--host", "127.0.0.1", "--port", "8001",
		"--workers", "2", "--backpressure", "32", "--http", "1", "--url-path-prefix", "/g", "--respawn-failed-workers", "--no-ws", "main:app")
	for name, want := range map[string]string{
		"app": `"main:app"`, "interface": `"asgi"`, "lifespan": `"off"`, "bind": `["127.0.0.1:8001"]`, "workers": "2",
		"limit-concurrency": "32", "http-protocols": `"h1"`, "root-path": `"/g"`,
	} {
		if got := jsonText(byName[name].Value); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	code, _, errOut := gowsgiIn(t, dir, cliEnv(), "--interface", "rsgi", "main:app")
	if code != 2 || !strings.Contains(errOut, "rsgi is granian's own interface") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("--interface rsgi: exit %d, stderr %q", code, errOut)
	}
}

// TestASGIWorkerClasses: gunicorn configurations that ask for ASGI worker
// classes, by name and as a project's own subclass, are read, not refused;
// a gevent subclass maps as gevent does; a class with no known base is
// refused in one line.
func TestASGIWorkerClasses(t *testing.T) {
	t.Parallel()
	classes, err := filepath.Abs("testdata/workerclasses")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.py"), []byte(asgiHello), 0o644)
	env := cliEnv("GOWSGI_PYTHON=" + pythonBin)

	byName, _, warnings := printConfig(t, dir, env, "-k", "uvicorn.workers.UvicornWorker", "-w", "2", "--worker-connections", "200", "main:app")
	if jsonText(byName["interface"].Value) != `"asgi"` || jsonText(byName["limit-concurrency"].Value) != "200" || len(warnings) != 0 {
		t.Errorf("-k UvicornWorker: interface %v limit %v warnings %q", byName["interface"].Value, byName["limit-concurrency"].Value, warnings)
	}

	// saleor's worker class, named by a gunicorn config file.
	conf := filepath.Join(dir, "gunicorn.conf.py")
	os.WriteFile(conf, []byte(fmt.Sprintf("worker_class = 'saleor.asgi.gunicorn_worker.UvicornWorker'\npythonpath = %q\nworkers = 2\n", classes)), 0o644)
	byName, _, warnings = printConfig(t, dir, env, "main:app")
	for name, want := range map[string]string{"interface": `"asgi"`, "loop": `"uvloop"`, "lifespan": `"off"`, "worker-class": `"saleor.asgi.gunicorn_worker.UvicornWorker"`} {
		if got := jsonText(byName[name].Value); got != want {
			t.Errorf("saleor: %s %s, want %s", name, got, want)
		}
	}
	if byName["lifespan"].Source != "config file" || len(warnings) != 1 || !strings.Contains(warnings[0], "runs as uvicorn.workers.UvicornWorker") {
		t.Errorf("saleor: lifespan from %s; warnings %q", byName["lifespan"].Source, warnings)
	}
	os.Remove(conf)

	// paperless's, through Debian's Python where uvicorn (and maybe
	// gunicorn) is installed: the real uvicorn worker module, with a
	// stand-in for gunicorn if it is missing.
	for _, py := range []string{pythonBin, "/usr/bin/python3"} {
		if _, err := os.Stat(py); err != nil && strings.Contains(py, "/") {
			continue
		}
		byName, _, warnings = printConfig(t, dir, cliEnv(), "--python", py, "-k", "paperless.workers.ConfigurableWorker",
			"--pythonpath", classes, "-e", "PAPERLESS_FORCE_SCRIPT_NAME=/paperless", "main:app")
		if jsonText(byName["interface"].Value) != `"asgi"` || jsonText(byName["root-path"].Value) != `"/paperless"` || len(warnings) != 1 {
			t.Errorf("paperless with %s: interface %v root %v warnings %q", py, byName["interface"].Value, byName["root-path"].Value, warnings)
		}
	}

	// ichnaea's gevent worker: threads, as -k gevent.
	byName, _, warnings = printConfig(t, dir, env, "-k", "ichnaea.webapp.worker.LocationGeventWorker", "--pythonpath", classes,
		"--worker-connections", "12", "main:app")
	if jsonText(byName["threads"].Value) != "12" || jsonText(byName["interface"].Value) != `"auto"` || len(warnings) != 2 {
		t.Errorf("ichnaea: threads %v interface %v warnings %q", byName["threads"].Value, byName["interface"].Value, warnings)
	}

	for k, want := range map[string]string{
		"projworkers.Plain":    "gowsgi: --worker-class: worker class projworkers.Plain derives from none of the worker classes gowsgi stands in for",
		"nosuch.module.Worker": "gowsgi: --worker-class: worker class nosuch.module.Worker: cannot import it: ModuleNotFoundError: No module named 'nosuch'",
	} {
		code, _, errOut := gowsgiIn(t, dir, env, "-k", k, "--pythonpath", classes, "main:app")
		if code != 2 || !strings.HasPrefix(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("-k %s: exit %d, stderr %q, want one line starting %q", k, code, errOut, want)
		}
	}
}

// startAsWritten runs gowsgi with exactly args (no --bind or --python
// added) in dir, and waits until it logs that it listens on addr.
func startAsWritten(t *testing.T, dir, addr string, env []string, args ...string) *Server {
	t.Helper()
	return runAsWritten(t, dir, addr, env, args, func(s *Server) bool { return strings.Contains(s.Stderr.String(), "msg=listening") })
}

// runAsWritten runs gowsgi with exactly args in dir (env as given: nil is
// this process's) and waits until ready says it serves; a gowsgi that
// exits first, or is not ready within 60 s, fails the test.
func runAsWritten(t *testing.T, dir, addr string, env, args []string, ready func(*Server) bool) *Server {
	t.Helper()
	s := &Server{t: t, Addr: addr, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	s.Cmd = exec.Command(gowsgiBin, args...)
	s.Cmd.Dir, s.Cmd.Env, s.Cmd.Stdout, s.Cmd.Stderr = dir, env, s.Stdout, s.Stderr
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.exit = s.Cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.Stop() })
	exited := func() bool {
		select {
		case <-s.done:
			return true
		default:
			return false
		}
	}
	if !waitFor(60*time.Second, func() bool { return exited() || ready(s) }) || exited() {
		t.Fatalf("gowsgi %v did not start serving (%v)\nstderr:\n%s", args, s.exit, s.Stderr)
	}
	return s
}

// TestUvicornCommandLineServes runs a real ASGI app from uvicorn's command
// line as Dockerfiles write it (--lifespan on included): TLS from --ssl-*,
// the root path, proxy headers from any peer, the lifespan at start and
// stop, no access log.
func TestUvicornCommandLineServes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.py"), []byte(`import json, os

def mark(name):
    open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "w").close()

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                mark("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                mark("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = json.dumps({"root_path": scope["root_path"], "client": scope["client"][0], "scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
`), 0o644)
	pki := newPKI(t)
	cert, key, _ := pki.issue("server", "localhost", []string{"localhost"}, false)
	port := freePort(t)
	args := withFiles([]string{"main:app", "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--workers", "2",
		"--proxy-headers", "--forwarded-allow-ips", "*", "--root-path", "/api", "--lifespan", "on", "--limit-concurrency", "500",
		"--timeout-keep-alive", "5", "--ssl-keyfile", "KEY", "--ssl-certfile", "CERT", "--log-level", "info", "--no-access-log"}, key, cert)
	s := startAsWritten(t, dir, fmt.Sprintf("127.0.0.1:%d", port), cliEnv("GOWSGI_PYTHON="+pythonBin), args...)
	if !strings.Contains(s.Stderr.String(), "workers=2") {
		t.Errorf("not two workers:\n%s", s.Stderr)
	}
	req := fmt.Sprintf("https://localhost:%d/api/hello", port)
	c := pki.tlsClient("localhost")
	r, err := http.NewRequest("GET", req, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := c.Do(r)
	if err != nil {
		t.Fatalf("GET %s: %v\nstderr:\n%s", req, err, s.Stderr)
	}
	var env map[string]string
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	want := map[string]string{"root_path": "/api", "client": "203.0.113.7", "scheme": "https"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q (scope %v)", k, env[k], v, env)
		}
	}
	if !strings.Contains(s.Stderr.String(), "interface=asgi") {
		t.Errorf("the app was not served as ASGI:\n%s", s.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "startup")); err != nil {
		t.Errorf("--lifespan on: the startup did not run: %v", err)
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "shutdown")); err != nil {
		t.Errorf("--lifespan on: the shutdown did not run at SIGTERM: %v", err)
	}
	if strings.Contains(s.Stdout.String(), "/api/hello") {
		t.Errorf("an access log with --no-access-log:\n%s", s.Stdout)
	}
}

// TestCheckASGI: gowsgi check judges an ASGI app in plain words: the
// lifespan protocol, each request, each protocol violation.
func TestCheckASGI(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"asgi_violations.py")
	wantCheck(t, code, out, errOut, 1,
		"  callable  tests/testdata/check/asgi_violations.py:app (coroutine function, tests/testdata/check/asgi_violations.py:3)\n",
		"  speaks    ASGI 3\n",
		"  lifespan startup  ", "not supported (raised ValueError)\n",
		"6 violations:\n",
		"  - a second http.response.start: the response had started with status 200 OK (tests/testdata/check/asgi_violations.py:9)\n    on: GET /\n",
		"after the response ended (its last http.response.body had more_body=False)",
		"the application returned without sending http.response.start (gowsgi answers 500)",
		"the body of http.response.body must be bytes, not str",
		"the status of http.response.start must be an int like 200, not str ('404')",
		"header names and values must be bytes, not str",
		"1 warning:\n", "it does not support lifespan; gowsgi carries on without it (--lifespan auto)",
		"FAIL: 6 violations\n")
	code, out, errOut = runCheck(t, checkDir+"asgi_clean.py")
	wantCheck(t, code, out, errOut, 0, "  lifespan startup ", "startup.complete\n", "GET /  ", "200 OK  ", "text/plain, 8 bytes\n",
		"  lifespan shutdown ", "shutdown.complete\n", "OK: no ASGI violations found\n")
	code, out, errOut = runCheck(t, "--interface", "asgi", checkDir+"asgi2_app.py")
	wantCheck(t, code, out, errOut, 0, "  speaks    ASGI 2\n", "OK: no ASGI violations found (1 warning)\n")
}
