package config

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// TestUvicornCommandLine reads uvicorn's command line as real Dockerfiles
// write it: every value lands where uvicorn puts it.
func TestUvicornCommandLine(t *testing.T) {
	c := mustParse(t, []string{"main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "4", "--proxy-headers",
		"--forwarded-allow-ips", "*", "--root-path", "/api", "--lifespan", "on", "--limit-concurrency", "500",
		"--timeout-keep-alive", "7", "--ssl-keyfile", "K", "--ssl-certfile", "C", "--log-level", "info", "--no-access-log"}, nil)
	if c.Target != "main:app" || bindSpecs(c.Binds) != "tcp 0.0.0.0:8000" || c.Workers != 4 {
		t.Errorf("target %q binds %s workers %d", c.Target, bindSpecs(c.Binds), c.Workers)
	}
	if strings.Join(c.ForwardedAllowIPs.Items(), ",") != "*" || c.RootPath != "/api" || c.Lifespan != "on" || c.LimitConcurrency != 500 {
		t.Errorf("fwd %v root %q lifespan %q limit %d", c.ForwardedAllowIPs, c.RootPath, c.Lifespan, c.LimitConcurrency)
	}
	if c.KeepAlive != 7*time.Second || strings.Join(c.KeyFiles, ",") != "K" || strings.Join(c.CertFiles, ",") != "C" || c.AccessLog.To != OutputOff {
		t.Errorf("keep-alive %v key %v cert %v access %+v", c.KeepAlive, c.KeyFiles, c.CertFiles, c.AccessLog)
	}
	if c.Interface != "auto" || c.Loop != "auto" || len(c.Warnings) != 0 {
		t.Errorf("interface %q loop %q warnings %q", c.Interface, c.Loop, c.Warnings)
	}

	// The rest of uvicorn's options that map onto gowsgi's.
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	os.WriteFile(envFile, []byte("# comment\nexport A=1\nB='two words'\nC=\"x\\ny\"\nD=plain # trailing\n\n"), 0o644)
	c = mustParse(t, []string{"main:create_app", "--uds", "/tmp/app.sock", "--reload", "--env-file", envFile, "-e", "A=9",
		"--limit-max-requests", "100", "--timeout-graceful-shutdown", "3", "--backlog", "64", "--app-dir", "src",
		"--factory", "--interface", "asgi3", "--loop", "uvloop", "--log-level", "trace", "--ssl-cert-reqs", "1",
		"--ssl-ca-certs", "ca.pem", "--ssl-version", "17", "--no-proxy-headers", "--log-config", "log.json"}, nil)
	if bindSpecs(c.Binds) != "unix /tmp/app.sock" || !c.Reload || c.MaxRequests != 100 || c.GracefulTimeout != 3*time.Second || c.Backlog != 64 {
		t.Errorf("binds %s reload %v max requests %d graceful %v backlog %d", bindSpecs(c.Binds), c.Reload, c.MaxRequests, c.GracefulTimeout, c.Backlog)
	}
	if got := strings.Join(c.Env, "|"); got != "A=1|B=two words|C=x\ny|D=plain|A=9" {
		t.Errorf("env %q", got)
	}
	if c.Target != "main:create_app()" || strings.Join(c.PythonPath, ",") != "src" || c.Interface != "asgi" || c.Loop != "uvloop" {
		t.Errorf("target %q pythonpath %v interface %q loop %q", c.Target, c.PythonPath, c.Interface, c.Loop)
	}
	if c.CertReqs != 1 || c.CACerts != "ca.pem" || len(c.ForwardedAllowIPs.Items()) != 0 || c.LogConfigJSON != "log.json" || c.LogConfig != "" {
		t.Errorf("cert reqs %d ca %q fwd %v log config %q/%q", c.CertReqs, c.CACerts, c.ForwardedAllowIPs, c.LogConfig, c.LogConfigJSON)
	}
	// --fd, and --port alone (host 127.0.0.1, as uvicorn's) replacing $PORT's default.
	if c = mustParse(t, []string{"a", "--fd", "3"}, nil); bindSpecs(c.Binds) != "fd 3" {
		t.Errorf("--fd: %s", bindSpecs(c.Binds))
	}
	if c = mustParse(t, []string{"a", "--port", "9001"}, map[string]string{"PORT": "5000"}); bindSpecs(c.Binds) != "tcp 127.0.0.1:9001" {
		t.Errorf("--port over $PORT: %s", bindSpecs(c.Binds))
	}
	// --host alone listens on uvicorn's (and granian's) default port, 8000:
	// neither reads $PORT, which is gunicorn's default bind only.
	if c = mustParse(t, []string{"a", "--host", "::"}, map[string]string{"PORT": "5000"}); bindSpecs(c.Binds) != "tcp [::]:8000" {
		t.Errorf("--host :: with $PORT: %s", bindSpecs(c.Binds))
	}
	// --bind and --host/--port on the same command line: both; a stronger --bind wins.
	if c = mustParse(t, []string{"a", "-b", "unix:/tmp/x", "--port", "9002"}, nil); bindSpecs(c.Binds) != "unix /tmp/x,tcp 127.0.0.1:9002" {
		t.Errorf("--bind with --port: %s", bindSpecs(c.Binds))
	}
	if c = mustParse(t, []string{"a", "-b", ":1"}, map[string]string{"GOWSGI_PORT": "9003"}); bindSpecs(c.Binds) != "tcp :1" {
		t.Errorf("--bind over GOWSGI_PORT: %s", bindSpecs(c.Binds))
	}

	// Options gowsgi has no setting for: one notice each, one line.
	c = mustParse(t, []string{"a", "--ws", "websockets", "--ws-max-queue", "100", "--use-colors", "--no-server-header",
		"--header", "X-A:b", "--http", "httptools", "--reload-dir", "src", "--ws-max-size", "1000"}, nil)
	for _, want := range []string{"--ws: accepted; gowsgi serves WebSockets itself", "--ws-max-queue:", "--use-colors:",
		"--http: httptools is uvicorn's HTTP parser", "--reload-dir:"} {
		if !containsPrefix(c.Warnings, want) {
			t.Errorf("no notice %q in %q", want, c.Warnings)
		}
	}
	if len(c.Warnings) != 5 {
		t.Errorf("%d notices, want 5: %q", len(c.Warnings), c.Warnings)
	}
	// uvicorn's response-header options are gowsgi's own.
	if d := c.ResponseHeaders; !d.NoServer || d.NoDate || len(d.Extra) != 1 || d.Extra[0] != (http1.Field{Name: "X-A", Value: "b"}) {
		t.Errorf("--no-server-header --header X-A:b: %+v", d)
	}
	// uvicorn's WebSocket settings are gowsgi's own (settings_ws.go).
	if c.WS.MaxSize != 1000 || c.WS.PingInterval != 20*time.Second || c.WS.PingTimeout != 20*time.Second || !c.WS.PerMessageDeflate {
		t.Errorf("WebSocket settings %+v", c.WS)
	}
	if c = mustParse(t, []string{"a", "--ws-ping-interval", "0", "--ws-ping-timeout", "2.5", "--ws-per-message-deflate", "false"}, nil); c.WS.PingInterval != 0 || c.WS.PingTimeout != 2500*time.Millisecond || c.WS.PerMessageDeflate || len(c.Warnings) != 0 {
		t.Errorf("WebSocket settings %+v, warnings %q", c.WS, c.Warnings)
	}
	if c = mustParse(t, []string{"a", "--ws", "none", "--no-use-colors", "--server-header", "--http", "auto"}, nil); len(c.Warnings) != 0 {
		t.Errorf("notices for options that ask for nothing: %q", c.Warnings)
	}
}

