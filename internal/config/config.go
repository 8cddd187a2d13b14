// Package config turns the command line, GUNICORN_CMD_ARGS, GOWSGI_*
// environment variables and a gunicorn configuration file into one typed
// Config value. Everything is parsed here, once: main and the packages it
// starts receive sizes as byte counts, durations as time.Duration, binds and
// static mounts as checked values.
//
// Precedence, highest first: command line, GUNICORN_CMD_ARGS, GOWSGI_*
// environment, config file (-c FILE, else ./gunicorn.conf.py), defaults.
// Flag names follow gunicorn's where one exists, and every gunicorn setting
// is accepted under gunicorn's spellings: honoured, accepted with a one-line
// notice (Config.Warnings), or refused with a reason (see settings.go).
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/proxy"
)

// Config is everything gowsgi needs to run.
type Config struct {
	// Target is the application: module:callable, module, file.py[:callable]
	// or module:factory(...). From the positional argument, GOWSGI_APP, or
	// wsgi_app in a gunicorn config file.
	Target string
	// Binds are the addresses to listen on, in order; never empty.
	Binds []Bind
	// Workers is the number of worker processes (≥ 1).
	Workers int
	// Threads is the number of request slots (Python threads) per worker
	// (≥ 1). A gevent/eventlet worker class sets it from worker_connections.
	Threads int
	// WS holds the WebSocket settings (settings_ws.go).
	WS WSConfig
	// WorkerClass is gunicorn's -k value as given ("sync" by default); it is
	// already folded into Threads and is kept for --print-config and logs.
	WorkerClass string
	// Python is the interpreter as given with --python ("" = look it up
	// with pyshim.FindPython).
	Python string
	// Chdir is the directory the workers change to before loading the app;
	// absolute, and a directory when the configuration was parsed.
	Chdir string
	// PythonPath are directories prepended to sys.path, in order (gunicorn's
	// comma-separated --pythonpath is split).
	PythonPath []string
	// RootPath is SCRIPT_NAME, the URL prefix the app is mounted under,
	// without a trailing slash.
	RootPath string

	// Interface is what the app speaks: "auto" (ASGI when it is a
	// coroutine function or an object whose __call__ is one, else WSGI),
	// "wsgi" or "asgi" (ASGI 3; ASGI 2's double callable is adapted). An
	// ASGI worker class (-k asgi, uvicorn's) sets "asgi".
	Interface AppInterface
	// Lifespan is the ASGI lifespan protocol: "auto" (an app that raises
	// on it carries on without it), "on" (startup must succeed) or "off".
	Lifespan LifespanMode
	// Loop is an ASGI worker's event loop: "auto" (uvloop when it
	// imports, else asyncio), "asyncio" or "uvloop".
	Loop EventLoop
	// LimitConcurrency bounds the requests in flight per ASGI worker
	// (uvicorn's --limit-concurrency, granian's --backpressure, gunicorn's
	// worker_connections with an ASGI worker class); 0 = the runtime's
	// measured default.
	LimitConcurrency int
	// RequestTimeout is an ASGI request's deadline (--request-timeout): past
	// it only that request's task is cancelled, and its client gets 504 if
	// no response had started. 0 = none.
	RequestTimeout time.Duration

	// Static are the URL prefixes served from directories by Go.
	Static []StaticMount
	// StaticAllowDotfiles serves files and directories whose name starts
	// with "." under static mounts (refused with 404 by default).
	StaticAllowDotfiles bool
	// StaticFollowSymlinks serves symbolic links under static mounts that
	// point outside the mount's directory (refused by default).
	StaticFollowSymlinks bool
	// StaticMaxAge is the Cache-Control max-age sent with static files;
	// 0 = no Cache-Control header.
	StaticMaxAge time.Duration

	// AccessLog is where access lines (Combined Log Format) go.
	AccessLog Output
	// ErrorLog is where gowsgi's own log goes (stderr by default).
	ErrorLog Output
	// LogLevel is the error log's threshold (gunicorn's "critical" is
	// slog.LevelError).
	LogLevel slog.Level
	// AccessLogFormat is gunicorn's access_log_format; "" = the Combined
	// Log Format (gunicorn's default format, written by a fixed fast path).
	AccessLogFormat string
	// LogFormat is how both logs are written: LogText or LogJSON.
	LogFormat LogFormat
	// CaptureOutput sends the workers' stdout and stderr to the error log
	// file (gunicorn's capture_output); without it they go to gowsgi's.
	CaptureOutput bool
	// LogConfig, LogConfigJSON and LogConfigDict configure the app's
	// Python logging in each worker (gunicorn's logconfig: a fileConfig
	// file; logconfig_json: a dictConfig JSON file; logconfig_dict: the
	// dict, as JSON).
	LogConfig, LogConfigJSON, LogConfigDict string
	// StatsdHost is where statsd metrics go (HOST:PORT, UDP); "" = none.
	StatsdHost string
	// StatsdPrefix is prepended to metric names (gunicorn adds the dot).
	StatsdPrefix string
	// DogstatsdTags are appended to every metric as |#tags.
	DogstatsdTags string

	// MaxBodySize is the largest request body accepted, in bytes; larger
	// gets 413. 0 = no limit.
	MaxBodySize int64
	// BodyMemory is the largest request body held in memory, in bytes;
	// larger bodies are spooled to an unlinked file in TmpUploadDir.
	BodyMemory int64
	// BodyMemoryTotal bounds the request-body bytes held in memory by all
	// requests together; beyond it, bodies are spooled to disk.
	BodyMemoryTotal int64
	// BodyMinRate is the average rate, in bytes per second, a client must
	// keep up while sending a request body; 0 = no minimum.
	BodyMinRate int64
	// ResponseBuffer is how many response bytes gowsgi takes off a worker
	// per request and holds in memory, so a slow reader does not hold a
	// Python thread.
	ResponseBuffer int64
	// ResponseSpool is how many further response bytes per request may be
	// spooled to a temp file in TmpUploadDir once ResponseBuffer is full;
	// beyond it the worker waits for the client. 0 = no spooling.
	ResponseSpool int64
	// ResponseMemoryTotal bounds the response bytes held in memory by all
	// requests together (what is read off the workers, until the client
	// has it); beyond it responses spool to disk, and with no room there
	// new requests get 503.
	ResponseMemoryTotal int64
	// ResponseSpoolTotal bounds the response bytes in spool files of all
	// requests together; beyond it a worker waits for its client, for
	// --timeout at most, then the response is cut off.
	ResponseSpoolTotal int64
	// MaxSpoolFiles bounds the temp files open for spooled request bodies
	// (file descriptors; all responses share one more); beyond, a body
	// that needs one gets 503.
	MaxSpoolFiles int
	// TmpUploadDir is the directory for spooled request bodies and
	// responses (gunicorn's tmp_upload_dir); absolute, os.TempDir() by
	// default.
	TmpUploadDir string

	// MaxQueue is how many requests may wait for a free worker; beyond, 503.
	MaxQueue int
	// QueueTimeout is the longest a request waits for a free worker; then 503.
	QueueTimeout time.Duration
	// GracefulTimeout is how long in-flight requests may take to finish
	// after SIGTERM/SIGINT.
	GracefulTimeout time.Duration
	// KeepAlive is how long an idle keep-alive connection stays open.
	KeepAlive time.Duration
	// HeaderTimeout is the time a client has to send a request head.
	HeaderTimeout time.Duration
	// BodyTimeout is the longest pause allowed while a client sends a body.
	BodyTimeout time.Duration
	// WriteTimeout is the longest a client may stall reading a response.
	WriteTimeout time.Duration
	// MaxConnections bounds open client connections.
	MaxConnections int
	// MaxRequestLine is the longest request line, in bytes; longer gets 414.
	MaxRequestLine int
	// MaxHeaderBytes bounds the request header section, in bytes; larger
	// gets 431.
	MaxHeaderBytes int64
	// MaxHeaderFields bounds the number of request header fields; more gets
	// 431.
	MaxHeaderFields int
	// MaxFieldBytes bounds one request header field line, in bytes; longer
	// gets 431 (gunicorn's limit_request_field_size). 0 = no per-field limit.
	MaxFieldBytes int
	// BootTimeout is the time a worker may take to import the app and run
	// its lifespan startup (workers take --timeout instead when longer).
	BootTimeout time.Duration
	// Timeout: a worker silent this long on one request has its stacks
	// logged, the client gets 504 and the worker is replaced. 0 = never.
	Timeout time.Duration
	// MaxRequests recycles a worker after this many requests; 0 = never.
	MaxRequests int
	// MaxRequestsJitter adds a random 0..N to MaxRequests per worker.
	MaxRequestsJitter int
	// PipelineDepth is how many requests may be queued on one fast worker
	// thread when every thread is busy; 1 = no pipelining.
	PipelineDepth int
	// MaxMemory recycles a worker whose resident memory exceeds this many
	// bytes; 0 = never.
	MaxMemory int64
	// Preload imports the app once in a template process and forks the
	// workers from it (gunicorn's preload_app).
	Preload bool
	// Reload restarts the workers when one of the app's files changes.
	Reload bool
	// ReloadExtraFiles are further files watched with Reload.
	ReloadExtraFiles []string

	// Env are KEY=VALUE pairs (gunicorn's -e/--env, raw_env) added to the
	// workers' environment.
	Env []string
	// PidFile, when set, is where gowsgi writes its process id while it
	// runs (gunicorn's -p/--pid); see WritePidFile.
	PidFile string
	// ReusePort sets SO_REUSEPORT on the TCP sockets gowsgi binds
	// (gunicorn's --reuse-port), so another process may bind them too.
	ReusePort bool
	// Backlog is the listen(2) backlog of the sockets gowsgi binds
	// (gunicorn's --backlog); 0 = the system default (net.core.somaxconn).
	Backlog int
	// Umask is applied while unix sockets are created (gunicorn's -m);
	// -1 = leave the process umask alone.
	Umask int
	// Daemon detaches gowsgi from its terminal (gunicorn's -D/--daemon):
	// the command returns once the detached server serves.
	Daemon bool
	// UID and GID are the user and group the workers run as, and gowsgi
	// once its ports are bound (gunicorn's --user/--group); -1 = unchanged.
	// With a UID and no GID, the user's primary group.
	UID, GID int
	// InitGroups gives the user's supplementary groups (gunicorn's
	// --initgroups); otherwise there are none once the user is switched.
	InitGroups bool
	// ProcName names the workers in ps, "gowsgi: worker [NAME]" (gunicorn's
	// -n/--name); "" = the app.
	ProcName string
	// Paste is the PasteDeploy .ini file of gunicorn's --paste (absolute);
	// Target is then "paste:" + Paste. PasteGlobal are its --paste-global
	// KEY=VALUE pairs.
	Paste       string
	PasteGlobal []string
	// ForwardedAllowIPs are the peers whose word is taken (gunicorn's
	// forwarded_allow_ips): their forwarding headers, X-Request-ID and
	// traceparent are believed, and they may speak h2c. Never nil.
	ForwardedAllowIPs *proxy.AllowList
	// SecureSchemeHeaders is gunicorn's secure_scheme_headers (names
	// upper-cased); nil = gunicorn's default table (proxy.DefaultSchemeHeaders).
	SecureSchemeHeaders map[string]string
	// ProxyProtocol is which PROXY protocol headers are read from
	// ProxyAllowIPs peers (gunicorn's proxy_protocol).
	ProxyProtocol proxy.Mode
	// ProxyAllowIPs are the peers allowed to send a PROXY header
	// (gunicorn's proxy_allow_ips). Never nil.
	ProxyAllowIPs *proxy.AllowList

	// RequestID says what happens to X-Request-ID: RequestIDGenerate (a
	// trusted peer's own, else a new one), RequestIDPass (a trusted peer's
	// own only) or RequestIDOff (an ordinary header).
	RequestID RequestIDMode
	// MetricsBind is HOST:PORT for Prometheus metrics (/metrics) and the
	// health probes (/healthz, /readyz), apart from the app's binds;
	// "" = none.
	MetricsBind string

	// ResponseHeaders are the server's own fields on every response
	// (--server-header, --date-header, --header; uvicorn's names).
	ResponseHeaders http1.Defaults

	// Compress compresses responses on the fly (gzip, br, zstd, by the
	// request's Accept-Encoding); off by default.
	Compress bool
	// CompressMemory bounds the memory of the compressors of all
	// responses together; a response over it is sent uncompressed.
	CompressMemory int64

	// CertFiles and KeyFiles are the TLS certificate chains and their keys
	// (gunicorn's certfile and keyfile; repeatable, paired in order, the
	// one matching the client's SNI is served). TLS is on when CertFiles
	// is not empty; a KeyFiles entry left out means the key is in the
	// certificate file, as gunicorn allows.
	CertFiles, KeyFiles []string
	// CACerts is the PEM file of CAs client certificates are verified
	// against (gunicorn's ca_certs).
	CACerts string
	// CertReqs asks for client certificates: 0 none, 1 optional, 2
	// required (gunicorn's cert_reqs, Python's ssl.CERT_*).
	CertReqs int
	// Ciphers is an OpenSSL cipher list (gunicorn's ciphers); "" = Go's
	// defaults. Checked when parsed.
	Ciphers string
	// TLSMinVersion is the lowest TLS version accepted, from gunicorn's
	// ssl_version (TLS 1.2 by default).
	TLSMinVersion uint16
	// HTTPProtocols are the protocols offered, in order: HTTP2, HTTP1
	// (gunicorn's http_protocols; gowsgi's default is h2,h1). HTTP/2 needs
	// TLS (ALPN) unless HTTP2Cleartext allows h2c. See Offers.
	HTTPProtocols []Protocol
	// HTTP2Cleartext is gunicorn's http2_cleartext: off, prior-knowledge,
	// upgrade or both; h2c for peers in ForwardedAllowIPs only.
	HTTP2Cleartext Cleartext
	// HTTP/2 limits, gunicorn's http2_* settings.
	HTTP2MaxConcurrentStreams int
	HTTP2InitialWindowSize    int
	HTTP2MaxFrameSize         int
	HTTP2MaxHeaderListSize    int
	// HTTP2MaxStreamsTotal bounds the HTTP/2 streams being served over
	// all connections together; beyond, new streams get 503.
	HTTP2MaxStreamsTotal int

	// ConfigFile is the gunicorn config file that was read ("" = none);
	// "python:module" for a module.
	ConfigFile string
	// Hooks are the gunicorn server hooks the config file defines.
	Hooks Hooks

	// PrintConfig: print every effective setting and exit 0 (--print-config).
	PrintConfig bool
	// CheckConfig: load the configuration and the app, then exit 0 or 1.
	CheckConfig bool
	// JSON asks --print-config (and `gowsgi check`) for JSON output.
	JSON bool
	// ShowVersion: print the version and exit.
	ShowVersion bool
	// ShowHelp: usage was asked for (Parse has printed it).
	ShowHelp bool

	// Warnings are one-line notices for stderr: gunicorn settings accepted
	// but done differently, unknown config-file names. Print each as
	// "gowsgi: <warning>".
	Warnings []string

	// Args are the positional arguments (the target, for `gowsgi check`).
	Args []string

	given map[string]*given // per setting name: its winning source and values
	order []*setting        // settings in table order, for printing

	noAccessLog       bool   // --no-access-log, folded into AccessLog
	workerConnections int    // gunicorn's worker_connections, folded into Threads
	logLevelName      string // LogLevel as gunicorn names it, for --print-config
	sslVersion        string // ssl_version as given, for --print-config

	// uvicorn's and granian's options, folded in by finishPeers.
	host, port          string   // --host, --port ("" = not given)
	uds                 string   // --uds
	fd                  int      // --fd
	proxyHeaders        bool     // --proxy-headers (default) / --no-proxy-headers
	httpParser          string   // --http h11/httptools, for a notice
	envFileVars         []string // --env-file's KEY=VALUE pairs, before --env's
	factory             bool     // --factory: TARGET + "()"
	sslClientVerify     bool     // granian's --ssl-client-verify: --cert-reqs 2
	staticRoute         string   // granian's --static-path-route
	staticMount         string   // granian's --static-path-mount
	staticExpires       time.Duration
	interfaceNoLifespan bool        // granian's --interface asginl
	loopNote            string      // why a granian loop name runs auto
	insecureBinds       []string    // hypercorn's --insecure-bind, judged by finishHypercorn
	fileClass           *classProbe // a worker_class class object's ancestry, from the config file
	fileClassName       string      // its name, as worker_class reads
}

