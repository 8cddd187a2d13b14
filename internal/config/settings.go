package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/internal/tlsconf"
)

// Kind says what gowsgi does with a setting.
type Kind int

const (
	// Native is a gowsgi option; gunicorn may share it (Gunicorn != "").
	Native Kind = iota
	// Honoured is a gunicorn setting gowsgi applies with gunicorn's meaning
	// and units.
	Honoured
	// Noticed is a gunicorn setting gowsgi accepts; when it is given, a
	// one-line notice says what gowsgi does instead.
	Noticed
	// Refused is a gunicorn setting gowsgi cannot honour safely: giving it
	// (with a value that asks for the feature) is an error, exit 2.
	Refused
)

func (k Kind) String() string {
	return [...]string{"gowsgi", "honoured", "notice", "refused"}[k]
}

// valueType is how a setting's value is read and printed.
type valueType int

const (
	tString valueType = iota
	tBool
	tInt
	tList
)

// setting is one row of the table: a gowsgi option, a gunicorn setting, or
// both. The table drives the flag parser, the environment, the config-file
// reader, --print-config and the README's migration table.
type setting struct {
	// name is the gowsgi name: the primary long flag without "--" (and the
	// GOWSGI_ variable, upper-cased), or gunicorn's name for settings only a
	// config file can give.
	name string
	// flags are every command-line spelling: gowsgi's first, then
	// gunicorn's ("-w", "--workers"). Underscores and dashes are
	// interchangeable ("--limit-request-field_size").
	flags []string
	// gunicorn is gunicorn's setting (config-file) name; "" = gowsgi only.
	gunicorn string
	kind     Kind
	typ      valueType
	// def is the default as text; defFn, when set, computes it (from the
	// environment, like gunicorn's PORT and WEB_CONCURRENCY) and says
	// which variable it came from.
	def   string
	defFn func(getenv func(string) string) (string, string)
	usage string
	// why is the README note; for Noticed settings, the notice; for
	// Refused ones, the reason.
	why string
	// noEnv: no GOWSGI_ variable (-h, -v, and settings only a gunicorn
	// config file can give).
	noEnv bool
	// asks reports whether a value asks for the feature: a Refused setting
	// is refused, a Noticed one noticed, only then. Default: a true boolean,
	// a non-empty string, a number other than 0.
	asks func(v string) bool
	// apply reads one value into c (a list setting gets one call per item).
	apply func(c *Config, v string) error
	// show is the value for --print-config in gunicorn's units; nil = the
	// raw value as given (typed by typ), or null.
	show func(c *Config) any
}

// Sources of a value, lowest precedence first.
type source int

const (
	srcDefault source = iota
	srcFile
	srcEnv
	srcCmdArgs
	srcFlag
)

func (s source) String() string {
	return [...]string{"default", "config file", "env", "GUNICORN_CMD_ARGS", "flag"}[s]
}

// Accessors build apply/show pairs for Config fields.

func intField(min int, p func(*Config) *int) (func(*Config, string) error, func(*Config) any) {
	return func(c *Config, v string) error {
			n, err := parseCount(v)
			if err != nil {
				return err
			}
			if n < min {
				return fmt.Errorf("must be at least %d, got %d", min, n)
			}
			*p(c) = n
			return nil
		}, func(c *Config) any {
			return *p(c)
		}
}

func sizeField(p func(*Config) *int64) (func(*Config, string) error, func(*Config) any) {
	return func(c *Config, v string) error {
			n, err := ParseSize(v)
			*p(c) = n
			return err
		}, func(c *Config) any {
			return *p(c)
		}
}

func intRange(lo, hi int, p func(*Config) *int) (func(*Config, string) error, func(*Config) any) {
	return func(c *Config, v string) error {
			n, err := parseCount(v)
			if err != nil {
				return err
			}
			if n < lo || n > hi {
				return fmt.Errorf("must be between %d and %d, got %d", lo, hi, n)
			}
			*p(c) = n
			return nil
		}, func(c *Config) any {
			return *p(c)
		}
}

func durField(p func(*Config) *time.Duration) (func(*Config, string) error, func(*Config) any) {
	return func(c *Config, v string) error {
			d, err := ParseDuration(v)
			*p(c) = d
			return err
		}, func(c *Config) any {
			return seconds(*p(c))
		}
}

func boolField(p func(*Config) *bool) (func(*Config, string) error, func(*Config) any) {
	return func(c *Config, v string) error {
			b, err := parseBool(v)
			*p(c) = b
			return err
		}, func(c *Config) any {
			return *p(c)
		}
}

func strField(p func(*Config) *string) (func(*Config, string) error, func(*Config) any) {
	return func(c *Config, v string) error {
			*p(c) = v
			return nil
		}, func(c *Config) any {
			if *p(c) == "" {
				return nil
			}
			return *p(c)
		}
}

func listField(p func(*Config) *[]string) (func(*Config, string) error, func(*Config) any) {
	return func(c *Config, v string) error {
			*p(c) = append(*p(c), v)
			return nil
		}, func(c *Config) any {
			return nonNil(*p(c))
		}
}