// TestResponseHeaderOptions reads --server-header, --date-header and
// --header from the command line and uvicorn's environment, and refuses a
// --header that cannot be sent.
func TestResponseHeaderOptions(t *testing.T) {
	c := mustParse(t, []string{"a"}, nil)
	if d := c.ResponseHeaders; d.NoServer || d.NoDate || len(d.Extra) != 0 {
		t.Errorf("defaults: %+v", d)
	}
	c = mustParse(t, []string{"a", "--no-date-header", "--header", "x-frame-options: DENY", "--header=Cache-Control:no-store, private"},
		map[string]string{"UVICORN_SERVER_HEADER": "false"})
	want := []http1.Field{{Name: "x-frame-options", Value: "DENY"}, {Name: "Cache-Control", Value: "no-store, private"}}
	if d := c.ResponseHeaders; !d.NoServer || !d.NoDate || !slices.Equal(d.Extra, want) {
		t.Errorf("%+v", d)
	}
	if c = mustParse(t, []string{"a", "--server-header=false", "--server-header"}, map[string]string{"UVICORN_HEADERS": "A:1 B:2"}); c.ResponseHeaders.NoServer || len(c.ResponseHeaders.Extra) != 2 {
		t.Errorf("the last --server-header wins; UVICORN_HEADERS (uvicorn's parameter is headers) splits on spaces: %+v", c.ResponseHeaders)
	}
	for _, bad := range []string{"novalue", "bad name:x", ":x"} {
		if _, err := Parse([]string{"a", "--header", bad}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "--header") {
			t.Errorf("--header %q: %v", bad, err)
		}
	}
}

