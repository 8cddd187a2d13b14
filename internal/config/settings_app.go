package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// appSettings are what to run and where: the app, its binds, the worker
// processes and threads, the interpreter and the app's paths.
var appSettings = []*setting{
	{
		name: "app", gunicorn: "wsgi_app", kind: Native, typ: tString,
		usage:    "the application (the positional TARGET; GOWSGI_APP)",
		why:      "the positional TARGET, as gunicorn's",
		accessor: strField(func(c *Config) *string { return &c.Target }),
	},
	{
		name: "bind", flags: []string{"-b", "--bind"}, gunicorn: "bind", kind: Native, typ: tList, def: "127.0.0.1:8000", meta: "addr",
		usage: "address to listen on: HOST:PORT, HOST (port 8000), :PORT (all interfaces), [::1]:PORT, unix:/path or fd://N (repeatable)",
		why:   "same forms: HOST[:PORT], unix:PATH, fd://N; $PORT sets the default as in gunicorn",
		defFn: func(getenv func(string) string) (string, string) {
			if p := getenv("PORT"); p != "" {
				return "0.0.0.0:" + p, "PORT"
			}
			return "127.0.0.1:8000", ""
		},
		accessor: accessor{
			apply: func(c *Config, v string) error {
				b, err := ParseBind(v)
				if err != nil {
					return err
				}
				c.Binds = append(c.Binds, b)
				return nil
			},
			show: func(c *Config) any {
				out := []string{}
				for _, b := range c.Binds {
					out = append(out, b.String())
				}
				return out
			},
		},
	},
	{
		name: "workers", flags: []string{"-w", "--workers"}, gunicorn: "workers", kind: Native, typ: tInt,
		usage: "worker processes (default: $WEB_CONCURRENCY, else 1 for an ASGI app and the CPU count for a WSGI one)",
		why:   "default: $WEB_CONCURRENCY as in gunicorn, else 1 for an ASGI app (as gunicorn's UvicornWorker) and the CPU count for a WSGI one (gunicorn: 1)",
		defFn: func(getenv func(string) string) (string, string) {
			if w := getenv("WEB_CONCURRENCY"); w != "" {
				return w, "WEB_CONCURRENCY"
			}
			return strconv.Itoa(runtime.NumCPU()), ""
		},
		accessor: accessor{apply: intField(1, func(c *Config) *int { return &c.Workers }).apply, show: showWorkers},
	},
	{
		name: "threads", flags: []string{"--threads"}, gunicorn: "threads", kind: Native, typ: tInt, def: "1",
		usage:    "threads (request slots) per worker process",
		why:      "same",
		accessor: intField(1, func(c *Config) *int { return &c.Threads }),
	},
	{
		name: "worker-class", flags: []string{"-k", "--worker-class"}, gunicorn: "worker_class", kind: Honoured, typ: tString, def: "sync",
		usage: "gunicorn worker class: sync and gthread run --threads threads; gevent and eventlet run min(--worker-connections, 64) threads; asgi and uvicorn's workers serve ASGI",
		why: "`sync`, `gthread`: `--threads` threads per worker. `gevent`, `eventlet`, `tornado`, meinheld's: min(`--worker-connections`, 64) threads unless `--threads` is given, since slow clients cost goroutines, not threads. " +
			"`asgi`, `uvicorn.workers.UvicornWorker` (and `UvicornH11Worker`), `uvicorn_worker.UvicornWorker`: ASGI (`--interface asgi`), a subclass's `CONFIG_KWARGS` honoured. " +
			"Another class is imported in the workers' Python and runs as the known class it derives from, with a notice; one with no known base is refused (exit 2)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if _, err := knownWorkerClass(v); err != nil && (c.fileClass == nil || v != c.fileClassName) {
					return err // a class object from the config file is judged by its ancestry
				}
				c.WorkerClass = v
				return nil
			},
			show: strField(func(c *Config) *string { return &c.WorkerClass }).show,
		},
	},
	{
		name: "worker-connections", flags: []string{"--worker-connections"}, gunicorn: "worker_connections", kind: Honoured, typ: tInt, def: "1000",
		usage: "with -k gevent/eventlet: sets the thread count (capped at 64); with -k asgi/uvicorn: --limit-concurrency",
		why:   "with `-k gevent`/`eventlet`: threads = min(N, 64); with an ASGI worker class: requests in flight per worker (`--limit-concurrency`); otherwise a notice (`--max-connections` bounds connections server-wide)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				n, err := parseCount(v)
				if err == nil && n < 1 {
					err = fmt.Errorf("must be at least 1, got %d", n)
				}
				c.workerConnections = n
				return err
			},
			show: func(c *Config) any { return c.workerConnections },
		},
	},
	{
		name: "python", flags: []string{"--python"}, kind: Native, typ: tString,
		usage:    "Python interpreter (default: the venv gowsgi is installed in, else $VIRTUAL_ENV/bin/python, else python3 on PATH)",
		accessor: strField(func(c *Config) *string { return &c.Python }),
	},
	{
		name: "chdir", flags: []string{"--chdir"}, gunicorn: "chdir", kind: Native, typ: tString,
		usage: "change to this directory before loading the app",
		why:   "same",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				abs, err := filepath.Abs(v)
				if err != nil {
					return err
				}
				if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
					return fmt.Errorf("%s is not a directory", v)
				}
				c.Chdir = abs
				return nil
			},
			show: strField(func(c *Config) *string { return &c.Chdir }).show,
		},
	},
	{
		name: "pythonpath", flags: []string{"--pythonpath"}, gunicorn: "pythonpath", kind: Native, typ: tList,
		usage: "directories to prepend to sys.path (comma-separated, as gunicorn; repeatable)",
		why:   "same (comma-separated); also repeatable",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				for _, p := range strings.Split(v, ",") {
					if p = strings.TrimSpace(p); p != "" {
						c.PythonPath = append(c.PythonPath, p)
					}
				}
				return nil
			},
			show: listField(func(c *Config) *[]string { return &c.PythonPath }).show,
		},
	},
	{
		name: "root-path", flags: []string{"--root-path"}, gunicorn: "root_path", kind: Native, typ: tString,
		usage: "SCRIPT_NAME: the URL prefix the app is mounted under",
		why:   "same",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if v != "" && !strings.HasPrefix(v, "/") {
					return fmt.Errorf("%q must start with /", v)
				}
				c.RootPath = strings.TrimRight(v, "/")
				return nil
			},
			show: strField(func(c *Config) *string { return &c.RootPath }).show,
		},
	},
}

// showWorkers is --print-config's workers: what will run. A count nobody
// asked for (Options.WorkersByApp) is the application's: 1 for ASGI, the
// CPU count for WSGI (supervisor.countByApp), resolved when --interface
// (or the worker class) says which, else said as both.
func showWorkers(c *Config) any {
	if c.given["workers"] != nil {
		return c.Workers
	}
	switch c.Interface {
	case InterfaceASGI:
		return 1
	case InterfaceWSGI:
		return c.Workers
	}
	return fmt.Sprintf("auto (1 for an ASGI app, %d for a WSGI one)", c.Workers)
}