// seconds is a duration in gunicorn's unit: a whole number of seconds when
// it is one, else a fraction.
func seconds(d time.Duration) any {
	if d%time.Second == 0 {
		return int64(d / time.Second)
	}
	return d.Seconds()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// settings is the table. Order matters twice: it is --help's and
// --print-config's order, and within one source a later row wins where two
// rows set the same field (a gowsgi option after the gunicorn one it
// refines).
var settings []*setting

func init() {
	add := func(s *setting) { settings = append(settings, s) }
	row := func(name string, flags []string, gunicorn string, kind Kind, typ valueType, def, usage, why string,
		apply func(*Config, string) error, show func(*Config) any) *setting {
		s := &setting{name: name, flags: flags, gunicorn: gunicorn, kind: kind, typ: typ, def: def, usage: usage, why: why, apply: apply, show: show}
		add(s)
		return s
	}
	f := func(spellings ...string) []string { return spellings }

	// --- what to run -------------------------------------------------------
	a, sh := strField(func(c *Config) *string { return &c.Target })
	row("app", nil, "wsgi_app", Native, tString, "", "the application (the positional TARGET; GOWSGI_APP)",
		"the positional TARGET, as gunicorn's", a, sh)

	row("bind", f("-b", "--bind"), "bind", Native, tList, "127.0.0.1:8000",
		"address to listen on: HOST:PORT, HOST (port 8000), :PORT (all interfaces), [::1]:PORT, unix:/path or fd://N (repeatable)",
		"same forms: HOST[:PORT], unix:PATH, fd://N; $PORT sets the default as in gunicorn",
		func(c *Config, v string) error {
			b, err := ParseBind(v)
			if err != nil {
				return err
			}
			c.Binds = append(c.Binds, b)
			return nil
		}, func(c *Config) any {
			out := []string{}
			for _, b := range c.Binds {
				out = append(out, b.String())
			}
			return out
		}).defFn = func(getenv func(string) string) (string, string) {
		if p := getenv("PORT"); p != "" {
			return "0.0.0.0:" + p, "PORT"
		}
		return "127.0.0.1:8000", ""
	}

	a, sh = intField(1, func(c *Config) *int { return &c.Workers })
	row("workers", f("-w", "--workers"), "workers", Native, tInt, "", "worker processes (default: $WEB_CONCURRENCY, else the CPU count)",
		"default: $WEB_CONCURRENCY as in gunicorn, else the CPU count (gunicorn: 1)", a, sh).defFn =
		func(getenv func(string) string) (string, string) {
			if w := getenv("WEB_CONCURRENCY"); w != "" {
				return w, "WEB_CONCURRENCY"
			}
			return strconv.Itoa(runtime.NumCPU()), ""
		}
	a, sh = intField(1, func(c *Config) *int { return &c.Threads })
	row("threads", f("--threads"), "threads", Native, tInt, "1", "threads (request slots) per worker process", "same", a, sh)
	a, sh = strField(func(c *Config) *string { return &c.WorkerClass })
	row("worker-class", f("-k", "--worker-class"), "worker_class", Honoured, tString, "sync",
		"gunicorn worker class: sync and gthread run --threads threads; gevent and eventlet run min(--worker-connections, 64) threads",
		"`sync`, `gthread`: `--threads` threads per worker. `gevent`, `eventlet`, `tornado`: min(`--worker-connections`, 64) threads unless `--threads` is given, since slow clients cost goroutines, not threads. ASGI (uvicorn) and custom classes: refused (exit 2)",
		func(c *Config, v string) error {
			if _, err := workerClass(v); err != nil {
				return err
			}
			c.WorkerClass = v
			return nil
		}, sh)
	row("worker-connections", f("--worker-connections"), "worker_connections", Honoured, tInt, "1000",
		"with -k gevent/eventlet: sets the thread count (capped at 64)",
		"with `-k gevent`/`eventlet`: threads = min(N, 64); otherwise a notice (`--max-connections` bounds connections server-wide)",
		func(c *Config, v string) error {
			n, err := parseCount(v)
			if err == nil && n < 1 {
				err = fmt.Errorf("must be at least 1, got %d", n)
			}
			c.workerConnections = n
			return err
		}, func(c *Config) any { return c.workerConnections })

	a, sh = strField(func(c *Config) *string { return &c.Python })
	row("python", f("--python"), "", Native, tString, "", "Python interpreter (default: $VIRTUAL_ENV/bin/python, else python3 on PATH)", "", a, sh)
	_, sh = strField(func(c *Config) *string { return &c.Chdir })
	row("chdir", f("--chdir"), "chdir", Native, tString, "", "change to this directory before loading the app", "same",
		func(c *Config, v string) error {
			abs, err := filepath.Abs(v)
			if err != nil {
				return err
			}
			if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", v)
			}
			c.Chdir = abs
			return nil
		}, sh)
	_, sh = listField(func(c *Config) *[]string { return &c.PythonPath })
	row("pythonpath", f("--pythonpath"), "pythonpath", Native, tList, "", "directories to prepend to sys.path (comma-separated, as gunicorn; repeatable)",
		"same (comma-separated); also repeatable",
		func(c *Config, v string) error {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					c.PythonPath = append(c.PythonPath, p)
				}
			}
			return nil
		}, sh)
	a, sh = strField(func(c *Config) *string { return &c.RootPath })
	row("root-path", f("--root-path"), "root_path", Native, tString, "", "SCRIPT_NAME: the URL prefix the app is mounted under", "same",
		func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "/") {
				return fmt.Errorf("%q must start with /", v)
			}
			c.RootPath = strings.TrimRight(v, "/")
			return nil
		}, sh)

	// --- static files ------------------------------------------------------
	row("static", f("--static"), "", Native, tList, "", "serve files from DIR at URL-PREFIX from Go, never reaching Python: /URL-PREFIX=DIR (repeatable)", "",
		func(c *Config, v string) error {
			m, err := ParseStatic(v)
			if err != nil {
				return err
			}
			c.Static = append(c.Static, m)
			return nil
		}, func(c *Config) any {
			out := []string{}
			for _, m := range c.Static {
				out = append(out, m.Spec())
			}
			return out
		})
	a, sh = boolField(func(c *Config) *bool { return &c.StaticAllowDotfiles })
	row("static-allow-dotfiles", f("--static-allow-dotfiles"), "", Native, tBool, "false", "serve files and directories whose name starts with '.' under --static", "", a, sh)
	a, sh = boolField(func(c *Config) *bool { return &c.StaticFollowSymlinks })
	row("static-follow-symlinks", f("--static-follow-symlinks"), "", Native, tBool, "false", "follow symbolic links under --static, also out of the directory", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.StaticMaxAge })
	row("static-max-age", f("--static-max-age"), "", Native, tString, "0", "Cache-Control max-age for static files; 0 = none", "", a, sh)

	// --- logging -----------------------------------------------------------
	row("access-log", f("--access-log", "--access-logfile"), "accesslog", Native, tString, "-",
		"access log (Combined Log Format, or --access-logformat): FILE, or - for stdout; reopened on SIGUSR1",
		"same; gowsgi writes one by default (to stdout), `--no-access-log` turns it off; reopened on SIGUSR1 for logrotate",
		func(c *Config, v string) error {
			o, err := parseOutput(v, OutputStdout)
			c.AccessLog = o
			return err
		}, func(c *Config) any { return outputValue(c.AccessLog) })
	a, sh = boolField(func(c *Config) *bool { return &c.noAccessLog })
	row("no-access-log", f("--no-access-log"), "", Native, tBool, "false", "do not write an access log", "", a, sh)
	row("error-log", f("--error-log", "--error-logfile", "--log-file"), "errorlog", Native, tString, "-",
		"gowsgi's own log: FILE, or - for stderr (the app's output too with --capture-output); reopened on SIGUSR1",
		"same; reopened on SIGUSR1 for logrotate; the app's stdout/stderr join it with `--capture-output`",
		func(c *Config, v string) error {
			o, err := parseOutput(v, OutputStderr)
			c.ErrorLog = o
			return err
		}, func(c *Config) any { return outputValue(c.ErrorLog) })
	row("log-level", f("--log-level"), "loglevel", Native, tString, "info", "error log level: debug, info, warning, error, critical", "same",
		func(c *Config, v string) error {
			l, err := ParseLogLevel(v)
			if err != nil {
				// gunicorn falls back to info on a level it does not know;
				// a deployment script that passes "'info'" with its quotes
				// must still start. A one-line warning says so.
				c.Warnings = append(c.Warnings, fmt.Sprintf("--log-level: %v; using info", err))
				l, v = slog.LevelInfo, "info"
			}
			c.LogLevel, c.logLevelName = l, strings.ToLower(strings.TrimSpace(v))
			if c.logLevelName == "warn" {
				c.logLevelName = "warning"
			}
			return nil
		}, func(c *Config) any { return c.logLevelName })
	logSettings(row)

	_, sh = strField(func(c *Config) *string { return &c.MetricsBind })
	row("metrics-bind", f("--metrics-bind"), "", Native, tString, "",
		"serve Prometheus metrics (/metrics) and health probes (/healthz, /readyz) on HOST:PORT, apart from the app (README: Deployment)", "",
		func(c *Config, v string) error {
			c.MetricsBind = strings.TrimSpace(v)
			if c.MetricsBind == "" {
				return nil
			}
			if _, port, err := net.SplitHostPort(c.MetricsBind); err != nil || port == "" {
				return fmt.Errorf("%q: expected HOST:PORT (e.g. 127.0.0.1:9100 or :9100)", v)
			}
			return nil
		}, sh)

	_, sh = strField(func(c *Config) *string { return &c.RequestID })
	row("request-id", f("--request-id"), "", Native, tString, "generate",
		"X-Request-ID: generate (a trusted peer's own, else a new one), pass (only a trusted peer's own), off; it reaches the app as gowsgi.request_id, goes back in the response and into the logs", "",
		func(c *Config, v string) error {
			switch v = strings.ToLower(strings.TrimSpace(v)); v {
			case "generate", "pass", "off":
				c.RequestID = v
				return nil
			}
			return fmt.Errorf("%q: expected generate, pass or off", v)
		}, sh)

	// --- bodies and responses ---------------------------------------------
	a, sh = sizeField(func(c *Config) *int64 { return &c.MaxBodySize })
	row("max-body-size", f("--max-body-size"), "", Native, tString, "0", "largest request body accepted (e.g. 10M); larger gets 413; 0 = unlimited", "", a, sh)
	a, sh = sizeField(func(c *Config) *int64 { return &c.BodyMemory })
	row("body-memory", f("--body-memory"), "", Native, tString, "1M", "request bodies larger than this are spooled to a temp file", "", a, sh)
	a, sh = sizeField(func(c *Config) *int64 { return &c.BodyMemoryTotal })
	row("body-memory-total", f("--body-memory-total"), "", Native, tString, "64M", "request-body bytes held in memory by all requests together; beyond, bodies spool to disk", "", a, sh)
	a, sh = sizeField(func(c *Config) *int64 { return &c.BodyMinRate })
	row("body-min-rate", f("--body-min-rate"), "", Native, tString, "1K", "bytes per second a request body must average; slower gets 408; 0 = off", "", a, sh)
	a, sh = sizeField(func(c *Config) *int64 { return &c.ResponseBuffer })
	row("response-buffer", f("--response-buffer"), "", Native, tString, "1M", "response bytes buffered per request, so a slow reader does not hold a worker thread", "", a, sh)
	a, sh = sizeField(func(c *Config) *int64 { return &c.ResponseSpool })
	row("response-spool", f("--response-spool"), "", Native, tString, "1G", "beyond --response-buffer, response bytes spooled to a temp file per request; 0 = none", "", a, sh)
	a, sh = strField(func(c *Config) *string { return &c.TmpUploadDir })
	row("tmp-upload-dir", f("--tmp-upload-dir"), "tmp_upload_dir", Native, tString, "", "directory for spooled request bodies and responses (default: the system temp dir)",
		"same: where spooled request bodies (and responses) go",
		func(c *Config, v string) error {
			if v == "" {
				c.TmpUploadDir = ""
				return nil
			}
			abs, err := filepath.Abs(v)
			if err != nil {
				return err
			}
			if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", v)
			}
			c.TmpUploadDir = abs
			return nil
		}, sh)

	// --- queueing, timeouts, limits ---------------------------------------
	a, sh = intField(0, func(c *Config) *int { return &c.Backlog })
	row("backlog", f("--backlog"), "backlog", Honoured, tInt, "",
		"listen(2) backlog: connections the kernel queues before gowsgi accepts them (default: the system's somaxconn)",
		"same: the listen(2) backlog of the sockets gowsgi binds (capped by net.core.somaxconn); requests waiting for a worker are bounded by --max-queue", a, sh)
	a, sh = boolField(func(c *Config) *bool { return &c.ReusePort })
	row("reuse-port", f("--reuse-port"), "reuse_port", Honoured, tBool, "false",
		"set SO_REUSEPORT on the TCP sockets gowsgi binds, so other processes may bind the same address",
		"same: SO_REUSEPORT on the TCP sockets gowsgi binds", a, sh)
	a, sh = intField(1, func(c *Config) *int { return &c.MaxQueue })
	row("max-queue", f("--max-queue"), "", Native, tInt, "2048", "requests that may wait for a free worker; beyond, 503", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.QueueTimeout })
	row("queue-timeout", f("--queue-timeout"), "", Native, tString, "30s", "longest wait for a free worker before 503", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.GracefulTimeout })
	row("graceful-timeout", f("--graceful-timeout"), "graceful_timeout", Native, tString, "30s", "on SIGTERM/SIGINT, how long in-flight requests may take to finish", "same (seconds, or a Go duration)", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.KeepAlive })
	row("keep-alive", f("--keep-alive"), "keepalive", Native, tString, "5s", "how long an idle keep-alive connection is kept open", "same (seconds; gowsgi's default is 5, gunicorn's 2)", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.HeaderTimeout })
	row("header-timeout", f("--header-timeout"), "", Native, tString, "10s", "time allowed to send a request's head (slowloris protection)", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.BodyTimeout })
	row("body-timeout", f("--body-timeout"), "", Native, tString, "30s", "longest pause allowed while a client sends a request body", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.WriteTimeout })
	row("write-timeout", f("--write-timeout"), "", Native, tString, "30s", "longest a client may stall reading a response", "", a, sh)
	a, sh = intField(1, func(c *Config) *int { return &c.MaxConnections })
	row("max-connections", f("--max-connections"), "", Native, tInt, "10000", "open client connections; beyond, new ones wait to be accepted", "", a, sh)
	a, sh = intField(0, func(c *Config) *int { return &c.MaxRequestLine })
	row("limit-request-line", f("--limit-request-line"), "limit_request_line", Native, tInt, "8190", "longest request line; longer gets 414", "same (gowsgi's default is 8190, gunicorn's 4094)", a, sh)
	a, sh = intField(0, func(c *Config) *int { return &c.MaxFieldBytes })
	row("limit-request-field-size", f("--limit-request-field-size", "--limit-request-field_size"), "limit_request_field_size", Honoured, tInt, "8190",
		"longest request header field line (name and value); longer gets 431; 0 = no limit but --limit-request-header-size",
		"same (0 = no per-field limit; the whole header section stays bounded by --limit-request-header-size)", a, sh)
	a, sh = sizeField(func(c *Config) *int64 { return &c.MaxHeaderBytes })
	row("limit-request-header-size", f("--limit-request-header-size"), "", Native, tString, "64K", "largest request header section; larger gets 431", "", a, sh)
	a, sh = intField(0, func(c *Config) *int { return &c.MaxHeaderFields })
	row("limit-request-fields", f("--limit-request-fields"), "limit_request_fields", Native, tInt, "100", "most request header fields; more gets 431", "same", a, sh)

	// --- workers -----------------------------------------------------------
	a, sh = durField(func(c *Config) *time.Duration { return &c.BootTimeout })
	row("boot-timeout", f("--boot-timeout"), "", Native, tString, "2m", "time a worker may take to import the app", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.Timeout })
	row("timeout", f("-t", "--timeout"), "timeout", Native, tString, "30s", "a worker silent this long on a request has its stacks logged, gets 504 and is replaced; 0 = never",
		"same (seconds), plus a stack dump of the stuck worker", a, sh)
	a, sh = intField(1, func(c *Config) *int { return &c.PipelineDepth })
	row("pipeline-depth", f("--pipeline-depth"), "", Native, tInt, "32", "when every worker thread is busy, queue up to this many requests on one that is answering fast (fewer wake-ups under load); 1 = off", "", a, sh)
	a, sh = intField(0, func(c *Config) *int { return &c.MaxRequests })
	row("max-requests", f("--max-requests"), "max_requests", Native, tInt, "0", "recycle a worker after this many requests; 0 = never", "same; no request is dropped while recycling", a, sh)
	a, sh = intField(0, func(c *Config) *int { return &c.MaxRequestsJitter })
	row("max-requests-jitter", f("--max-requests-jitter"), "max_requests_jitter", Native, tInt, "0", "add a random 0..N to --max-requests per worker", "same", a, sh)
	row("max-memory", f("--max-memory"), "", Native, tString, "0", "recycle a worker whose resident memory exceeds this (a number is MiB; or 512M, 2G); 0 = never", "",
		func(c *Config, v string) error {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
				c.MaxMemory = n << 20
				return nil
			}
			n, err := ParseSize(v)
			c.MaxMemory = n
			return err
		}, func(c *Config) any { return c.MaxMemory })
	a, sh = boolField(func(c *Config) *bool { return &c.Preload })
	row("preload", f("--preload"), "preload_app", Native, tBool, "false", "import the app once in a template process and fork the workers from it (copy-on-write; see README)",
		"same (`preload_app` in a config file); SIGHUP still loads new code", a, sh)
	a, sh = boolField(func(c *Config) *bool { return &c.Reload })
	row("reload", f("--reload"), "reload", Native, tBool, "false", "development: restart workers when a Python file of the app changes", "same", a, sh)
	a, sh = listField(func(c *Config) *[]string { return &c.ReloadExtraFiles })
	row("reload-extra-file", f("--reload-extra-file"), "reload_extra_files", Native, tList, "", "with --reload, also watch this file (repeatable)", "same", a, sh)
	row("reload-engine", f("--reload-engine"), "reload_engine", Noticed, tString, "", "", "gowsgi has one file watcher; the engine cannot be chosen", nil, nil).asks =
		func(v string) bool { return v != "auto" && v != "" }

	// --- process -----------------------------------------------------------
	a, sh = listField(func(c *Config) *[]string { return &c.Env })
	row("env", f("-e", "--env"), "raw_env", Honoured, tList, "", "set KEY=VALUE in the workers' environment (repeatable)", "same: KEY=VALUE for the workers",
		func(c *Config, v string) error {
			if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
				return fmt.Errorf("%q: expected KEY=VALUE", v)
			}
			c.Env = append(c.Env, v)
			return nil
		}, sh)
	a, sh = strField(func(c *Config) *string { return &c.PidFile })
	row("pid", f("-p", "--pid"), "pidfile", Honoured, tString, "", "write the process id to this file while serving", "same", a, sh)
	row("umask", f("-m", "--umask"), "umask", Honoured, tInt, "", "umask while unix sockets are created (0o117, 0x4f or decimal)", "same (applied while unix sockets are created)",
		func(c *Config, v string) error {
			n, err := parseCount(v)
			if err == nil && n > 0o777 {
				err = fmt.Errorf("%q is not a umask (0 to 0o777)", v)
			}
			c.Umask = n
			return err
		}, func(c *Config) any {
			if c.Umask < 0 {
				return nil
			}
			return c.Umask
		})
	proxySettings(row)

	a, sh = boolField(func(c *Config) *bool { return &c.Compress })
	row("compress", f("--compress"), "", Native, tBool, "false", "compress responses on the fly with zstd, br or gzip, as the client's Accept-Encoding asks (not HEAD, ranges, 204/304, encoded or tiny bodies)", "", a, sh)

	// --- TLS and HTTP/2 ------------------------------------------------------
	a, sh = listField(func(c *Config) *[]string { return &c.CertFiles })
	row("certfile", f("--certfile"), "certfile", Honoured, tList, "", "TLS certificate chain (PEM); turns TLS on for every bind (repeatable: one per --keyfile, chosen by SNI)",
		"same; repeatable with `--keyfile` in pairs, the certificate matching the client's SNI is served (the first by default); re-read on SIGHUP", a, sh)
	a, sh = listField(func(c *Config) *[]string { return &c.KeyFiles })
	row("keyfile", f("--keyfile"), "keyfile", Honoured, tList, "", "private key (PEM) of the --certfile in the same position (repeatable)", "same; repeatable, paired in order with `--certfile`", a, sh)
	a, sh = strField(func(c *Config) *string { return &c.CACerts })
	row("ca-certs", f("--ca-certs"), "ca_certs", Honoured, tString, "", "CA certificates (PEM) that client certificates must chain to", "same", a, sh)
	row("cert-reqs", f("--cert-reqs"), "cert_reqs", Honoured, tString, "0", "client certificates: 0 (none), 1 (optional: verified when sent), 2 (required)",
		"same: 0, 1, 2 (also none, optional, required); the subject reaches the app as `SSL_CLIENT_S_DN`",
		func(c *Config, v string) error {
			n, err := tlsconf.ParseCertReqs(v)
			c.CertReqs = n
			return err
		}, func(c *Config) any { return c.CertReqs })
	a, sh = strField(func(c *Config) *string { return &c.Ciphers })
	row("ciphers", f("--ciphers"), "ciphers", Honoured, tString, "", "OpenSSL cipher list for TLS 1.2 and older (e.g. ECDHE+AESGCM:ECDHE+CHACHA20); default: Go's",
		"same (an OpenSSL cipher list, mapped to Go's suites; unknown names are an error; TLS 1.3 suites are always Go's)",
		func(c *Config, v string) error {
			if strings.TrimSpace(v) != "" {
				if _, err := tlsconf.ParseCiphers(v); err != nil {
					return err
				}
			}
			c.Ciphers = strings.TrimSpace(v)
			return nil
		}, sh)
	row("ssl-version", f("--ssl-version"), "ssl_version", Honoured, tString, "TLS", "lowest TLS version: TLS (default, TLS 1.2), TLSv1, TLSv1_1, TLSv1_2, TLSv1_3",
		"a minimum version: TLS, TLS_SERVER and SSLv23 mean TLS 1.2 (gowsgi's floor), TLSv1_2 etc. that version or later; SSLv3 is refused",
		func(c *Config, v string) error {
			m, err := tlsconf.ParseSSLVersion(v)
			c.TLSMinVersion, c.sslVersion = m, v
			return err
		}, func(c *Config) any { return c.sslVersion })
	row("do-handshake-on-connect", f("--do-handshake-on-connect"), "do_handshake_on_connect", Honoured, tBool, "false", "accepted: the TLS handshake always runs as a connection is accepted (on its own goroutine)",
		"accepted; the handshake always runs as soon as a connection is accepted, on its own goroutine, bounded by --header-timeout",
		func(c *Config, v string) error { _, err := parseBool(v); return err }, nil)
	row("http-protocols", f("--http-protocols"), "http_protocols", Honoured, tString, "h2,h1", "protocols offered, in order of preference: h2, h1 (HTTP/2 over TLS by ALPN; over cleartext see --http2-cleartext)",
		"same values; gowsgi's default is `h2,h1` (gunicorn's `h1`): HTTP/2 is offered by ALPN on TLS listeners",
		func(c *Config, v string) error {
			c.HTTPProtocols = nil
			for _, p := range strings.Split(v, ",") {
				switch p = strings.ToLower(strings.TrimSpace(p)); p {
				case "h1", "h2":
					c.HTTPProtocols = append(c.HTTPProtocols, p)
				case "h3":
					return fmt.Errorf("h3 (HTTP/3) is not implemented; use h2,h1")
				case "":
				default:
					return fmt.Errorf("unknown protocol %q: expected h1, h2", p)
				}
			}
			if len(c.HTTPProtocols) == 0 {
				return fmt.Errorf("no protocol given: expected h1, h2")
			}
			return nil
		}, func(c *Config) any { return strings.Join(c.HTTPProtocols, ",") })
	row("http2-cleartext", f("--http2-cleartext"), "http2_cleartext", Honoured, tString, "off", "HTTP/2 without TLS (h2c) for peers in --forwarded-allow-ips: off, prior-knowledge, upgrade, both",
		"same: off, prior-knowledge, upgrade, both; trusted peers (`--forwarded-allow-ips`) only",
		func(c *Config, v string) error {
			switch v = strings.ToLower(strings.TrimSpace(v)); v {
			case "off", "prior-knowledge", "upgrade", "both":
				c.HTTP2Cleartext = v
				return nil
			}
			return fmt.Errorf("%q: expected off, prior-knowledge, upgrade or both", v)
		}, func(c *Config) any { return c.HTTP2Cleartext })
	a, sh = intRange(1, 1<<31-1, func(c *Config) *int { return &c.HTTP2MaxConcurrentStreams })
	row("http2-max-concurrent-streams", f("--http2-max-concurrent-streams"), "http2_max_concurrent_streams", Honoured, tInt, "100", "HTTP/2 streams a connection may have open at once", "same", a, sh)
	a, sh = intRange(1, 1<<31-1, func(c *Config) *int { return &c.HTTP2InitialWindowSize })
	row("http2-initial-window-size", f("--http2-initial-window-size"), "http2_initial_window_size", Honoured, tInt, "65535", "HTTP/2 flow-control window per stream, in bytes", "same", a, sh)
	a, sh = intRange(16384, 16777215, func(c *Config) *int { return &c.HTTP2MaxFrameSize })
	row("http2-max-frame-size", f("--http2-max-frame-size"), "http2_max_frame_size", Honoured, tInt, "16384", "largest HTTP/2 frame payload accepted, in bytes", "same", a, sh)
	a, sh = intRange(0, 1<<31-1, func(c *Config) *int { return &c.HTTP2MaxHeaderListSize })
	row("http2-max-header-list-size", f("--http2-max-header-list-size"), "http2_max_header_list_size", Honoured, tInt, "65536", "largest HTTP/2 header list (after HPACK), in bytes; 0 = --limit-request-header-size",
		"same; 0 falls back to `--limit-request-header-size` rather than no limit", a, sh)

	// --- configuration and modes -------------------------------------------
	a, sh = strField(func(c *Config) *string { return &c.ConfigFile })
	row("config", f("-c", "--config"), "config", Honoured, tString, "", "gunicorn config file: FILE or python:MODULE (default: ./gunicorn.conf.py when present)",
		"same: FILE, file:FILE or python:MODULE, executed with the workers' Python; ./gunicorn.conf.py by default", a, sh)
	a, sh = boolField(func(c *Config) *bool { return &c.PrintConfig })
	row("print-config", f("--print-config"), "print_config", Honoured, tBool, "false", "print every effective setting and where it came from, then exit (with --json: as JSON)",
		"same; with `--json`, one JSON object", a, sh)
	a, sh = boolField(func(c *Config) *bool { return &c.CheckConfig })
	row("check-config", f("--check-config"), "check_config", Honoured, tBool, "false", "load the configuration and the app, then exit 0 (loads) or 1", "same", a, sh)
	a, sh = boolField(func(c *Config) *bool { return &c.JSON })
	row("json", f("--json"), "", Native, tBool, "false", "with --print-config (and gowsgi check): JSON output", "", a, sh)
	a, sh = boolField(func(c *Config) *bool { return &c.ShowVersion })
	row("version", f("-v", "--version"), "", Native, tBool, "false", "print the version and exit", "", a, sh).noEnv = true
	a, sh = boolField(func(c *Config) *bool { return &c.ShowHelp })
	row("help", f("-h", "--help"), "", Native, tBool, "false", "show this help", "", a, sh).noEnv = true

	gunicornOnly()
	wsSettings(row)
	indexSettings()
}