// TestGranianCommandLine reads granian's spellings.
func TestGranianCommandLine(t *testing.T) {
	static := t.TempDir()
	c := mustParse(t, []string{"--interface", "asginl", "--host", "0.0.0.0", "--port", "8080", "--workers", "2", "--blocking-threads", "3",
		"--backpressure", "64", "--http", "1", "--url-path-prefix", "/p", "--ssl-certificate", "c.pem", "--ssl-keyfile", "k.pem",
		"--ssl-ca", "ca.pem", "--ssl-client-verify", "--static-path-mount", static, "--http1-header-read-timeout", "2500",
		"--workers-max-rss", "256", "--working-dir", static, "--pid-file", "g.pid", "--process-name", "web", "--no-ws",
		"--respawn-failed-workers", "--access-log", "main:app"}, nil)
	if c.Target != "main:app" || c.Interface != "asgi" || c.Lifespan != "off" || bindSpecs(c.Binds) != "tcp 0.0.0.0:8080" || c.Workers != 2 || c.Threads != 3 {
		t.Errorf("target %q interface %q lifespan %q binds %s workers %d threads %d", c.Target, c.Interface, c.Lifespan, bindSpecs(c.Binds), c.Workers, c.Threads)
	}
	if c.LimitConcurrency != 64 || (len(c.HTTPProtocols) != 1 || c.HTTPProtocols[0] != HTTP1) || c.RootPath != "/p" || c.CertReqs != 2 || c.CACerts != "ca.pem" {
		t.Errorf("limit %d protocols %v root %q cert reqs %d", c.LimitConcurrency, c.HTTPProtocols, c.RootPath, c.CertReqs)
	}
	if len(c.Static) != 1 || c.Static[0].Prefix != "/static" || c.Static[0].Dir != static || c.StaticMaxAge != 86400*time.Second {
		t.Errorf("static %+v max age %v", c.Static, c.StaticMaxAge)
	}
	if c.HeaderTimeout != 2500*time.Millisecond || c.MaxMemory != 256<<20 || c.Chdir != static || c.PidFile != "g.pid" || c.ProcName != "web" {
		t.Errorf("header timeout %v max memory %d chdir %q pid %q name %q", c.HeaderTimeout, c.MaxMemory, c.Chdir, c.PidFile, c.ProcName)
	}
	if c.AccessLog.To != OutputStdout || len(c.Warnings) != 0 {
		t.Errorf("access log %+v; warnings %q", c.AccessLog, c.Warnings)
	}
	// --lifespan given with asginl wins; --access-log before an option is stdout; FILE still a file.
	c = mustParse(t, []string{"a", "--interface", "asginl", "--lifespan", "on", "--access-log", "--workers", "1", "--loop", "rloop"}, nil)
	if c.Lifespan != "on" || c.AccessLog.To != OutputStdout || c.Loop != "auto" || !containsPrefix(c.Warnings, "--loop: rloop is not offered") {
		t.Errorf("lifespan %q access %+v loop %q warnings %q", c.Lifespan, c.AccessLog, c.Loop, c.Warnings)
	}
	if c = mustParse(t, []string{"a", "--access-log", "acc.log"}, nil); c.AccessLog.To != OutputFile {
		t.Errorf("--access-log FILE: %+v", c.AccessLog)
	}
	c = mustParse(t, []string{"a", "--runtime-threads", "4", "--no-http1-keep-alive", "--workers-lifetime", "3600"}, nil)
	if len(c.Warnings) != 3 {
		t.Errorf("granian notices: %q", c.Warnings)
	}
}

func TestASGISettingErrors(t *testing.T) {
	for args, want := range map[string]string{
		"a --interface rsgi":             "--interface: rsgi is granian's own interface",
		"a --interface cgi":              `--interface: "cgi": expected auto, wsgi or asgi`,
		"a --lifespan maybe":             `--lifespan: "maybe": expected auto, on or off`,
		"a --loop trio":                  `--loop: "trio": expected auto, asyncio or uvloop`,
		"a --limit-concurrency -1":       "--limit-concurrency:",
		"a --port 70000":                 "--port: \"70000\" is not a port number",
		"a --http 3":                     `--http: "3": expected auto, 1 or 2`,
		"a --env-file /no/such/.env":     "--env-file: cannot read /no/such/.env: no such file or directory",
		"a --ssl-keyfile-password pw":    "--ssl-keyfile-password: gowsgi cannot read encrypted private keys",
		"a --ssl-crl crl.pem":            "--ssl-crl: gowsgi does not check certificate revocation lists",
		"app --factory":                  "--factory: TARGET app must name the factory as module:function",
		"a --log-config /no/log.yaml":    "--log-config /no/log.yaml: cannot read it: no such file or directory",
		"a --asgi-loop nope":             `--asgi-loop: "nope": expected auto, asyncio or uvloop`,
		"a -k aiohttp.GunicornWebWorker": "worker class aiohttp.GunicornWebWorker serves aiohttp's own web.Application",
	} {
		_, err := parse(t, strings.Fields(args), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", args, err, want)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: the error is more than one line: %q", args, err)
		}
	}
	bad := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(bad, []byte("A=1\nnot a line\n"), 0o644)
	if _, err := parse(t, []string{"a", "--env-file", bad}, nil); err == nil || !strings.Contains(err.Error(), ".env:2: expected KEY=VALUE") {
		t.Errorf("bad .env: %v", err)
	}
}

