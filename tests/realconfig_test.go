package tests

// Real deployments' server configurations, through the real binary: the
// gunicorn config files, and the gunicorn, uvicorn, granian and hypercorn
// command lines and environments of public projects' Dockerfiles,
// Procfiles, entrypoint scripts and systemd units
// (testdata/realconfigs/corpus.json, each with its source). Each one is
// read as written (--print-config --json: exit 0, the values its server
// would use, only the notices the entry names), then served: its app
// module is replaced by a test app at the same import path, its addresses
// by free loopback ones, its certificates by test ones, its workers by
// one, and a request must be answered. Only what gowsgi truly cannot run
// is refused, with the reason, in one line.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// realConfig is one entry of testdata/realconfigs/corpus.json.
type realConfig struct {
	ID string `json:"id"`
	// Source is where it comes from: "owner/repo path".
	Source string `json:"source"`
	// Cmd is the command line as written, program included ("exec",
	// "poetry run", "python -m" and the like are dropped as a shell and
	// those tools would); $VAR, ${VAR} and ${VAR:-default} are expanded
	// from Env, "$@" from nothing.
	Cmd []string `json:"cmd"`
	// Env is the deployment's environment.
	Env map[string]string `json:"env"`
	// Files are written under the test's directory: the text itself,
	// "@name" for testdata/realconfigs/files/name, "@@path" for
	// testdata/path.
	Files map[string]string `json:"files"`
	// Root are absolute paths of the deployment's filesystem (/app,
	// /opt/gunicorn_conf.py) that stand for the same path under the test's
	// directory, in Cmd, Env and Files.
	Root []string `json:"root"`
	// Dirs are directories the deployment has (log directories), under
	// the test's directory.
	Dirs []string `json:"dirs"`
	// App is what the test app speaks: "asgi" (default) or "wsgi".
	App string `json:"app"`
	// Expect are settings --print-config must show, by gowsgi name.
	Expect map[string]any `json:"expect"`
	// Notices are the one-line notices expected, each a substring of one;
	// any other notice fails.
	Notices []string `json:"notices"`
	// Refused is the reason a refusal (exit 2, one line) must give; ""
	// = it must be read and served.
	Refused string `json:"refused"`
	// TLS names where a config file expects its certificate and key
	// ("cert", "key", deployment paths): test ones are written there, and
	// the server is asked over HTTPS.
	TLS map[string]string `json:"tls"`
	// InsecureBind: the config file also has a plain bind (hypercorn's
	// insecure_bind); served, it is moved to a free loopback port and asked
	// too.
	InsecureBind bool `json:"insecure_bind"`
	// BarePython runs the workers' Python without its site-packages
	// (python -S): gunicorn and uvicorn are not installed, as after a move
	// to gowsgi, yet the config file and worker classes that import them
	// must still be read and served.
	BarePython bool `json:"bare_python"`
	// Serve false reads the entry only; Why says why.
	Serve *bool  `json:"serve"`
	Why   string `json:"why"`
}