// outputValue is a log destination as gunicorn prints it.
func outputValue(o Output) any {
	switch o.To {
	case OutputStdout, OutputStderr:
		return "-"
	case OutputFile:
		return o.Path
	}
	return nil
}

// gunicornOnly adds the gunicorn settings gowsgi has no option for.
func gunicornOnly() {
	note := func(gname string, flags []string, typ valueType, why string) *setting {
		name := gname
		for _, fl := range flags {
			if long, ok := strings.CutPrefix(fl, "--"); ok {
				name = long // the first long spelling
				break
			}
		}
		s := &setting{name: name, flags: flags, gunicorn: gname, kind: Noticed, typ: typ, why: why, noEnv: len(flags) == 0}
		settings = append(settings, s)
		return s
	}
	refuse := func(gname string, flags []string, typ valueType, why string) *setting {
		s := note(gname, flags, typ, why)
		s.kind = Refused
		return s
	}
	f := func(spellings ...string) []string { return spellings }

	note("spew", f("--spew"), tBool, "gowsgi cannot trace every executed line; use python -X importtime or a profiler")
	note("sendfile", f("--no-sendfile"), tBool, "gowsgi always sends wsgi.file_wrapper files with sendfile(2) from Go").asks =
		func(v string) bool { b, _ := parseBool(v); return !b } // --no-sendfile stores False
	honour := func(s *setting, apply func(*Config, string) error, show func(*Config) any) {
		s.kind, s.apply, s.show = Honoured, apply, show
		s.usage = processUsage[s.gunicorn]
	}
	a, sh := boolField(func(c *Config) *bool { return &c.Daemon })
	honour(note("daemon", f("-D", "--daemon"), tBool,
		"same: gowsgi detaches (a new session, stdio on /dev/null or the --error-logfile file) and the command exits 0 once it serves, or with the failure"), a, sh)
	note("worker_tmp_dir", f("--worker-tmp-dir"), tString, "gowsgi workers write no heartbeat files; the supervisor watches them over their sockets")
	honour(note("user", f("-u", "--user"), tString,
		"same (name or uid): workers start as that user, and gowsgi drops to it once its ports are bound; "+
			"without --group, the user's primary group (gunicorn keeps the current one)"),
		func(c *Config, v string) error {
			id, err := lookupID(v, false)
			c.UID = id
			return err
		}, func(c *Config) any {
			if c.UID < 0 {
				return nil
			}
			return c.UID
		})
	honour(note("group", f("-g", "--group"), tString, "same (name or gid), for the workers and, once its ports are bound, gowsgi"),
		func(c *Config, v string) error {
			id, err := lookupID(v, true)
			c.GID = id
			return err
		}, func(c *Config) any {
			if c.GID < 0 {
				return nil
			}
			return c.GID
		})
	a, sh = boolField(func(c *Config) *bool { return &c.InitGroups })
	honour(note("initgroups", f("--initgroups"), tBool, "same: with --user, the user's supplementary groups (otherwise none)"), a, sh)
	note("disable_redirect_access_to_syslog", f("--disable-redirect-access-to-syslog"), tBool, "gowsgi has no syslog output; the access log goes where --access-logfile says")
	note("logger_class", f("--logger-class"), tString, "gowsgi's log is its own; a Python logger class is not used").asks =
		func(v string) bool { return v != "" && v != "gunicorn.glogging.Logger" && v != "simple" }
	note("syslog_addr", f("--log-syslog-to"), tString, "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)")
	note("syslog", f("--log-syslog"), tBool, "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)")
	note("syslog_prefix", f("--log-syslog-prefix"), tString, "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)")
	note("syslog_facility", f("--log-syslog-facility"), tString, "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)").asks =
		func(v string) bool { return v != "" && v != "user" }
	note("enable_stdio_inheritance", f("-R", "--enable-stdio-inheritance"), tBool, "workers always inherit gowsgi's stdout and stderr")
	note("enable_backlog_metric", f("--enable-backlog-metric"), tBool, "gowsgi does not send a statsd backlog metric; --metrics-bind serves the queue as gowsgi_queue_depth")
	a, sh = strField(func(c *Config) *string { return &c.ProcName })
	honour(note("proc_name", f("-n", "--name"), tString,
		"same: workers show as `gowsgi: worker [NAME]` in ps (NAME also their comm, for top); gowsgi's own comm becomes NAME"), a, sh)
	note("default_proc_name", nil, tString, "workers are named after the app unless --name is given").asks =
		func(v string) bool { return v != "" && v != "gunicorn" }
	honour(note("paste", f("--paste", "--paster"), tString,
		"same: the app is paste.deploy.loadapp(config:FILE), logging configured from the file's [loggers]; needs PasteDeploy in the workers' Python"),
		func(c *Config, v string) error {
			abs, err := filepath.Abs(v)
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); err != nil {
				return fmt.Errorf("%s: no such file", v)
			}
			c.Paste, c.Target = abs, "paste:"+abs
			return nil
		}, func(c *Config) any {
			if c.Paste == "" {
				return nil
			}
			return c.Paste
		})
	for _, h := range hookNames {
		s := note(h, nil, tString, "") // the notice names every hook at once (see finish)
		s.why = "recorded in the configuration; gowsgi does not run this hook"
		if runHook(h) {
			s.kind = Honoured
			s.why = hookWhy[h]
		}
	}
	refuse("protocol", f("--protocol"), tString, "gowsgi speaks HTTP only, not the uwsgi protocol").asks =
		func(v string) bool { return v != "" && v != "http" }
	note("uwsgi_allow_ips", f("--uwsgi-allow-from"), tList, "gowsgi speaks HTTP only, not the uwsgi protocol")
	note("suppress_ragged_eofs", f("--suppress-ragged-eofs"), tBool, "a TLS client that closes without close_notify is taken as gone: a body cut short is a failed request, as Go's TLS reports it").asks =
		func(v string) bool { b, err := parseBool(v); return err == nil && !b }
	a, sh = listField(func(c *Config) *[]string { return &c.PasteGlobal })
	honour(note("raw_paste_global_conf", f("--paste-global"), tList, "same: KEY=VALUE for the --paste app's global_conf"), a, sh)
	note("permit_obsolete_folding", f("--permit-obsolete-folding"), tBool, "gowsgi's HTTP parser refuses obsolete line folding (400), as RFC 9112 asks")
	note("strip_header_spaces", f("--strip-header-spaces"), tBool, "gowsgi's HTTP parser refuses whitespace before a header's colon (400), as RFC 9112 asks")
	note("permit_unconventional_http_method", f("--permit-unconventional-http-method"), tBool, "gowsgi accepts any RFC 9110 token as a method, case-sensitively")
	note("permit_unconventional_http_version", f("--permit-unconventional-http-version"), tBool, "gowsgi accepts HTTP/1.0 and HTTP/1.1 only")
	note("casefold_http_method", f("--casefold-http-method"), tBool, "gowsgi passes the method as sent; methods are case-sensitive")
	note("tolerate_dangerous_framing", f("--tolerate-dangerous-framing"), tBool, "gowsgi always refuses ambiguous request framing (Content-Length with Transfer-Encoding)")
	note("forwarder_headers", f("--forwarder-headers"), tList, "gowsgi does not take SCRIPT_NAME or PATH_INFO from proxy headers; use --root-path")
	note("header_map", f("--header-map"), tString, "gowsgi drops header names containing '_' (gunicorn's header_map = drop); other modes are not offered").asks =
		func(v string) bool { return v != "" && v != "drop" }
	note("asgi_loop", f("--asgi-loop"), tString, "ASGI only; gowsgi serves WSGI").asks = func(v string) bool { return v != "" && v != "auto" }
	note("asgi_lifespan", f("--asgi-lifespan"), tString, "ASGI only; gowsgi serves WSGI").asks = func(v string) bool { return v != "" && v != "auto" }
	note("asgi_disconnect_grace_period", f("--asgi-disconnect-grace-period"), tInt, "ASGI only; gowsgi serves WSGI")
	note("http_parser", f("--http-parser"), tString, "gowsgi always uses its own HTTP/1.1 parser (in Go)").asks = func(v string) bool { return v != "" && v != "auto" }
	refuse("dirty_apps", f("--dirty-app"), tList, "gowsgi has no dirty arbiters; run long tasks in a task queue or a second gowsgi")
	refuse("dirty_workers", f("--dirty-workers"), tInt, "gowsgi has no dirty arbiters; run long tasks in a task queue or a second gowsgi")
	note("dirty_timeout", f("--dirty-timeout"), tInt, "gowsgi has no dirty arbiters")
	note("dirty_threads", f("--dirty-threads"), tInt, "gowsgi has no dirty arbiters")
	note("dirty_graceful_timeout", f("--dirty-graceful-timeout"), tInt, "gowsgi has no dirty arbiters")
	note("control_socket", f("--control-socket"), tString, "gowsgi has no control socket; use signals (HUP, TTIN, TTOU, TERM)")
	note("control_socket_mode", f("--control-socket-mode"), tInt, "gowsgi has no control socket; use signals (HUP, TTIN, TTOU, TERM)")
	note("control_socket_disable", f("--no-control-socket"), tBool, "gowsgi has no control socket to disable; it reacts to signals only")
}