// Bind is one address to listen on.
type Bind struct {
	// Network is "tcp", "unix" or "fd" (an inherited listening socket,
	// gunicorn's fd://N; Addr is then the descriptor number).
	Network string
	// Addr is the address for net.Listen: "host:port", a socket path, or
	// the descriptor number.
	Addr string
	// Spec is the bind as the user wrote it, for messages.
	Spec string
	// Plain: TLS does not apply to this bind, though it serves every
	// other (hypercorn's --insecure-bind).
	Plain bool
}

// String is the bind in --bind syntax, with gunicorn's defaults filled in:
// "0.0.0.0:8000", "unix:/run/app.sock", "fd://3".
func (b Bind) String() string {
	switch b.Network {
	case "unix":
		return "unix:" + b.Addr
	case "fd":
		return "fd://" + b.Addr
	}
	return b.Addr
}

// StaticMount maps a URL prefix to a directory.
type StaticMount struct {
	// Prefix is the URL prefix, starting with "/" and without a trailing
	// slash ("" for the root).
	Prefix string
	// Dir is the absolute directory; it existed and was a directory when
	// the configuration was parsed.
	Dir string
}

// Spec returns the mount as "/PREFIX=DIR" (the --static syntax).
func (m StaticMount) Spec() string { return m.Prefix + "=" + m.Dir }

