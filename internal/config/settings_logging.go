package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/logging"
)

// logSettings are both logs, their formats, the workers' captured output,
// the app's Python logging, statsd, the metrics listener and request IDs.
var logSettings = []*setting{
	{
		name: "access-log", flags: []string{"--access-log", "--access-logfile"}, gunicorn: "accesslog", kind: Native, typ: tString, def: "-", meta: "file",
		usage: "access log (Combined Log Format, or --access-logformat): FILE, or - for stdout; reopened on SIGUSR1",
		why:   "same; gowsgi writes one by default (to stdout), `--no-access-log` turns it off; reopened on SIGUSR1 for logrotate",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				o, err := parseOutput(v, OutputStdout)
				c.AccessLog = o
				return err
			},
			show: func(c *Config) any { return outputValue(c.AccessLog) },
		},
	},
	{
		name: "no-access-log", flags: []string{"--no-access-log"}, kind: Native, typ: tBool, def: "false",
		usage:    "do not write an access log",
		accessor: boolField(func(c *Config) *bool { return &c.noAccessLog }),
	},
	{
		name: "error-log", flags: []string{"--error-log", "--error-logfile", "--log-file"}, gunicorn: "errorlog", kind: Native, typ: tString, def: "-", meta: "file",
		usage: "gowsgi's own log: FILE, or - for stderr (the app's output too with --capture-output); reopened on SIGUSR1",
		why:   "same; reopened on SIGUSR1 for logrotate; the app's stdout/stderr join it with `--capture-output`",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				o, err := parseOutput(v, OutputStderr)
				c.ErrorLog = o
				return err
			},
			show: func(c *Config) any { return outputValue(c.ErrorLog) },
		},
	},
	{
		name: "log-level", flags: []string{"--log-level"}, gunicorn: "loglevel", kind: Native, typ: tString, def: "info",
		usage: "error log level: debug, info, warning, error, critical",
		why:   "same",
		accessor: accessor{
			apply: func(c *Config, v string) error {
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
			},
			show: func(c *Config) any { return c.logLevelName },
		},
	},
	{
		name: "access-logformat", flags: []string{"--access-logformat"}, gunicorn: "access_log_format", kind: Honoured, typ: tString,
		usage: `access log format with gunicorn's atoms, e.g. '%(h)s "%(r)s" %(s)s %(M)sms %({x-request-id}i)s' (default: Combined Log Format)`,
		why:   "same atoms and meanings (`%(h)s` ... `%({header}i)s`, `%({header}o)s`, `%({var}e)s`); values are escaped so a client cannot forge log lines",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if v == gunicornAccessFormat {
					v = "" // the built-in Combined Log Format writer
				}
				if _, err := logging.ParseAccessFormat(v); err != nil {
					return err
				}
				c.AccessLogFormat = v
				return nil
			},
			show: func(c *Config) any {
				if c.AccessLogFormat == "" {
					return gunicornAccessFormat
				}
				return c.AccessLogFormat
			},
		},
	},
	{
		name: "log-format", flags: []string{"--log-format"}, kind: Native, typ: tString, def: "text",
		usage:    "format of both logs: text, or json (one JSON object a line)",
		accessor: enumField(func(c *Config) *LogFormat { return &c.LogFormat }, "%q is not a log format (text, json)", LogText, LogJSON),
	},
	{
		name: "capture-output", flags: []string{"--capture-output"}, gunicorn: "capture_output", kind: Honoured, typ: tBool, def: "false",
		usage:    "send the workers' stdout and stderr (print(), tracebacks) to the --error-logfile file",
		why:      "same: the workers' stdout/stderr go to the `--error-logfile` file (reopened with it on SIGUSR1)",
		accessor: boolField(func(c *Config) *bool { return &c.CaptureOutput }),
	},
	{
		name: "log-config", flags: []string{"--log-config"}, gunicorn: "logconfig", kind: Honoured, typ: tString,
		usage:    "a logging.config.fileConfig file applied to the app's Python logging in each worker",
		why:      "applied in each worker with `logging.config.fileConfig` before the app is imported; gowsgi's own log is set with `--log-level`/`--error-logfile`",
		accessor: strField(func(c *Config) *string { return &c.LogConfig }),
	},
	{
		name: "log-config-json", flags: []string{"--log-config-json"}, gunicorn: "logconfig_json", kind: Honoured, typ: tString,
		usage:    "a JSON logging.config.dictConfig file applied to the app's Python logging in each worker",
		why:      "applied in each worker with `logging.config.dictConfig` before the app is imported",
		accessor: strField(func(c *Config) *string { return &c.LogConfigJSON }),
	},
	{
		name: "logconfig_dict", gunicorn: "logconfig_dict", kind: Honoured, typ: tString, noEnv: true,
		why: "applied in each worker with `logging.config.dictConfig` before the app is imported",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if v == "" || v == "{}" {
					c.LogConfigDict = ""
					return nil
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(v), &m); err != nil {
					return fmt.Errorf("not a dict: %v", err)
				}
				c.LogConfigDict = v
				return nil
			},
			show: func(c *Config) any {
				m := map[string]any{}
				json.Unmarshal([]byte(c.LogConfigDict), &m)
				return m
			},
		},
	},
	{
		name: "statsd-host", flags: []string{"--statsd-host"}, gunicorn: "statsd_host", kind: Honoured, typ: tString,
		usage: "send statsd metrics (gunicorn's names) to HOST:PORT over UDP",
		why:   "same metrics: `gunicorn.requests`, `gunicorn.request.duration`, `gunicorn.request.status.<code>`, `gunicorn.workers`, `gunicorn.log.*`",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if v == "" {
					c.StatsdHost = ""
					return nil
				}
				host, port, err := net.SplitHostPort(v)
				if err != nil {
					host, port = v, "8125" // gunicorn's default statsd port
				}
				if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
					return fmt.Errorf("%q is not HOST:PORT", v)
				}
				c.StatsdHost = net.JoinHostPort(host, port)
				return nil
			},
			show: func(c *Config) any {
				if c.StatsdHost == "" {
					return nil
				}
				return c.StatsdHost
			},
		},
	},
	{
		name: "statsd-prefix", flags: []string{"--statsd-prefix"}, gunicorn: "statsd_prefix", kind: Honoured, typ: tString,
		usage:    "prefix for statsd metric names (a trailing . is added)",
		why:      "same",
		accessor: strField(func(c *Config) *string { return &c.StatsdPrefix }),
	},
	{
		name: "dogstatsd-tags", flags: []string{"--dogstatsd-tags"}, gunicorn: "dogstatsd_tags", kind: Honoured, typ: tString,
		usage:    "comma-separated dogstatsd tags appended to every metric",
		why:      "same",
		accessor: strField(func(c *Config) *string { return &c.DogstatsdTags }),
	},
	{
		name: "metrics-bind", flags: []string{"--metrics-bind"}, kind: Native, typ: tString,
		usage: "serve Prometheus metrics (/metrics) and health probes (/healthz, /readyz) on HOST:PORT, apart from the app (README: Deployment)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				c.MetricsBind = strings.TrimSpace(v)
				if c.MetricsBind == "" {
					return nil
				}
				if _, port, err := net.SplitHostPort(c.MetricsBind); err != nil || port == "" {
					return fmt.Errorf("%q: expected HOST:PORT (e.g. 127.0.0.1:9100 or :9100)", v)
				}
				return nil
			},
			show: strField(func(c *Config) *string { return &c.MetricsBind }).show,
		},
	},
	{
		name: "request-id", flags: []string{"--request-id"}, kind: Native, typ: tString, def: "generate",
		usage: "X-Request-ID: generate (a trusted peer's own, else a new one), pass (only a trusted peer's own), off; it reaches the app as gowsgi.request_id, goes back in the response and into the logs",
		accessor: enumField(func(c *Config) *RequestIDMode { return &c.RequestID }, "%q: expected generate, pass or off",
			RequestIDGenerate, RequestIDPass, RequestIDOff),
	},
}