// gunicornAccessFormat is gunicorn's default access_log_format: the
// Combined Log Format gowsgi writes.
const gunicornAccessFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// hookNames are gunicorn's server hooks, in gunicorn's order (20.1's 15,
// then 26.x's ssl_context and dirty-arbiter hooks).
var hookNames = []string{"on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
	"worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit", "worker_exit",
	"nworkers_changed", "on_exit", "ssl_context", "on_dirty_starting", "dirty_post_fork", "dirty_worker_init",
	"dirty_worker_exit"}

// processUsage is --help's line for the gunicorn settings gowsgi honours
// without an option of its own.
var processUsage = map[string]string{
	"user":                  "run the workers, and gowsgi once its ports are bound, as this user (name or uid)",
	"group":                 "with --user: the group (name or gid; default: the user's)",
	"initgroups":            "with --user: keep the user's supplementary groups",
	"proc_name":             "name the workers in ps: gowsgi: worker [NAME] (default: the app)",
	"daemon":                "detach; the command returns once the detached server serves",
	"paste":                 "serve a PasteDeploy .ini app (Pyramid) instead of a TARGET",
	"raw_paste_global_conf": "KEY=VALUE for the --paste app's global_conf (repeatable)",
}

// runHook reports whether gowsgi runs the gunicorn server hook name: the
// fifteen of gunicorn 20.1.
func runHook(name string) bool { return hookWhy[name] != "" }

