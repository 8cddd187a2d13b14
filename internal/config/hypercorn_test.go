package config

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// TestHypercornCommandLine reads hypercorn's command line as deployments
// write it: every option lands where hypercorn puts it, or is noticed.
func TestHypercornCommandLine(t *testing.T) {
	c := mustParse(t, strings.Fields("main:app --bind 0.0.0.0:8000 --workers 4 --worker-class uvloop --access-logfile - --error-logfile - "+
		"--keep-alive 5 --graceful-timeout 10 --certfile C --keyfile K --ca-certs CA --root-path /api --log-level info --backlog 100 "+
		"--read-timeout 30 --max-requests 1000 --max-requests-jitter 50 --websocket-ping-interval 25 --server-name example.com "+
		"--quic-bind 0.0.0.0:443 --verify-mode CERT_OPTIONAL --access-logformat %(h)s --statsd-host 127.0.0.1:9125 --statsd-prefix app"), nil)
	if c.Target != "main:app" || bindSpecs(c.Binds) != "tcp 0.0.0.0:8000" || c.Workers != 4 || c.Interface != "asgi" || c.Loop != "uvloop" {
		t.Errorf("target %q binds %s workers %d interface %s loop %s", c.Target, bindSpecs(c.Binds), c.Workers, c.Interface, c.Loop)
	}
	if c.AccessLog.To != OutputStdout || c.ErrorLog.To != OutputStderr || c.KeepAlive != 5*time.Second || c.GracefulTimeout != 10*time.Second {
		t.Errorf("logs %v %v keep-alive %v graceful %v", c.AccessLog, c.ErrorLog, c.KeepAlive, c.GracefulTimeout)
	}
	if !slices.Equal(c.CertFiles, []string{"C"}) || !slices.Equal(c.KeyFiles, []string{"K"}) || c.CACerts != "CA" || c.CertReqs != 1 || c.RootPath != "/api" {
		t.Errorf("TLS %v %v %q %d root %q", c.CertFiles, c.KeyFiles, c.CACerts, c.CertReqs, c.RootPath)
	}
	if c.Backlog != 100 || c.BodyTimeout != 30*time.Second || c.MaxRequests != 1000 || c.MaxRequestsJitter != 50 || c.WS.PingInterval != 25*time.Second {
		t.Errorf("backlog %d read-timeout %v max-requests %d/%d ping %v", c.Backlog, c.BodyTimeout, c.MaxRequests, c.MaxRequestsJitter, c.WS.PingInterval)
	}
	if c.AccessLogFormat != "%(h)s" || c.StatsdHost != "127.0.0.1:9125" || c.StatsdPrefix != "app" {
		t.Errorf("format %q statsd %q %q", c.AccessLogFormat, c.StatsdHost, c.StatsdPrefix)
	}
	for _, want := range []string{"--server-name: gowsgi serves every Host", "--quic-bind: gowsgi serves HTTP/1.1 and HTTP/2, not HTTP/3"} {
		if !containsPrefix(c.Warnings, want) {
			t.Errorf("no notice %q in %q", want, c.Warnings)
		}
	}
	if len(c.Warnings) != 2 {
		t.Errorf("%d notices, want 2: %q", len(c.Warnings), c.Warnings)
	}

	// hypercorn's -k asyncio is ASGI on asyncio; trio is refused.
	if c = mustParse(t, []string{"main:app", "-k", "asyncio"}, nil); c.Interface != "asgi" || c.Loop != "asyncio" {
		t.Errorf("-k asyncio: %s %s", c.Interface, c.Loop)
	}
	if _, err := parse(t, []string{"main:app", "-k", "trio"}, nil); err == nil || !strings.Contains(err.Error(), "trio") {
		t.Errorf("-k trio: %v", err)
	}
	// --keyfile-password is refused, as uvicorn's --ssl-keyfile-password.
	if _, err := parse(t, []string{"main:app", "--keyfile-password", "x"}, nil); err == nil || !strings.Contains(err.Error(), "--keyfile-password: gowsgi cannot read encrypted private keys") {
		t.Errorf("--keyfile-password: %v", err)
	}
	// --insecure-bind: a plain bind next to the TLS ones (the default one
	// here); ignored (noticed) without TLS, as hypercorn does.
	c = mustParse(t, []string{"main:app", "--certfile", "C", "--keyfile", "K", "--insecure-bind", "0.0.0.0:80", "--insecure-bind", "unix:/tmp/p.sock"}, nil)
	if bindSpecs(c.Binds) != "tcp 127.0.0.1:8000,tcp 0.0.0.0:80,unix /tmp/p.sock" || c.Binds[0].Plain || !c.Binds[1].Plain || !c.Binds[2].Plain || len(c.Warnings) != 0 {
		t.Errorf("--insecure-bind with TLS: %+v %q", c.Binds, c.Warnings)
	}
	if _, err := parse(t, []string{"main:app", "--insecure-bind", "[::1"}, nil); err == nil || !strings.Contains(err.Error(), "--insecure-bind") {
		t.Errorf("a bad --insecure-bind: %v", err)
	}
	if c = mustParse(t, []string{"main:app", "--insecure-bind", "0.0.0.0:80"}, nil); !containsPrefix(c.Warnings, "--insecure-bind: ignored without TLS") || bindSpecs(c.Binds) != "tcp 127.0.0.1:8000" {
		t.Errorf("--insecure-bind without TLS: %q %s", c.Warnings, bindSpecs(c.Binds))
	}
	// Adding hypercorn's spellings changed no gunicorn abbreviation.
	if c = mustParse(t, []string{"a", "--initg"}, nil); !c.InitGroups {
		t.Errorf("--initg is still gunicorn's --initgroups")
	}
}

