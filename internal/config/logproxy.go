package config

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/logging"
	"github.com/gowsgi/gowsgi/internal/proxy"
)

// rowFunc adds one row to the settings table (see init in settings.go).
type rowFunc func(name string, flags []string, gunicorn string, kind Kind, typ valueType, def, usage, why string,
	apply func(*Config, string) error, show func(*Config) any) *setting

// logSettings are the access log format, the log format, captured worker
// output, the app's Python logging configuration and statsd.
func logSettings(row rowFunc) {
	f := func(spellings ...string) []string { return spellings }
	row("access-logformat", f("--access-logformat"), "access_log_format", Honoured, tString, "",
		`access log format with gunicorn's atoms, e.g. '%(h)s "%(r)s" %(s)s %(M)sms %({x-request-id}i)s' (default: Combined Log Format)`,
		"same atoms and meanings (`%(h)s` ... `%({header}i)s`, `%({header}o)s`, `%({var}e)s`); values are escaped so a client cannot forge log lines",
		func(c *Config, v string) error {
			if v == gunicornAccessFormat {
				v = "" // the built-in Combined Log Format writer
			}
			if _, err := logging.ParseAccessFormat(v); err != nil {
				return err
			}
			c.AccessLogFormat = v
			return nil
		}, func(c *Config) any {
			if c.AccessLogFormat == "" {
				return gunicornAccessFormat
			}
			return c.AccessLogFormat
		})
	row("log-format", f("--log-format"), "", Native, tString, "text", "format of both logs: text, or json (one JSON object a line)", "",
		func(c *Config, v string) error {
			switch v = strings.ToLower(strings.TrimSpace(v)); v {
			case "text", "json":
				c.LogFormat = v
				return nil
			}
			return fmt.Errorf("%q is not a log format (text, json)", v)
		}, func(c *Config) any { return c.LogFormat })
	a, sh := boolField(func(c *Config) *bool { return &c.CaptureOutput })
	row("capture-output", f("--capture-output"), "capture_output", Honoured, tBool, "false",
		"send the workers' stdout and stderr (print(), tracebacks) to the --error-logfile file",
		"same: the workers' stdout/stderr go to the `--error-logfile` file (reopened with it on SIGUSR1)", a, sh)
	a, sh = strField(func(c *Config) *string { return &c.LogConfig })
	row("log-config", f("--log-config"), "logconfig", Honoured, tString, "",
		"a logging.config.fileConfig file applied to the app's Python logging in each worker",
		"applied in each worker with `logging.config.fileConfig` before the app is imported; gowsgi's own log is set with `--log-level`/`--error-logfile`", a, sh)
	a, sh = strField(func(c *Config) *string { return &c.LogConfigJSON })
	row("log-config-json", f("--log-config-json"), "logconfig_json", Honoured, tString, "",
		"a JSON logging.config.dictConfig file applied to the app's Python logging in each worker",
		"applied in each worker with `logging.config.dictConfig` before the app is imported", a, sh)
	row("logconfig_dict", nil, "logconfig_dict", Honoured, tString, "", "",
		"applied in each worker with `logging.config.dictConfig` before the app is imported",
		func(c *Config, v string) error {
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
		}, func(c *Config) any {
			m := map[string]any{}
			json.Unmarshal([]byte(c.LogConfigDict), &m)
			return m
		}).noEnv = true

	row("statsd-host", f("--statsd-host"), "statsd_host", Honoured, tString, "", "send statsd metrics (gunicorn's names) to HOST:PORT over UDP",
		"same metrics: `gunicorn.requests`, `gunicorn.request.duration`, `gunicorn.request.status.<code>`, `gunicorn.workers`, `gunicorn.log.*`",
		func(c *Config, v string) error {
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
		}, func(c *Config) any {
			if c.StatsdHost == "" {
				return nil
			}
			return c.StatsdHost
		})
	a, sh = strField(func(c *Config) *string { return &c.StatsdPrefix })
	row("statsd-prefix", f("--statsd-prefix"), "statsd_prefix", Honoured, tString, "", "prefix for statsd metric names (a trailing . is added)", "same", a, sh)
	a, sh = strField(func(c *Config) *string { return &c.DogstatsdTags })
	row("dogstatsd-tags", f("--dogstatsd-tags"), "dogstatsd_tags", Honoured, tString, "", "comma-separated dogstatsd tags appended to every metric", "same", a, sh)
}