// hookWhy says where and when each hook gowsgi runs is called.
var hookWhy = map[string]string{
	"on_starting":      "runs in gowsgi's hook host before the workers boot",
	"on_reload":        "runs in the hook host when SIGHUP (or --reload) starts a new generation",
	"when_ready":       "runs in the hook host once the ports are bound and the workers serve",
	"pre_fork":         "runs in the hook host before each worker is started (gowsgi waits for it)",
	"post_fork":        "runs in the worker before it loads the app (after the fork with --preload)",
	"post_worker_init": "runs in the worker once it has loaded the app",
	"worker_int":       "runs in a worker sent SIGINT or SIGQUIT, which then exits",
	"worker_abort":     "runs in a worker that ran past --timeout (sent SIGABRT after the stack dump), which then exits",
	"pre_exec":         "runs in the hook host on SIGUSR2, before gowsgi starts its new process on the same sockets",
	"pre_request":      "runs in the worker thread before each request",
	"post_request":     "runs in the worker thread after each response, once close() was called",
	"child_exit":       "runs in the hook host after a worker exited",
	"worker_exit":      "runs in the worker as it exits",
	"nworkers_changed": "runs in the hook host at start (old_value None) and on SIGTTIN/SIGTTOU",
	"on_exit":          "runs in the hook host just before gowsgi exits",
}