func loadRealConfigs(t *testing.T) []realConfig {
	t.Helper()
	b, err := os.ReadFile("testdata/realconfigs/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []realConfig
	if err := json.Unmarshal(b, &corpus); err != nil {
		t.Fatalf("corpus.json: %v", err)
	}
	return corpus
}

// shellVar matches $NAME, ${NAME} and ${NAME:-default}.
var shellVar = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// expandWords expands cmd as a shell would for these command lines: the
// variables from env (unset is empty, or the default), "$@" to nothing.
func expandWords(cmd []string, env map[string]string) []string {
	var out []string
	for _, w := range cmd {
		if w == "$@" {
			continue
		}
		out = append(out, shellVar.ReplaceAllStringFunc(w, func(m string) string {
			sub := shellVar.FindStringSubmatch(m)
			name := sub[1] + sub[3]
			if v := env[name]; v != "" {
				return v
			}
			return sub[2]
		}))
	}
	return out
}

// serverArgs drops the program from a command line: exec, poetry run, uv
// run, python -m, a path to the script. It returns the server's name and
// its arguments.
func serverArgs(t *testing.T, words []string) (string, []string) {
	for len(words) > 0 {
		w := filepath.Base(words[0])
		switch {
		case w == "exec":
			words = words[1:]
		case (w == "poetry" || w == "uv") && len(words) > 1 && words[1] == "run":
			words = words[2:]
			for len(words) > 0 && strings.HasPrefix(words[0], "-") { // uv run --no-cache
				words = words[1:]
			}
		case strings.HasPrefix(w, "python") && len(words) > 2 && words[1] == "-m":
			words = append([]string{words[2]}, words[3:]...)
		case w == "gunicorn" || w == "uvicorn" || w == "granian" || w == "hypercorn":
			return w, words[1:]
		default:
			t.Fatalf("no server in %q", words)
		}
	}
	t.Fatalf("empty command line")
	return "", nil
}

// rootMapper maps the deployment's absolute paths under dir, in a word or
// a file's text: a root path is replaced where it starts a path (not
// inside a longer name).
func rootMapper(dir string, roots []string) func(string) string {
	return func(s string) string {
		for _, r := range roots {
			var b strings.Builder
			for {
				i := strings.Index(s, r)
				if i < 0 {
					b.WriteString(s)
					break
				}
				end := i + len(r)
				boundary := end == len(s) || strings.ContainsRune("/\"' :,", rune(s[end]))
				start := i == 0 || !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", rune(s[i-1]))
				b.WriteString(s[:i])
				if boundary && start && !strings.HasPrefix(s[i:], dir) {
					b.WriteString(dir)
				}
				b.WriteString(r)
				s = s[end:]
			}
			s = b.String()
		}
		return s
	}
}

// writeTestApp writes the test app at the import path target names
// (module:attr, module, module:factory()), under dir: packages get an
// __init__.py, a module that is a package (saleor.asgi) gets the app in
// its __init__.py. Files already there (a project's worker class) stay.
func writeTestApp(t *testing.T, dir, target, kind string) {
	t.Helper()
	mod, attr, _ := strings.Cut(target, ":")
	factory := strings.HasSuffix(attr, ")")
	attr, _, _ = strings.Cut(attr, "(")
	if attr == "" {
		attr = "application"
	}
	parts := strings.Split(mod, ".")
	d := dir
	for _, p := range parts[:len(parts)-1] {
		d = filepath.Join(d, p)
		os.MkdirAll(d, 0o755)
		if _, err := os.Stat(filepath.Join(d, "__init__.py")); err != nil {
			os.WriteFile(filepath.Join(d, "__init__.py"), nil, 0o644)
		}
	}
	file := filepath.Join(d, parts[len(parts)-1]+".py")
	if fi, err := os.Stat(filepath.Join(d, parts[len(parts)-1])); err == nil && fi.IsDir() {
		file = filepath.Join(d, parts[len(parts)-1], "__init__.py")
	}
	body := fmt.Sprintf("hello from %s (%s)", target, kind)
	var src string
	if kind == "wsgi" {
		src = fmt.Sprintf(`def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [%q.encode()]
`, body)
	} else {
		src = fmt.Sprintf(`async def _app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": %q.encode()})
`, body)
	}
	if factory {
		src += fmt.Sprintf("\n\ndef %s():\n    return _app\n", attr)
	} else {
		src += fmt.Sprintf("\n\n%s = _app\n", attr)
	}
	if old, err := os.ReadFile(file); err == nil {
		src = string(old) + "\n" + src
	}
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flagValue splits args[i] into a long option's name and value: "--bind
// X" and "--bind=X" alike; short "-b X" too. next reports whether the value
// was the following word.
func flagValue(args []string, i int) (name, value string, next bool) {
	a := args[i]
	if !strings.HasPrefix(a, "-") {
		return "", "", false
	}
	if n, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "--") {
		return n, v, false
	}
	if i+1 < len(args) {
		return a, args[i+1], true
	}
	return a, "", false
}

// servedArgs rewrites args to serve in dir: its addresses become a free
// loopback port or a socket in dir, its certificates test ones, its
// workers one. It returns the new arguments and how to reach the server.
func servedArgs(args []string, dir string, port int, cert, key string) (out []string, unixSock string, useTLS bool) {
	sock := filepath.Join(dir, "serve.sock")
	addr := false
	hostOnly := false
	for i := 0; i < len(args); i++ {
		name, v, next := flagValue(args, i)
		repl := ""
		switch name {
		case "-b", "--bind":
			addr = true
			repl = fmt.Sprintf("127.0.0.1:%d", port)
			if strings.HasPrefix(v, "unix:") {
				repl, unixSock = "unix:"+sock, sock
			}
		case "--host":
			addr, hostOnly, repl = true, true, "127.0.0.1"
		case "--port":
			addr, hostOnly, repl = true, false, fmt.Sprint(port)
		case "--uds":
			addr, repl, unixSock = true, sock, sock
		case "--certfile", "--ssl-certfile", "--ssl-certificate":
			useTLS, repl = true, cert
		case "--keyfile", "--ssl-keyfile":
			repl = key
		}
		if repl == "" {
			out = append(out, args[i])
			continue
		}
		if next {
			out = append(out, args[i], repl)
			i++
		} else {
			out = append(out, name+"="+repl)
		}
	}
	if hostOnly {
		out = append(out, "--port", fmt.Sprint(port))
	}
	if !addr {
		out = append(out, "--bind", fmt.Sprintf("127.0.0.1:%d", port))
	}
	return append(out, "--workers", "1"), unixSock, useTLS
}

// TestRealConfigs reads and serves every entry of the corpus.
func TestRealConfigs(t *testing.T) {
	t.Parallel()
	corpus := loadRealConfigs(t)
	if len(corpus) < 40 {
		t.Fatalf("the corpus has %d entries, fewer than 40", len(corpus))
	}
	seen := map[string]bool{}
	for _, rc := range corpus {
		if seen[rc.ID] || rc.Source == "" || len(rc.Cmd) == 0 {
			t.Fatalf("entry %q: duplicate id, or no source or command", rc.ID)
		}
		seen[rc.ID] = true
		t.Run(rc.ID, func(t *testing.T) { runRealConfig(t, rc) })
	}
}

func runRealConfig(t *testing.T, rc realConfig) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := rootMapper(dir, rc.Root)
	for _, d := range rc.Dirs {
		os.MkdirAll(root(d), 0o755)
	}
	for dest, content := range rc.Files {
		switch {
		case strings.HasPrefix(content, "@@"):
			b, err := os.ReadFile(filepath.Join("testdata", content[2:]))
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
		case strings.HasPrefix(content, "@"):
			b, err := os.ReadFile(filepath.Join("testdata/realconfigs/files", content[1:]))
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
		}
		p := filepath.Join(dir, dest)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(root(content)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pki := newPKI(t)
	cert, key, _ := pki.issue("server", "localhost", []string{"localhost"}, false)
	for role, path := range rc.TLS {
		src := map[string]string{"cert": cert, "key": key}[role]
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("tls %q: %v", role, err)
		}
		p := root(path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o600)
	}
	vars := map[string]string{}
	python := pythonBin
	if rc.BarePython {
		python = filepath.Join(dir, "python-bare")
		os.WriteFile(python, []byte(fmt.Sprintf("#!/bin/sh\nexec %s -S \"$@\"\n", pythonBin)), 0o755)
	}
	env := cliEnv("GOWSGI_PYTHON=" + python)
	for k, v := range rc.Env {
		vars[k] = root(v)
		env = append(env, k+"="+root(v))
	}
	words := expandWords(rc.Cmd, vars)
	for i, w := range words {
		words[i] = root(w)
	}
	server, args := serverArgs(t, words)

	// Read as written.
	code, out, errOut := gowsgiIn(t, dir, env, append(args, "--print-config", "--json")...)
	if rc.Refused != "" {
		if code != 2 || !strings.Contains(errOut, rc.Refused) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s %q: exit %d, stderr %q; want exit 2 and one line with %q", server, args, code, errOut, rc.Refused)
		}
		return
	}
	if code != 0 {
		t.Fatalf("%s %q (from %s): exit %d\nstderr:\n%s", server, args, rc.Source, code, errOut)
	}
	var printed struct {
		Settings []printedSetting `json:"settings"`
		Warnings []string         `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &printed); err != nil {
		t.Fatalf("--print-config --json: %v\n%s", err, out)
	}
	byName := map[string]printedSetting{}
	for _, s := range printed.Settings {
		byName[s.Name] = s
	}
	for name, want := range rc.Expect {
		if got := jsonText(byName[name].Value); got != jsonText(want) {
			t.Errorf("%s: %s, want %s (from %s)", name, got, jsonText(want), byName[name].Source)
		}
	}
	for _, w := range printed.Warnings {
		ok := false
		for _, n := range rc.Notices {
			ok = ok || strings.Contains(w, n)
		}
		if !ok || strings.Contains(w, "\n") {
			t.Errorf("unexpected notice: %q", w)
		}
	}
	for _, n := range rc.Notices {
		ok := false
		for _, w := range printed.Warnings {
			ok = ok || strings.Contains(w, n)
		}
		if !ok {
			t.Errorf("no notice with %q; notices: %q", n, printed.Warnings)
		}
	}
	target, _ := byName["app"].Value.(string)
	chdir, _ := byName["chdir"].Value.(string)
	if chdir == "" {
		chdir = dir
	}
	if target == "" {
		t.Fatalf("no app in %q", args)
	}
	kind := rc.App
	if kind == "" {
		kind = "asgi"
	}
	if strings.HasPrefix(target, "/") || strings.HasSuffix(strings.SplitN(target, ":", 2)[0], ".py") {
		t.Fatalf("target %q: the corpus names apps by import path", target)
	}
	writeTestApp(t, chdir, target, kind)

	// Served.
	if rc.Serve != nil && !*rc.Serve {
		if rc.Why == "" {
			t.Errorf("serve false without a why")
		}
		return
	}
	port := freePort(t)
	sargs, sock, useTLS := servedArgs(args, dir, port, cert, key)
	useTLS = useTLS || len(rc.TLS) > 0
	plain := 0
	if rc.InsecureBind {
		plain = freePort(t)
		sargs = append(sargs, "--insecure-bind", fmt.Sprintf("127.0.0.1:%d", plain))
	}
	scheme := "http"
	tr := &http.Transport{DisableKeepAlives: true}
	if useTLS {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}
	}
	network, addr := "tcp", fmt.Sprintf("127.0.0.1:%d", port)
	if sock != "" {
		network, addr = "unix", sock
	}
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	s := startListening(t, dir, env, network, addr, sargs...)
	c := &http.Client{Timeout: 20 * time.Second, Transport: tr}
	url := fmt.Sprintf("%s://localhost:%d/", scheme, port)
	if root := jsonText(byName["root-path"].Value); root != "null" && root != `""` {
		url += strings.Trim(root, `"/`) + "/"
	}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v\nstderr:\n%s", url, err, s.Stderr)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("hello from %s (%s)", target, kind); resp.StatusCode != 200 || string(body) != want {
		t.Errorf("GET %s: %s %q, want 200 %q\nstderr:\n%s", url, resp.Status, body, want, s.Stderr)
	}
	if plain != 0 {
		url := fmt.Sprintf("http://127.0.0.1:%d/", plain)
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v\nstderr:\n%s", url, err, s.Stderr)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("hello from %s (%s)", target, kind); resp.StatusCode != 200 || string(body) != want {
			t.Errorf("GET %s: %s %q, want 200 %q", url, resp.Status, body, want)
		}
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM\nstderr:\n%s", code, s.Stderr)
	}
}

