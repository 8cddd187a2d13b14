// Package config turns the command line and GOWSGI_* environment variables
// into one Config value. Flags win over the environment; the environment wins
// over defaults. Flag names follow gunicorn's where one exists.
package config

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is everything gowsgi needs to run.
type Config struct {
	Target     string
	Binds      []string
	Workers    int
	Threads    int
	Python     string
	Chdir      string
	PythonPath []string
	RootPath   string
	Static     []string // "/URL-PREFIX=DIR"

	AccessLog   string // "-" = stdout, "" = off, else a file path
	LogLevel    string
	MaxBodySize int64
	BodyMemory  int64
	MaxQueue    int

	QueueTimeout      time.Duration
	GracefulTimeout   time.Duration
	KeepAlive         time.Duration
	HeaderTimeout     time.Duration
	BodyTimeout       time.Duration
	WriteTimeout      time.Duration
	MaxConnections    int
	MaxRequestLine    int
	MaxHeaderBytes    int
	MaxHeaderFields   int
	BootTimeout       time.Duration
	Timeout           time.Duration
	MaxRequests       int
	PipelineDepth     int
	MaxRequestsJitter int
	MaxMemoryMiB      int
	Preload           bool
	Reload            bool
	ReloadExtraFiles  []string
	ShowVersion       bool
	ShowHelp          bool
	noAccessLog       bool
	maxBodySizeText   string
	bodyMemoryText    string
	maxHeaderByteText string
}

// ErrHelp is returned when -h/--help was asked for; usage has been printed.
var ErrHelp = errors.New("help requested")