// proxySettings are the trusted proxies and the PROXY protocol.
func proxySettings(row rowFunc) {
	f := func(spellings ...string) []string { return spellings }
	// An allow list is parsed here, once; each value given adds to it.
	allow := func(field func(*Config) **proxy.AllowList) (func(*Config, string) error, func(*Config) any) {
		return func(c *Config, v string) error {
				l, err := (*field(c)).Extend(v)
				if err != nil {
					return err
				}
				*field(c) = l
				return nil
			}, func(c *Config) any {
				return nonNil((*field(c)).Items())
			}
	}
	a, sh := allow(func(c *Config) **proxy.AllowList { return &c.ForwardedAllowIPs })
	row("forwarded-allow-ips", f("--forwarded-allow-ips"), "forwarded_allow_ips", Honoured, tList, "127.0.0.1,::1",
		"proxies whose X-Forwarded-*, Forwarded and secure scheme headers are believed: IPs, CIDRs, or * (default $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)",
		"same (IPs, CIDRs, `*`; default `$FORWARDED_ALLOW_IPS`, else `127.0.0.1,::1`); trusted peers also set REMOTE_ADDR (X-Forwarded-For, Forwarded), HTTP_HOST/SERVER_NAME/SERVER_PORT (X-Forwarded-Host/-Port)",
		a, sh).defFn = func(getenv func(string) string) (string, string) {
		if v := getenv("FORWARDED_ALLOW_IPS"); v != "" {
			return v, "FORWARDED_ALLOW_IPS"
		}
		return "127.0.0.1,::1", ""
	}
	row("secure_scheme_headers", nil, "secure_scheme_headers", Honoured, tString, "", "",
		"same (a dict in the config file); default `X-FORWARDED-PROTOCOL: ssl`, `X-FORWARDED-PROTO: https`, `X-FORWARDED-SSL: on`",
		func(c *Config, v string) error {
			m := map[string]string{}
			if v != "" {
				if err := json.Unmarshal([]byte(v), &m); err != nil {
					return fmt.Errorf("not a dict of header: value strings: %v", err)
				}
			}
			c.SecureSchemeHeaders = map[string]string{}
			for k, val := range m {
				c.SecureSchemeHeaders[strings.ToUpper(k)] = val
			}
			return nil
		}, func(c *Config) any {
			if c.SecureSchemeHeaders == nil {
				return proxy.DefaultSchemeHeaders
			}
			return c.SecureSchemeHeaders
		}).noEnv = true
	row("proxy-protocol", f("--proxy-protocol"), "proxy_protocol", Honoured, tString, "off",
		"read a PROXY protocol header (v1, v2 or auto; the flag alone = auto) from --proxy-allow-from peers: it sets REMOTE_ADDR/REMOTE_PORT",
		"same (`off`, `v1`, `v2`, `auto`, or a boolean); a header is read only from `--proxy-allow-from` peers, under `--header-timeout`",
		func(c *Config, v string) error {
			m, err := proxy.ParseMode(v)
			c.ProxyProtocol = m
			return err
		}, func(c *Config) any { return c.ProxyProtocol.String() })
	a, sh = allow(func(c *Config) **proxy.AllowList { return &c.ProxyAllowIPs })
	row("proxy-allow-from", f("--proxy-allow-from"), "proxy_allow_ips", Honoured, tList, "127.0.0.1,::1",
		"peers allowed to send a PROXY protocol header: IPs, CIDRs, or *", "same (IPs, CIDRs, `*`; default `127.0.0.1,::1`)", a, sh)
}