// TestPeerSpellingsAreNotAbbreviations: gunicorn's argparse-style
// abbreviations never expand to uvicorn's or granian's options, and every
// one of those is an exact flag, so none is read as an abbreviation.
func TestPeerSpellingsAreNotAbbreviations(t *testing.T) {
	c := mustParse(t, strings.Fields("a --back 64 --limit-request-l 100"), nil) // not --backpressure, --limit-concurrency
	if c.Backlog != 64 || c.MaxRequestLine != 100 || c.LimitConcurrency != 0 {
		t.Errorf("backlog %d request line %d limit %d", c.Backlog, c.MaxRequestLine, c.LimitConcurrency)
	}
	fs := flagSet(newLayer(srcFlag), "")
	for _, s := range settings {
		if s.peer == nil {
			continue
		}
		for _, fl := range append(append([]string(nil), s.peer.uvicorn...), s.peer.granian...) {
			if fs.Lookup(strings.TrimPrefix(fl, "--")) == nil {
				t.Errorf("%s is not a flag", fl)
			}
		}
	}
}

// TestWorkerClassesByName: the classes gowsgi knows by name, with no
// import.
func TestWorkerClassesByName(t *testing.T) {
	for _, k := range []string{"uvicorn.workers.UvicornWorker", "uvicorn_worker.UvicornWorker", "asgi", "egg:gunicorn#asgi", "gunicorn.workers.gasgi.ASGIWorker"} {
		c := mustParse(t, []string{"a", "-k", k, "--python", "/no/such/python"}, nil)
		if c.Interface != "asgi" || c.Loop != "auto" || c.LimitConcurrency != 0 || len(c.Warnings) != 0 {
			t.Errorf("-k %s: interface %q loop %q limit %d warnings %q", k, c.Interface, c.Loop, c.LimitConcurrency, c.Warnings)
		}
	}
	for k, loop := range map[string]EventLoop{"uvicorn.workers.UvicornH11Worker": "asyncio", "uvicorn_worker.UvicornH11Worker": "asyncio", "uvloop": "uvloop"} {
		if c := mustParse(t, []string{"a", "-k", k}, nil); c.Interface != "asgi" || c.Loop != loop {
			t.Errorf("-k %s: interface %q loop %q", k, c.Interface, c.Loop)
		}
	}
	// worker_connections bounds requests in flight for ASGI classes; --limit-concurrency wins.
	c := mustParse(t, strings.Fields("a -k uvicorn.workers.UvicornWorker --worker-connections 300"), nil)
	if c.LimitConcurrency != 300 || c.Threads != 1 || len(c.Warnings) != 0 {
		t.Errorf("worker connections: limit %d threads %d %q", c.LimitConcurrency, c.Threads, c.Warnings)
	}
	if c = mustParse(t, strings.Fields("a -k asgi --worker-connections 300 --limit-concurrency 20"), nil); c.LimitConcurrency != 20 {
		t.Errorf("--limit-concurrency with --worker-connections: %d", c.LimitConcurrency)
	}
	// --interface given wins over the class (uvicorn's worker serves WSGI with interface=wsgi).
	if c = mustParse(t, strings.Fields("a -k uvicorn.workers.UvicornWorker --interface wsgi"), nil); c.Interface != "wsgi" {
		t.Errorf("--interface wsgi with a uvicorn class: %q", c.Interface)
	}
	// meinheld maps as gevent does.
	c = mustParse(t, strings.Fields("a -k meinheld.gmeinheld.MeinheldWorker --worker-connections 16"), nil)
	if c.Threads != 16 || c.Interface != "auto" || !containsPrefix(c.Warnings, "worker class meinheld.gmeinheld.MeinheldWorker: running 16 threads") {
		t.Errorf("meinheld: threads %d interface %q %q", c.Threads, c.Interface, c.Warnings)
	}
}