// OutputKind says where a log goes.
type OutputKind int

// Log destinations.
const (
	OutputOff    OutputKind = iota // no log
	OutputStdout                   // the process's stdout
	OutputStderr                   // the process's stderr
	OutputFile                     // Output.Path, opened for appending
)

// Output is a log destination.
type Output struct {
	To   OutputKind
	Path string // for OutputFile: the file, absolute
}

// String returns the destination as the flags spell it: "-" style names
// are written out ("stdout", "stderr"), "" for off.
func (o Output) String() string {
	switch o.To {
	case OutputStdout:
		return "stdout"
	case OutputStderr:
		return "stderr"
	case OutputFile:
		return o.Path
	}
	return ""
}

// Open returns a writer for the destination, and whether the caller must
// close it (a file). OutputOff returns (nil, false, nil).
func (o Output) Open() (io.WriteCloser, bool, error) {
	switch o.To {
	case OutputStdout:
		return os.Stdout, false, nil
	case OutputStderr:
		return os.Stderr, false, nil
	case OutputFile:
		f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		return f, err == nil, err
	}
	return nil, false, nil
}

// Hooks records the gunicorn server hooks (on_starting, post_fork, ...) a
// config file defines; internal/hooks and the workers run them from File.
type Hooks struct {
	// File is the config file (or "python:module") that defines them.
	File string
	// Names are the hook names defined there, in gunicorn's order.
	Names []string
}