// lookupID reads a --user or --group value as gunicorn does: a number, or
// a name to look up.
func lookupID(v string, group bool) (int, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n, nil
	}
	if group {
		g, err := user.LookupGroup(v)
		if err != nil {
			return -1, fmt.Errorf("no group named %q", v)
		}
		n, _ := strconv.Atoi(g.Gid)
		return n, nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return -1, fmt.Errorf("no user named %q", v)
	}
	n, _ := strconv.Atoi(u.Uid)
	return n, nil
}

// workerClass sorts a gunicorn worker class into what gowsgi does with it:
// "threads" (sync, gthread: --threads threads), "green" (gevent, eventlet,
// tornado: a thread count from --worker-connections), or an error.
func workerClass(v string) (string, error) {
	k := strings.ToLower(strings.TrimSpace(v))
	k = strings.TrimPrefix(k, "egg:gunicorn#")
	switch k {
	case "sync", "gthread", "gunicorn.workers.sync.syncworker", "gunicorn.workers.gthread.threadworker":
		return "threads", nil
	case "gevent", "gevent_wsgi", "gevent_pywsgi", "eventlet", "tornado",
		"gunicorn.workers.ggevent.geventworker", "gunicorn.workers.ggevent.geventpywsgiworker",
		"gunicorn.workers.geventlet.eventletworker", "gunicorn.workers.gtornado.tornadoworker":
		return "green", nil
	}
	if strings.Contains(k, "uvicorn") || strings.Contains(k, "asgi") || strings.Contains(k, "hypercorn") || strings.Contains(k, "aiohttp") {
		return "", fmt.Errorf("worker class %s serves ASGI/asyncio applications; gowsgi serves WSGI (PEP 3333) only: run an ASGI server such as uvicorn for this app", v)
	}
	return "", fmt.Errorf("worker class %s is not one gowsgi can stand in for: gowsgi runs its own Python workers (use -k sync or gthread with --threads N); custom worker classes are not loaded", v)
}