// workerClasses is tests/testdata/workerclasses: worker classes of real
// projects, cut down.
func workerClasses(t *testing.T) string {
	dir, err := filepath.Abs("../../tests/testdata/workerclasses")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWorkerClassProbe imports projects' own worker classes, with
// stand-ins for gunicorn, uvicorn, meinheld and gevent (not installed for
// the tests' python3) and with installed (fake) gunicorn and uvicorn
// packages, and runs each as the class it derives from.
func TestWorkerClassProbe(t *testing.T) {
	dir := workerClasses(t)
	for _, setup := range []struct {
		name string
		path string
	}{{"stand-ins", dir}, {"installed", filepath.Join(dir, "installed") + "," + dir}} {
		t.Run(setup.name, func(t *testing.T) {
			args := func(k string, more ...string) []string {
				return append([]string{"app:app", "-k", k, "--pythonpath", setup.path}, more...)
			}
			c := mustParse(t, args("paperless.workers.ConfigurableWorker", "-e", "PAPERLESS_FORCE_SCRIPT_NAME=/paperless"), nil)
			if c.Interface != "asgi" || c.RootPath != "/paperless" || len(c.Warnings) != 1 ||
				!strings.HasPrefix(c.Warnings[0], "worker class paperless.workers.ConfigurableWorker: runs as uvicorn.workers.UvicornWorker") {
				t.Errorf("paperless: interface %q root %q %q", c.Interface, c.RootPath, c.Warnings)
			}
			c = mustParse(t, args("saleor.asgi.gunicorn_worker.UvicornWorker"), nil)
			if c.Interface != "asgi" || c.Loop != "uvloop" || c.Lifespan != "off" || len(c.Warnings) != 1 {
				t.Errorf("saleor: interface %q loop %q lifespan %q %q", c.Interface, c.Loop, c.Lifespan, c.Warnings)
			}
			c = mustParse(t, args("lifecycle.worker.DjangoUvicornWorker", "--graceful-timeout", "30"), nil)
			if c.Interface != "asgi" || c.Loop != "uvloop" || c.Lifespan != "off" || c.GracefulTimeout != 30*time.Second ||
				!containsPrefix(c.Warnings, `worker class lifecycle.worker.DjangoUvicornWorker CONFIG_KWARGS[ws] = "wsproto": accepted; gowsgi serves WebSockets itself`) {
				t.Errorf("authentik: interface %q loop %q lifespan %q graceful %v %q", c.Interface, c.Loop, c.Lifespan, c.GracefulTimeout, c.Warnings)
			}
			// Given in a weaker place (the environment), the class's value wins.
			c = mustParse(t, args("lifecycle.worker.DjangoUvicornWorker"), map[string]string{"GOWSGI_GRACEFUL_TIMEOUT": "30"})
			if c.GracefulTimeout != 10*time.Second {
				t.Errorf("authentik's timeout_graceful_shutdown: %v", c.GracefulTimeout)
			}
			c = mustParse(t, args("ichnaea.webapp.worker.LocationGeventWorker", "--worker-connections", "8"), nil)
			if c.Threads != 8 || c.Interface != "auto" || !containsPrefix(c.Warnings, "worker class ichnaea.webapp.worker.LocationGeventWorker: runs as gunicorn.workers.ggevent.GeventWorker") ||
				!containsPrefix(c.Warnings, "worker class ichnaea.webapp.worker.LocationGeventWorker: running 8 threads") {
				t.Errorf("ichnaea: threads %d interface %q %q", c.Threads, c.Interface, c.Warnings)
			}
			for _, w := range c.Warnings {
				if strings.Contains(w, "\n") {
					t.Errorf("notice of several lines: %q", w)
				}
			}
		})
	}
	args := func(k string, more ...string) []string {
		return append([]string{"app:app", "-k", k, "--pythonpath", dir}, more...)
	}
	c := mustParse(t, args("projworkers.FastWorker"), nil)
	if c.Threads != 64 || !containsPrefix(c.Warnings, "worker class projworkers.FastWorker: runs as meinheld.gmeinheld.MeinheldWorker") {
		t.Errorf("meinheld subclass: threads %d %q", c.Threads, c.Warnings)
	}
	if c = mustParse(t, args("projworkers.H11Worker"), nil); c.Interface != "asgi" || c.Loop != "asyncio" {
		t.Errorf("H11 subclass: interface %q loop %q", c.Interface, c.Loop)
	}
	c = mustParse(t, args("projworkers.ProxiedWorker", "--forwarded-allow-ips", "10.9.9.9"), map[string]string{"GOWSGI_KEEP_ALIVE": "2"})
	if c.LimitConcurrency != 50 || c.KeepAlive != 9*time.Second || len(c.ForwardedAllowIPs.Items()) != 0 {
		t.Errorf("CONFIG_KWARGS: limit %d keep-alive %v fwd %v (proxy_headers False believes no peer)", c.LimitConcurrency, c.KeepAlive, c.ForwardedAllowIPs)
	}
	if h := c.ResponseHeaders.Extra; len(h) != 1 || h[0].Name != "x-a" || h[0].Value != "b" || len(c.Warnings) != 1 {
		t.Errorf("CONFIG_KWARGS[headers] is uvicorn's --header: %v; notices %q", h, c.Warnings)
	}
	c = mustParse(t, args("projworkers.ProxiedWorker", "--proxy-headers"), nil) // the flag beats the class
	if strings.Join(c.ForwardedAllowIPs.Items(), ",") != "10.0.0.1,10.0.0.2" {
		t.Errorf("forwarded_allow_ips from the class: %v", c.ForwardedAllowIPs)
	}
	// Every CONFIG_KWARGS key a uvicorn option spells is read as that
	// option; one whose value asks for nothing (reload False) is silent.
	c = mustParse(t, args("projworkers.QuietWorker"), nil)
	if c.AccessLog.To != OutputOff || c.Reload || c.Backlog != 32 || c.Loop != "uvloop" || len(c.Warnings) != 1 {
		t.Errorf("QuietWorker: access %+v reload %v backlog %d loop %q %q", c.AccessLog, c.Reload, c.Backlog, c.Loop, c.Warnings)
	}
	if c = mustParse(t, args("projworkers.FactoryWorker"), nil); c.Target != "app:app()" || len(c.Warnings) != 1 {
		t.Errorf("FactoryWorker: target %q %q", c.Target, c.Warnings)
	}
	// reload, host, uds... mean nothing in a worker class, under gunicorn too.
	c = mustParse(t, args("projworkers.LoudWorker"), nil)
	if c.LogLevel != slog.LevelDebug || c.Lifespan != "on" || c.Reload || len(c.Warnings) != 3 ||
		!containsPrefix(c.Warnings, "worker class projworkers.LoudWorker CONFIG_KWARGS[use_colors] = true: gowsgi's log has no colours") ||
		!containsPrefix(c.Warnings, "worker class projworkers.LoudWorker CONFIG_KWARGS[reload] = true ignored: the server reloads the workers") {
		t.Errorf("LoudWorker: level %v lifespan %q reload %v %q", c.LogLevel, c.Lifespan, c.Reload, c.Warnings)
	}
	// Python values: a logging dict, logging.DEBUG.
	c = mustParse(t, args("projworkers.DictLogWorker"), nil)
	if c.LogConfigDict != `{"disable_existing_loggers":false,"loggers":{"uvicorn.error":{"level":"INFO"}},"version":1}` || c.LogLevel != slog.LevelDebug ||
		len(c.Warnings) != 2 || !containsPrefix(c.Warnings, "worker class projworkers.DictLogWorker: CONFIG_KWARGS[timeout_notify] = 300 ignored") {
		t.Errorf("DictLogWorker: dict %q level %v %q", c.LogConfigDict, c.LogLevel, c.Warnings)
	}
	c = mustParse(t, args("projworkers.BareWorker"), nil)
	if !c.ResponseHeaders.NoServer || !c.ResponseHeaders.NoDate || c.AccessLog.To != OutputOff || c.WS.PingInterval != 20*time.Second ||
		c.WS.PingTimeout != 30*time.Second || c.Lifespan != "on" || len(c.Warnings) != 1 {
		t.Errorf("BareWorker: headers %+v access %+v ws %+v lifespan %q %q", c.ResponseHeaders, c.AccessLog, c.WS, c.Lifespan, c.Warnings)
	}
	for k, want := range map[string]string{
		"projworkers.Plain":       "--worker-class: worker class projworkers.Plain derives from none of the worker classes gowsgi stands in for",
		"projworkers.Nothing":     "its bases are builtins.object",
		"projworkers.not_a_class": "worker class projworkers.not_a_class: cannot import it: projworkers.not_a_class is a int, not a class",
		"projworkers.Missing":     "cannot import it: AttributeError: module 'projworkers' has no attribute 'Missing'",
		"nosuch.module.Worker":    "cannot import it: ModuleNotFoundError: No module named 'nosuch'",
	} {
		_, err := parse(t, args(k), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("-k %s: got %v, want %q", k, err, want)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("-k %s: more than one line: %q", k, err)
		}
	}
}

// TestPeerEnvironment: uvicorn's UVICORN_* and granian's GRANIAN_*
// variables, as their click command lines read them; GOWSGI_* wins.
func TestPeerEnvironment(t *testing.T) {
	c := mustParse(t, []string{"main:app"}, map[string]string{"UVICORN_HOST": "0.0.0.0", "UVICORN_PORT": "9000", "PORT": "5000",
		"UVICORN_PROXY_HEADERS": "false", "UVICORN_ACCESS_LOG": "false", "UVICORN_LIFESPAN": "off", "UVICORN_WORKERS": "3",
		"GRANIAN_BACKPRESSURE": "10", "GRANIAN_WEBSOCKETS": "true", "GOWSGI_WORKERS": "5"})
	if bindSpecs(c.Binds) != "tcp 0.0.0.0:9000" || len(c.ForwardedAllowIPs.Items()) != 0 || c.AccessLog.To != OutputOff || c.Lifespan != "off" {
		t.Errorf("binds %s fwd %v access %+v lifespan %q", bindSpecs(c.Binds), c.ForwardedAllowIPs, c.AccessLog, c.Lifespan)
	}
	if c.Workers != 5 || c.LimitConcurrency != 10 || !containsPrefix(c.Warnings, "GRANIAN_WEBSOCKETS: accepted; gowsgi serves WebSockets itself") {
		t.Errorf("workers %d limit %d warnings %q", c.Workers, c.LimitConcurrency, c.Warnings)
	}
	// A flag wins over them.
	if c = mustParse(t, []string{"main:app", "--port", "9100"}, map[string]string{"UVICORN_PORT": "9000"}); bindSpecs(c.Binds) != "tcp 127.0.0.1:9100" {
		t.Errorf("--port over UVICORN_PORT: %s", bindSpecs(c.Binds))
	}
	// uvicorn's parameter names: UVICORN_APP (uvicorn 0.18+) is the app,
	// UVICORN_HEADERS (not UVICORN_HEADER) --header, UVICORN_RELOAD_DIRS
	// --reload-dir; granian 1's GRANIAN_LOOP_OPT is --opt.
	c = mustParse(t, nil, map[string]string{"UVICORN_APP": "main:app", "UVICORN_HEADERS": "X-A:1", "UVICORN_RELOAD_DIRS": "src",
		"GRANIAN_LOOP_OPT": "true"})
	if c.Target != "main:app" || len(c.ResponseHeaders.Extra) != 1 || !containsPrefix(c.Warnings, "UVICORN_RELOAD_DIRS: gowsgi watches") ||
		!containsPrefix(c.Warnings, "GRANIAN_LOOP_OPT: granian 1's loop optimizations") {
		t.Errorf("target %q headers %v warnings %q", c.Target, c.ResponseHeaders.Extra, c.Warnings)
	}
	if c = mustParse(t, []string{"other:app"}, map[string]string{"UVICORN_APP": "main:app"}); c.Target != "other:app" {
		t.Errorf("TARGET over UVICORN_APP: %q", c.Target)
	}
	// They rank below every gunicorn source: a config file's bind is kept
	// when a stray UVICORN_PORT is in the environment.
	dir := t.TempDir()
	conf := filepath.Join(dir, "gunicorn.conf.py")
	os.WriteFile(conf, []byte("bind = '127.0.0.1:7000'\nworkers = 2\n"), 0o644)
	c = mustParse(t, []string{"main:app", "-c", conf}, map[string]string{"UVICORN_PORT": "9000", "UVICORN_WORKERS": "3", "UVICORN_LOG_LEVEL": "debug"})
	if bindSpecs(c.Binds) != "tcp 127.0.0.1:7000" || c.Workers != 2 || c.LogLevel != slog.LevelDebug {
		t.Errorf("config file over UVICORN_*: binds %s workers %d level %v", bindSpecs(c.Binds), c.Workers, c.LogLevel)
	}
	// UVICORN_WORKERS beats WEB_CONCURRENCY, as in uvicorn.
	if c = mustParse(t, []string{"main:app"}, map[string]string{"UVICORN_WORKERS": "3", "WEB_CONCURRENCY": "5"}); c.Workers != 3 {
		t.Errorf("UVICORN_WORKERS over WEB_CONCURRENCY: %d", c.Workers)
	}
}

// TestYAMLLogConfig: uvicorn's --log-config log.yaml becomes the dict
// dictConfig takes.
func TestYAMLLogConfig(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log.yaml")
	os.WriteFile(f, []byte("version: 1\ndisable_existing_loggers: false\nloggers:\n  uvicorn.error:\n    level: INFO\n"), 0o644)
	c := mustParse(t, []string{"a", "--log-config", f}, nil)
	if c.LogConfig != "" || c.LogConfigDict != `{"disable_existing_loggers":false,"loggers":{"uvicorn.error":{"level":"INFO"}},"version":1}` {
		t.Errorf("log config %q dict %q", c.LogConfig, c.LogConfigDict)
	}
	os.WriteFile(f, []byte("- a list\n"), 0o644)
	if _, err := parse(t, []string{"a", "--log-config", f}, nil); err == nil || !strings.Contains(err.Error(), "not YAML") {
		t.Errorf("a YAML list: %v", err)
	}
}

// TestPeerCommandLineSkipsDefaultConfigFile: ./gunicorn.conf.py is gunicorn's
// default; a uvicorn (or granian, hypercorn) command line in the same
// project does not read it, as those servers do not, unless -c names it.
func TestPeerCommandLineSkipsDefaultConfigFile(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("gunicorn.conf.py", []byte("workers = 7\naccesslog = '/var/log/nosuchdir/access.log'\n"), 0o644)
	c, err := Parse([]string{"main:app", "--host", "0.0.0.0", "--reload"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers == 7 || c.ConfigFile != "" || len(c.Warnings) != 1 ||
		c.Warnings[0] != "./gunicorn.conf.py is not read: --host is not gunicorn's, and uvicorn, granian and hypercorn read no config file of their own accord; -c gunicorn.conf.py reads it" {
		t.Errorf("uvicorn's command line: workers %d config %q warnings %q", c.Workers, c.ConfigFile, c.Warnings)
	}
	for _, args := range [][]string{{"main:app", "-b", "0.0.0.0:8000"}, {"main:app", "--host", "0.0.0.0", "-c", "gunicorn.conf.py"}} {
		if c, err = Parse(args, env(nil), io.Discard); err != nil || c.Workers != 7 {
			t.Errorf("%q: the config file is read: %v, workers %d", args, err, c.Workers)
		}
	}
}

// TestConfigFileWorkerClassObject: worker_class given as a class object, as
// gunicorn takes one, defined in the config file itself, is classified by
// the config reader; and the file's imports of gunicorn and uvicorn work
// where they are not installed (python -S hides site-packages here), as
// after a move from gunicorn to gowsgi.
func TestConfigFileWorkerClassObject(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bare := filepath.Join(dir, "python-bare")
	os.WriteFile(bare, []byte("#!/bin/sh\nexec "+py+" -S \"$@\"\n"), 0o755)
	conf := filepath.Join(dir, "gunicorn.conf.py")
	os.WriteFile(conf, []byte(`import gunicorn
from gunicorn.arbiter import Arbiter
from uvicorn.workers import UvicornWorker

gunicorn.SERVER_SOFTWARE = "hidden"


class MyUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {"proxy_headers": True, "forwarded_allow_ips": "*", "log_level": None}


bind = "0.0.0.0:8000"
workers = 9
worker_class = MyUvicornWorker


def pre_fork(server: Arbiter, worker):
    pass
`), 0o644)
	c := mustParse(t, []string{"main:app", "-c", conf, "--python", bare}, nil)
	if c.Interface != "asgi" || c.WorkerClass != "MyUvicornWorker" || c.Workers != 9 || strings.Join(c.ForwardedAllowIPs.Items(), ",") != "*" ||
		len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "worker class MyUvicornWorker: runs as uvicorn.workers.UvicornWorker") {
		t.Errorf("interface %q class %q workers %d fwd %v %q", c.Interface, c.WorkerClass, c.Workers, c.ForwardedAllowIPs, c.Warnings)
	}
	// A class of no known base is refused, as a dotted path's is.
	os.WriteFile(conf, []byte("class Mine:\n    pass\nworker_class = Mine\n"), 0o644)
	if _, err := parse(t, []string{"main:app", "-c", conf, "--python", bare}, nil); err == nil || !strings.Contains(err.Error(), "worker class Mine derives from none") {
		t.Errorf("a class of no known base: %v", err)
	}
}

// TestAccessLoggerNotice: a logging config that sets up a server's access
// logger (uvicorn.access, gunicorn.access) gets a notice, since gowsgi
// writes the access log itself; one for the app's loggers, or for
// uvicorn.error (apps log there), gets none.
func TestAccessLoggerNotice(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "logging.ini")
	os.WriteFile(ini, []byte("[loggers]\nkeys=root,access\n\n[logger_access]\nlevel=INFO\nhandlers=\nqualname=gunicorn.access\n"), 0o644)
	js := filepath.Join(dir, "log.json")
	os.WriteFile(js, []byte(`{"version": 1, "loggers": {"uvicorn.access": {"level": "WARNING"}, "uvicorn.error": {"level": "INFO"}, "myapp": {}}}`), 0o644)
	app := filepath.Join(dir, "app.json")
	os.WriteFile(app, []byte(`{"version": 1, "loggers": {"uvicorn.error": {"level": "INFO"}, "myapp": {}}}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"main:app", "--log-config", ini}, "--log-config: configures gunicorn.access: gowsgi writes the access log itself"},
		{[]string{"main:app", "--log-config", js}, "--log-config: configures uvicorn.access: gowsgi writes the access log itself"},
		{[]string{"main:app", "--log-config-json", js}, "--log-config-json: configures uvicorn.access:"},
		{[]string{"main:app", "--log-config", app}, ""},
	} {
		c := mustParse(t, tc.args, nil)
		if tc.want == "" && len(c.Warnings) != 0 || tc.want != "" && (len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], tc.want)) {
			t.Errorf("%q: notices %q, want %q", tc.args, c.Warnings, tc.want)
		}
	}
}