// ErrHelp is returned when -h/--help was asked for; usage has been printed.
var ErrHelp = errors.New("help requested")

// UsageError is a configuration mistake: the message is one line, and the
// process should exit 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Parse reads args (without the program name), GUNICORN_CMD_ARGS and the
// GOWSGI_* environment through getenv, and a gunicorn config file when one
// is named or ./gunicorn.conf.py exists, for `gowsgi [OPTIONS] TARGET`.
// -h prints usage to usageOut and returns ErrHelp.
func Parse(args []string, getenv func(string) string, usageOut io.Writer) (*Config, error) {
	c, err := load(args, getenv)
	if err != nil {
		return nil, err
	}
	if c.ShowHelp {
		fmt.Fprint(usageOut, Usage())
		return c, ErrHelp
	}
	if c.ShowVersion {
		return c, nil
	}
	switch len(c.Args) {
	case 0:
		if c.Target == "" && !c.PrintConfig {
			return nil, errors.New("no application given; usage: gowsgi [OPTIONS] TARGET (e.g. gowsgi myproject.wsgi:application)")
		}
	case 1:
	default:
		return nil, fmt.Errorf("one application expected, got %d: %s", len(c.Args), strings.Join(c.Args, " "))
	}
	return c, nil
}

// ParseCheck reads the arguments of `gowsgi check` the way Parse reads
// gowsgi's: the same flags, environment and config file. The positional
// arguments are left in Config.Args for the caller to judge; -h sets
// ShowHelp and prints nothing.
func ParseCheck(args []string, getenv func(string) string) (*Config, error) {
	return load(args, getenv)
}