// hypercornTOML has a key of every TOML type hypercorn's keys take.
const hypercornTOML = `
bind = ["0.0.0.0:8000", "unix:/tmp/h.sock"]
workers = 2
worker_class = "asyncio"
keep_alive_timeout = 2.5
graceful_timeout = 7
include_server_header = false
include_date_header = true
alt_svc_headers = ['h3=":443"; ma=3600']
alpn_protocols = ["http/1.1"]
accesslog = "-"
root_path = "/api"
pid_path = "h.pid"
verify_mode = "CERT_REQUIRED"
websocket_max_message_size = 1048576
websocket_ping_interval = 10.5
wsgi_max_body_size = 1000
h2_max_concurrent_streams = 50
use_reloader = false
daemon = true
server_names = ["example.com"]
workerz = 3
startup_timeout = 0

[logconfig_dict]
version = 1
disable_existing_loggers = false
`

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHypercornTOML reads hypercorn's TOML config: every key type, the
// command line over the file, notices for unknown and unsupported keys.
func TestHypercornTOML(t *testing.T) {
	conf := writeFile(t, t.TempDir(), "hypercorn.toml", hypercornTOML)
	c := mustParse(t, []string{"main:app", "-c", conf, "--workers", "3"}, nil)
	if bindSpecs(c.Binds) != "tcp 0.0.0.0:8000,unix /tmp/h.sock" || c.Workers != 3 || c.Interface != "asgi" || c.Loop != "asyncio" {
		t.Errorf("binds %s workers %d (the flag wins) interface %s loop %s", bindSpecs(c.Binds), c.Workers, c.Interface, c.Loop)
	}
	if c.KeepAlive != 2500*time.Millisecond || c.GracefulTimeout != 7*time.Second || c.RootPath != "/api" || filepath.Base(c.PidFile) != "h.pid" || c.CertReqs != 2 {
		t.Errorf("keep-alive %v graceful %v root %q pid %q cert-reqs %d", c.KeepAlive, c.GracefulTimeout, c.RootPath, c.PidFile, c.CertReqs)
	}
	d := c.ResponseHeaders
	if !d.NoServer || d.NoDate || !slices.Equal(d.Extra, []http1.Field{{Name: "Alt-Svc", Value: `h3=":443"; ma=3600`}}) {
		t.Errorf("response headers %+v", d)
	}
	if !slices.Equal(c.HTTPProtocols, []Protocol{HTTP1}) || c.WS.MaxSize != 1<<20 || c.WS.PingInterval != 10500*time.Millisecond ||
		c.MaxBodySize != 1000 || c.HTTP2MaxConcurrentStreams != 50 || c.Reload || c.AccessLog.To != OutputStdout {
		t.Errorf("protocols %v ws %d %v body %d streams %d reload %v access %v", c.HTTPProtocols, c.WS.MaxSize, c.WS.PingInterval, c.MaxBodySize, c.HTTP2MaxConcurrentStreams, c.Reload, c.AccessLog)
	}
	if c.LogConfigDict != `{"disable_existing_loggers":false,"version":1}` {
		t.Errorf("logconfig_dict %q", c.LogConfigDict)
	}
	for _, want := range []string{conf + ": daemon: hypercorn's daemon", conf + ": server_names: gowsgi serves every Host",
		conf + ": not hypercorn settings, ignored: workerz (did you mean workers?)"} {
		if !containsPrefix(c.Warnings, want) {
			t.Errorf("no notice %q in %q", want, c.Warnings)
		}
	}
	if len(c.Warnings) != 3 {
		t.Errorf("%d notices, want 3 (startup_timeout = 0 asks for nothing): %q", len(c.Warnings), c.Warnings)
	}
	if c.ConfigFile != conf {
		t.Errorf("ConfigFile %q", c.ConfigFile)
	}
	// file:FILE.toml is the same TOML file (by its suffix).
	if c = mustParse(t, []string{"main:app", "-c", "file:" + conf}, nil); c.Workers != 2 || !c.ResponseHeaders.NoServer {
		t.Errorf("file:%s: workers %d %+v", conf, c.Workers, c.ResponseHeaders)
	}
}