// Parse reads args (without the program name) and the environment.
func Parse(args []string, getenv func(string) string, usageOut io.Writer) (*Config, error) {
	c := &Config{}
	fs := pflag.NewFlagSet("gowsgi", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false

	fs.StringArrayVarP(&c.Binds, "bind", "b", nil, "address to listen on: HOST:PORT, :PORT (all interfaces), [::1]:PORT or unix:/path (repeatable; default 127.0.0.1:8000)")
	fs.IntVarP(&c.Workers, "workers", "w", runtime.NumCPU(), "worker processes")
	fs.IntVar(&c.Threads, "threads", 1, "threads (request slots) per worker process")
	fs.StringVar(&c.Python, "python", "", "Python interpreter (default: $VIRTUAL_ENV/bin/python, else python3 on PATH)")
	fs.StringVar(&c.Chdir, "chdir", "", "change to this directory before loading the app")
	fs.StringArrayVar(&c.PythonPath, "pythonpath", nil, "directory to prepend to sys.path (repeatable)")
	fs.StringVar(&c.RootPath, "root-path", "", "SCRIPT_NAME: the URL prefix the app is mounted under")
	fs.StringArrayVar(&c.Static, "static", nil, "serve files from DIR at URL-PREFIX from Go, never reaching Python: /URL-PREFIX=DIR (repeatable)")
	fs.StringVar(&c.AccessLog, "access-log", "-", "access log file, '-' for stdout")
	fs.BoolVar(&c.noAccessLog, "no-access-log", false, "do not write an access log")
	fs.StringVar(&c.LogLevel, "log-level", "info", "error log level: debug, info, warning, error")
	fs.StringVar(&c.maxBodySizeText, "max-body-size", "0", "largest request body accepted (e.g. 10M); larger gets 413; 0 = unlimited")
	fs.StringVar(&c.bodyMemoryText, "body-memory", "1M", "request bodies larger than this are spooled to a temp file")
	fs.IntVar(&c.MaxQueue, "max-queue", 2048, "requests that may wait for a free worker; beyond, 503")
	durationVar(fs, &c.QueueTimeout, "", "queue-timeout", 30*time.Second, "longest wait for a free worker before 503")
	durationVar(fs, &c.GracefulTimeout, "", "graceful-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long in-flight requests may take to finish")
	durationVar(fs, &c.KeepAlive, "", "keep-alive", 5*time.Second, "how long an idle keep-alive connection is kept open")
	durationVar(fs, &c.HeaderTimeout, "", "header-timeout", 10*time.Second, "time allowed to send a request's head (slowloris protection)")
	durationVar(fs, &c.BodyTimeout, "", "body-timeout", 30*time.Second, "longest pause allowed while a client sends a request body")
	durationVar(fs, &c.WriteTimeout, "", "write-timeout", 30*time.Second, "longest a client may stall reading a response")
	fs.IntVar(&c.MaxConnections, "max-connections", 10000, "open client connections; beyond, new ones wait to be accepted")
	fs.IntVar(&c.MaxRequestLine, "limit-request-line", 8190, "longest request line; longer gets 414")
	fs.StringVar(&c.maxHeaderByteText, "limit-request-header-size", "64K", "largest request header section; larger gets 431")
	fs.IntVar(&c.MaxHeaderFields, "limit-request-fields", 100, "most request header fields; more gets 431")
	durationVar(fs, &c.BootTimeout, "", "boot-timeout", 2*time.Minute, "time a worker may take to import the app")
	durationVar(fs, &c.Timeout, "t", "timeout", 30*time.Second, "a worker silent this long on a request has its stacks logged, gets 504 and is replaced; 0 = never")
	fs.IntVar(&c.PipelineDepth, "pipeline-depth", 32, "when every worker thread is busy, queue up to this many requests on one that is answering fast (fewer wake-ups under load); 1 = off")
	fs.IntVar(&c.MaxRequests, "max-requests", 0, "recycle a worker after this many requests; 0 = never")
	fs.IntVar(&c.MaxRequestsJitter, "max-requests-jitter", 0, "add a random 0..N to --max-requests per worker")
	fs.IntVar(&c.MaxMemoryMiB, "max-memory", 0, "recycle a worker whose resident memory exceeds this many MiB; 0 = never")
	fs.BoolVar(&c.Preload, "preload", false, "import the app once in a template process and fork the workers from it (copy-on-write; see README)")
	fs.BoolVar(&c.Reload, "reload", false, "development: restart workers when a Python file of the app changes")
	fs.StringArrayVar(&c.ReloadExtraFiles, "reload-extra-file", nil, "with --reload, also watch this file (repeatable)")
	fs.BoolVarP(&c.ShowVersion, "version", "v", false, "print the version and exit")
	fs.BoolVarP(&c.ShowHelp, "help", "h", false, "show this help")

	// GOWSGI_THREADS=8 is --threads 8; a flag given on the command line wins.
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		v := getenv("GOWSGI_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
		if v == "" || envErr != nil {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = fmt.Errorf("GOWSGI_%s: %v", strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")), err)
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	// --bind flags replace GOWSGI_BIND rather than add to it.
	envBinds := c.Binds
	c.Binds = nil
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if len(c.Binds) == 0 {
		c.Binds = envBinds
	}
	if c.ShowHelp {
		fmt.Fprintf(usageOut, "Usage: gowsgi [OPTIONS] TARGET\n       gowsgi check [--json] TARGET\n\n"+
			"TARGET is module:callable, module (callable app or application), path/to/file.py[:callable]\n"+
			"or module:factory() to call a factory once per worker.\n\nOptions:\n%s", fs.FlagUsages())
		return c, ErrHelp
	}
	if c.ShowVersion {
		return c, nil
	}
	rest := fs.Args()
	switch len(rest) {
	case 0:
		if t := getenv("GOWSGI_APP"); t != "" {
			c.Target = t
		} else {
			return nil, errors.New("no application given; usage: gowsgi [OPTIONS] TARGET (e.g. gowsgi myproject.wsgi:application)")
		}
	case 1:
		c.Target = rest[0]
	default:
		return nil, fmt.Errorf("one application expected, got %d: %s", len(rest), strings.Join(rest, " "))
	}
	return c, c.finish()
}

func (c *Config) finish() error {
	if c.noAccessLog {
		c.AccessLog = ""
	}
	if len(c.Binds) == 0 {
		c.Binds = []string{"127.0.0.1:8000"}
	}
	if c.Workers < 1 {
		return fmt.Errorf("--workers must be at least 1, got %d", c.Workers)
	}
	if c.Threads < 1 {
		return fmt.Errorf("--threads must be at least 1, got %d", c.Threads)
	}
	if c.MaxRequests < 0 || c.MaxRequestsJitter < 0 || c.MaxMemoryMiB < 0 {
		return errors.New("--max-requests, --max-requests-jitter and --max-memory cannot be negative")
	}
	if len(c.ReloadExtraFiles) > 0 && !c.Reload {
		return errors.New("--reload-extra-file needs --reload")
	}
	var err error
	if c.MaxBodySize, err = ParseSize(c.maxBodySizeText); err != nil {
		return fmt.Errorf("--max-body-size: %v", err)
	}
	if c.BodyMemory, err = ParseSize(c.bodyMemoryText); err != nil {
		return fmt.Errorf("--body-memory: %v", err)
	}
	hb, err := ParseSize(c.maxHeaderByteText)
	if err != nil {
		return fmt.Errorf("--limit-request-header-size: %v", err)
	}
	c.MaxHeaderBytes = int(hb)
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warning", "warn", "error", "critical":
	default:
		return fmt.Errorf("--log-level: unknown level %q (debug, info, warning, error)", c.LogLevel)
	}
	for _, b := range c.Binds {
		if _, _, err := ParseBind(b); err != nil {
			return err
		}
	}
	return nil
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
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 512K, 10M, 1G)", s)
	}
	return n * mult, nil
}

// ParseBind splits a --bind value into a network ("tcp" or "unix") and an
// address for net.Listen.
func ParseBind(b string) (network, addr string, err error) {
	if p, ok := strings.CutPrefix(b, "unix:"); ok {
		if p == "" {
			return "", "", fmt.Errorf("--bind %q: empty socket path", b)
		}
		return "unix", p, nil
	}
	if strings.HasPrefix(b, "tcp://") {
		b = strings.TrimPrefix(b, "tcp://")
	}
	i := strings.LastIndexByte(b, ':')
	if i < 0 {
		return "", "", fmt.Errorf("--bind %q: expected HOST:PORT, :PORT or unix:/path", b)
	}
	host, port := b[:i], b[i+1:]
	if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") {
		return "", "", fmt.Errorf("--bind %q: unbalanced brackets around the IPv6 address", b)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", "", fmt.Errorf("--bind %q: port %q is not a number from 0 to 65535", b, port)
	}
	return "tcp", b, nil
}

// secondsOrDuration is a duration flag that also takes plain seconds, so
// gunicorn's "-t 30" works as well as "-t 30s" or "-t 1m30s".
type secondsOrDuration struct{ d *time.Duration }

func (v secondsOrDuration) String() string { return v.d.String() }
func (v secondsOrDuration) Type() string   { return "duration" }
func (v secondsOrDuration) Set(s string) error {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return fmt.Errorf("%q is negative", s)
		}
		*v.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a duration (e.g. 30, 30s, 500ms, 2m)", s)
	}
	*v.d = d
	return nil
}

func durationVar(fs *pflag.FlagSet, p *time.Duration, short, name string, def time.Duration, usage string) {
	*p = def
	fs.VarP(secondsOrDuration{p}, name, short, usage)
}