// Usage is gowsgi's -h text.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage: gowsgi [OPTIONS] TARGET\n       gowsgi check [--json] TARGET\n\n" +
		"TARGET is module:callable, module (callable app or application), path/to/file.py[:callable]\n" +
		"or module:factory() to call a factory once per worker.\n\nOptions:\n")
	b.WriteString(FlagUsages())
	b.WriteString("\ngunicorn's options, GUNICORN_CMD_ARGS and gunicorn.conf.py are accepted too;\n" +
		"see \"Migrating from gunicorn\" in the README, or run with --print-config.\n")
	return b.String()
}

// ParseSize reads a byte size: a number with an optional K, M or G suffix
// (powers of 1024; "KB", "MiB" and friends accepted too).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 512K, 10M, 1G)", s)
	}
	return n * mult, nil
}

// ParseDuration reads plain seconds ("30", "0.5", as gunicorn takes them)
// or a Go duration ("500ms", "30s", "2m").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30, 30s, 500ms, 2m)", s)
	}
	return d, nil
}

// ParseBind reads a --bind value as gunicorn does: HOST:PORT, HOST (port
// 8000), :PORT (every interface), [IPv6]:PORT, tcp://HOST:PORT,
// unix:/path or unix:///path, and fd://N (an inherited listening socket).
func ParseBind(b string) (Bind, error) {
	bind := Bind{Spec: b}
	if p, ok := strings.CutPrefix(b, "unix:"); ok {
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			return bind, fmt.Errorf("%q: empty socket path", b)
		}
		bind.Network, bind.Addr = "unix", p
		return bind, nil
	}
	if fd, ok := strings.CutPrefix(b, "fd://"); ok {
		n, err := strconv.Atoi(fd)
		if err != nil || n < 0 {
			return bind, fmt.Errorf("%q: %q is not a file descriptor number", b, fd)
		}
		bind.Network, bind.Addr = "fd", fd
		return bind, nil
	}
	addr := strings.TrimPrefix(b, "tcp://")
	host, port := addr, "8000"
	switch {
	case strings.HasPrefix(addr, "["):
		end := strings.IndexByte(addr, ']')
		if end < 0 {
			return bind, fmt.Errorf("%q: unbalanced brackets around the IPv6 address", b)
		}
		host = addr[:end+1]
		if rest := addr[end+1:]; rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return bind, fmt.Errorf("%q: expected [IPv6]:PORT", b)
			}
			port = p
		}
	case strings.Count(addr, ":") > 1:
		return bind, fmt.Errorf("%q: put an IPv6 address in brackets, e.g. [::1]:8000", b)
	case strings.Contains(addr, "]"):
		return bind, fmt.Errorf("%q: unbalanced brackets around the IPv6 address", b)
	case strings.Contains(addr, ":"):
		host, port, _ = strings.Cut(addr, ":")
	case addr == "":
		host = "0.0.0.0"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return bind, fmt.Errorf("%q: port %q is not a number from 0 to 65535", b, port)
	}
	bind.Network, bind.Addr = "tcp", host+":"+port
	return bind, nil
}