// startListening runs gowsgi with exactly args in dir and waits until addr
// accepts connections: the log may be elsewhere (an errorlog file) or
// quieter than info, so its listening line is not waited for.
func startListening(t *testing.T, dir string, env []string, network, addr string, args ...string) *Server {
	t.Helper()
	return runAsWritten(t, dir, addr, env, args, func(*Server) bool {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// TestConfigStandIns: a config file that imports gunicorn and uvicorn,
// where they are not installed (the workers' Python runs with -S), is read
// and its hooks run, with stand-ins for those packages during its
// execution only: the app's own `import gunicorn` still fails, as it
// would without gowsgi. A hook that reads server.WORKERS (immich's
// pre_fork) runs.
func TestConfigStandIns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bare := filepath.Join(dir, "python-bare")
	os.WriteFile(bare, []byte(fmt.Sprintf("#!/bin/sh\nexec %s -S \"$@\"\n", pythonBin)), 0o755)
	os.WriteFile(filepath.Join(dir, "gunicorn.conf.py"), []byte(`import os
from gunicorn.arbiter import Arbiter
from uvicorn.workers import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {"lifespan": "off"}


worker_class = Worker


def pre_fork(arbiter: Arbiter, worker):
    os.environ["DEVICE"] = str(len(arbiter.WORKERS) % 1)


def post_fork(server, worker):
    open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "post_fork"), "w").close()
`), 0o644)
	os.WriteFile(filepath.Join(dir, "main.py"), []byte(`async def app(scope, receive, send):
    try:
        import gunicorn
        found = "gunicorn: " + type(gunicorn).__name__
    except ImportError:
        found = "gunicorn: absent"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": found.encode()})
`), 0o644)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := startListening(t, dir, cliEnv("GOWSGI_PYTHON="+bare), "tcp", addr, "-b", addr, "-w", "1", "main:app")
	resp, err := client().Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET: %v\nstderr:\n%s", err, s.Stderr)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "gunicorn: absent" {
		t.Errorf("the app saw %q, want gunicorn: absent", body)
	}
	if !waitFor(10*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "post_fork")); return err == nil }) {
		t.Errorf("post_fork did not run\nstderr:\n%s", s.Stderr)
	}
	if strings.Contains(s.Stderr.String(), "Exception in") {
		t.Errorf("a hook failed:\n%s", s.Stderr)
	}
	if code := s.Stop(); code != 0 {
		t.Errorf("exit %d\nstderr:\n%s", code, s.Stderr)
	}
}