// TestHypercornTOMLErrors: a value of the wrong type names the key and the
// file; a refused key, a file that is not TOML and a missing file are one
// line each.
func TestHypercornTOMLErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{`workers = "four"`, `hypercorn.toml: workers: expected an integer, got the string "four"`},
		{`bind = 8000`, `hypercorn.toml: bind: expected a string or a list of strings, got the number 8000`},
		{`include_server_header = "no"`, `hypercorn.toml: include_server_header: expected a boolean`},
		{`keep_alive_timeout = [5]`, `hypercorn.toml: keep_alive_timeout: expected a number, got a list`},
		{`bind = ["a:1", 2]`, `hypercorn.toml: bind: expected a list of strings, got the number 2 in it`},
		{`workers = 0.5`, `hypercorn.toml: workers: expected an integer, got the number 0.5`},
		{`logconfig_dict = "x"`, `hypercorn.toml: logconfig_dict: expected a table`},
		{`alpn_protocols = ["h3"]`, `hypercorn.toml: alpn_protocols: "h3": expected h2 or http/1.1`},
		{`verify_flags = 4`, `hypercorn.toml: verify_flags: gowsgi does not offer OpenSSL's verify flags`},
		{`keyfile_password = "secret"`, `hypercorn.toml: keyfile_password: gowsgi cannot read encrypted private keys`},
		{`workers = `, `is not TOML`},
	} {
		conf := writeFile(t, dir, "hypercorn.toml", tc.text+"\n")
		_, err := parse(t, []string{"main:app", "-c", conf}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q", tc.text, err, tc.want)
		}
	}
	if _, err := parse(t, []string{"main:app", "-c", filepath.Join(dir, "missing.toml")}, nil); err == nil || !strings.Contains(err.Error(), "cannot read config file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestHypercornPythonConfig: hypercorn's python:module.object (an object's
// attributes, with hypercorn's names) and file:FILE.py (a Python file's
// globals: gunicorn's names, and hypercorn's where gunicorn has none).
func TestHypercornPythonConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "hconf.py", "class Config:\n    workers = 3\n    keep_alive_timeout = 7\n    include_date_header = False\n    worker_class = 'uvloop'\n"+
		"    daemon = True\n\nconfig = Config()\n")
	writeFile(t, dir, "hyper.py", "bind = ['127.0.0.1:9000']\nkeep_alive_timeout = 4\ninclude_server_header = False\nworkers = 2\n")
	t.Chdir(dir)
	c, err := Parse([]string{"main:app", "-c", "python:hconf.config"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 || c.KeepAlive != 7*time.Second || !c.ResponseHeaders.NoDate || c.Loop != "uvloop" || c.Daemon ||
		!containsPrefix(c.Warnings, "python:hconf.config: daemon: hypercorn's daemon") {
		t.Errorf("python:hconf.config: workers %d keep-alive %v %+v loop %s daemon %v %q", c.Workers, c.KeepAlive, c.ResponseHeaders, c.Loop, c.Daemon, c.Warnings)
	}
	c, err = Parse([]string{"main:app", "-c", "file:hyper.py"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if bindSpecs(c.Binds) != "tcp 127.0.0.1:9000" || c.KeepAlive != 4*time.Second || !c.ResponseHeaders.NoServer || c.Workers != 2 || len(c.Warnings) != 0 {
		t.Errorf("file:hyper.py: %s keep-alive %v %+v workers %d %q", bindSpecs(c.Binds), c.KeepAlive, c.ResponseHeaders, c.Workers, c.Warnings)
	}
	if _, err := Parse([]string{"main:app", "-c", "python:hconf.nothing"}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Errorf("python:hconf.nothing: %v", err)
	}
}

// TestHypercornLogConfigPrefixes: hypercorn's --log-config json:FILE and
// toml:FILE are dictConfig files.
func TestHypercornLogConfigPrefixes(t *testing.T) {
	dir := t.TempDir()
	j := writeFile(t, dir, "log.json", `{"version": 1}`)
	tm := writeFile(t, dir, "log.toml", "version = 1\n")
	if c := mustParse(t, []string{"a", "--log-config", "json:" + j}, nil); c.LogConfigJSON != j || c.LogConfig != "" {
		t.Errorf("json: %q %q", c.LogConfigJSON, c.LogConfig)
	}
	if c := mustParse(t, []string{"a", "--log-config", "toml:" + tm}, nil); c.LogConfigDict != `{"version":1}` || c.LogConfig != "" {
		t.Errorf("toml: %q %q", c.LogConfigDict, c.LogConfig)
	}
}

// TestHypercornStartupAndLoggers: startup_timeout longer than the boot
// timeout's default lengthens it (a shorter one would cut the import
// short); accesslog and errorlog given as Python loggers, as hypercorn
// takes them, are gowsgi's own logs on stdout and stderr, with a notice.
func TestHypercornStartupAndLoggers(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "hypercorn.toml", "startup_timeout = 360\n")
	if c := mustParse(t, []string{"main:app", "-c", conf}, nil); c.BootTimeout != 6*time.Minute || len(c.Warnings) != 0 {
		t.Errorf("startup_timeout 360: boot %v %q", c.BootTimeout, c.Warnings)
	}
	conf = writeFile(t, dir, "short.toml", "startup_timeout = 30\n")
	if c := mustParse(t, []string{"main:app", "-c", conf}, nil); c.BootTimeout != 2*time.Minute {
		t.Errorf("startup_timeout 30: boot %v", c.BootTimeout)
	}
	py := writeFile(t, dir, "hyper_conf.py", "import logging\n_logger = logging.getLogger()\naccesslog = _logger\nerrorlog = logging.getLogger('err')\nkeep_alive_timeout = 2\n")
	c := mustParse(t, []string{"main:app", "-c", "file:" + py}, nil)
	if c.AccessLog.To != OutputStdout || c.ErrorLog.To != OutputStderr || c.KeepAlive != 2*time.Second || len(c.Warnings) != 2 ||
		c.Warnings[0] != "file:"+py+`: accesslog: a Python logger ("root"): gowsgi writes this log itself, to stdout` ||
		c.Warnings[1] != "file:"+py+`: errorlog: a Python logger ("err"): gowsgi writes this log itself, to stderr` {
		t.Errorf("loggers: access %+v error %+v keep-alive %v %q", c.AccessLog, c.ErrorLog, c.KeepAlive, c.Warnings)
	}
}