// ParseStatic reads a --static value, "/URL-PREFIX=DIR", and checks that
// DIR is a directory; Dir comes back absolute.
func ParseStatic(s string) (StaticMount, error) {
	prefix, dir, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(prefix, "/") || dir == "" {
		return StaticMount{}, fmt.Errorf("%q: expected /URL-PREFIX=DIRECTORY, e.g. /static=./staticfiles", s)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return StaticMount{}, fmt.Errorf("%q: %v", s, err)
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return StaticMount{}, fmt.Errorf("%q: %s is not a directory", s, dir)
	}
	return StaticMount{Prefix: strings.TrimRight(prefix, "/"), Dir: abs}, nil
}

// ParseLogLevel reads debug, info, warning (warn), error or critical.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug", "trace": // uvicorn's trace: gowsgi has nothing below debug
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error", "critical":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q (debug, info, warning, error, critical)", s)
}

// parseOutput reads a log destination: "-" (stdout for the access log,
// stderr for the error log, as gunicorn), "stdout", "stderr", or a file.
func parseOutput(s string, dash OutputKind) (Output, error) {
	switch s {
	case "":
		return Output{}, errors.New("empty log destination (use - for the standard stream)")
	case "-":
		return Output{To: dash}, nil
	case "stdout", "/dev/stdout":
		return Output{To: OutputStdout}, nil
	case "stderr", "/dev/stderr":
		return Output{To: OutputStderr}, nil
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return Output{}, err
	}
	return Output{To: OutputFile, Path: abs}, nil
}

// parseBool reads a boolean as gunicorn's validate_bool does.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "on", "1", "t":
		return true, nil
	case "false", "no", "n", "off", "0", "f", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", s)
}

// parseCount reads a non-negative integer (0x and 0o prefixes accepted, as
// gunicorn's int(value, 0)).
func parseCount(s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	if err != nil || n < 0 || n > 1<<31 {
		return 0, fmt.Errorf("%q is not a whole number ≥ 0", s)
	}
	return int(n), nil
}

// WritePidFile writes the process id to PidFile, when one is set, and
// returns a function that removes it, unless it holds another pid by then
// (a binary upgrade's new process wrote its own). Errors name the file.
func (c *Config) WritePidFile() (remove func(), err error) {
	if c.PidFile == "" {
		return func() {}, nil
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if err := os.WriteFile(c.PidFile, []byte(pid), 0o644); err != nil {
		return nil, fmt.Errorf("--pid: %v", err)
	}
	return func() {
		if b, err := os.ReadFile(c.PidFile); err == nil && string(b) == pid {
			os.Remove(c.PidFile)
		}
	}, nil
}
