package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// gunicornOnlySettings are the gunicorn settings gowsgi has no option of its
// own for, honoured under gunicorn's spellings, noticed or refused: the
// process and logging ones here, then gunicorn's server hooks
// (hookSettings), then gunicornLateSettings.
var gunicornOnlySettings = []*setting{
	{
		name: "spew", flags: []string{"--spew"}, gunicorn: "spew", kind: Noticed, typ: tBool,
		why: "gowsgi cannot trace every executed line; use python -X importtime or a profiler",
	},
	{
		name: "no-sendfile", flags: []string{"--no-sendfile"}, gunicorn: "sendfile", kind: Noticed, typ: tBool, noOptDef: "false",
		why:  "gowsgi always sends wsgi.file_wrapper files with sendfile(2) from Go",
		asks: func(v string) bool { b, _ := parseBool(v); return !b }, // --no-sendfile stores False
	},
	{
		name: "daemon", flags: []string{"-D", "--daemon"}, gunicorn: "daemon", kind: Honoured, typ: tBool,
		usage:    "detach; the command returns once the detached server serves",
		why:      "same: gowsgi detaches (a new session, stdio on /dev/null or the --error-logfile file) and the command exits 0 once it serves, or with the failure",
		accessor: boolField(func(c *Config) *bool { return &c.Daemon }),
	},
	{
		name: "worker-tmp-dir", flags: []string{"--worker-tmp-dir"}, gunicorn: "worker_tmp_dir", kind: Noticed, typ: tString,
		why: "gowsgi workers write no heartbeat files; the supervisor watches them over their sockets",
	},
	{
		name: "user", flags: []string{"-u", "--user"}, gunicorn: "user", kind: Honoured, typ: tString,
		usage: "run the workers, and gowsgi once its ports are bound, as this user (name or uid)",
		why: "same (name or uid): workers start as that user, and gowsgi drops to it once its ports are bound; " +
			"without --group, the user's primary group (gunicorn keeps the current one)",
		accessor: parsedField(func(c *Config) *int { return &c.UID }, func(v string) (int, error) { return lookupID(v, false) }, unsetBelowZero),
	},
	{
		name: "group", flags: []string{"-g", "--group"}, gunicorn: "group", kind: Honoured, typ: tString,
		usage:    "with --user: the group (name or gid; default: the user's)",
		why:      "same (name or gid), for the workers and, once its ports are bound, gowsgi",
		accessor: parsedField(func(c *Config) *int { return &c.GID }, func(v string) (int, error) { return lookupID(v, true) }, unsetBelowZero),
	},
	{
		name: "initgroups", flags: []string{"--initgroups"}, gunicorn: "initgroups", kind: Honoured, typ: tBool,
		usage:    "with --user: keep the user's supplementary groups",
		why:      "same: with --user, the user's supplementary groups (otherwise none)",
		accessor: boolField(func(c *Config) *bool { return &c.InitGroups }),
	},
	{
		name: "disable-redirect-access-to-syslog", flags: []string{"--disable-redirect-access-to-syslog"}, gunicorn: "disable_redirect_access_to_syslog", kind: Noticed, typ: tBool,
		why: "gowsgi has no syslog output; the access log goes where --access-logfile says",
	},
	{
		name: "logger-class", flags: []string{"--logger-class"}, gunicorn: "logger_class", kind: Noticed, typ: tString,
		why:  "gowsgi's log is its own; a Python logger class is not used",
		asks: func(v string) bool { return v != "" && v != "gunicorn.glogging.Logger" && v != "simple" },
	},
	{
		name: "log-syslog-to", flags: []string{"--log-syslog-to"}, gunicorn: "syslog_addr", kind: Noticed, typ: tString,
		why: "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)",
	},
	{
		name: "log-syslog", flags: []string{"--log-syslog"}, gunicorn: "syslog", kind: Noticed, typ: tBool,
		why: "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)",
	},
	{
		name: "log-syslog-prefix", flags: []string{"--log-syslog-prefix"}, gunicorn: "syslog_prefix", kind: Noticed, typ: tString,
		why: "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)",
	},
	{
		name: "log-syslog-facility", flags: []string{"--log-syslog-facility"}, gunicorn: "syslog_facility", kind: Noticed, typ: tString,
		why:  "gowsgi has no syslog output; its logs go to stdout/stderr (journald, docker logs)",
		asks: func(v string) bool { return v != "" && v != "user" },
	},
	{
		name: "enable-stdio-inheritance", flags: []string{"-R", "--enable-stdio-inheritance"}, gunicorn: "enable_stdio_inheritance", kind: Noticed, typ: tBool,
		why: "workers always inherit gowsgi's stdout and stderr",
	},
	{
		name: "enable-backlog-metric", flags: []string{"--enable-backlog-metric"}, gunicorn: "enable_backlog_metric", kind: Noticed, typ: tBool,
		why: "gowsgi does not send a statsd backlog metric; --metrics-bind serves the queue as gowsgi_queue_depth",
	},
	{
		name: "name", flags: []string{"-n", "--name"}, gunicorn: "proc_name", kind: Honoured, typ: tString,
		usage:    "name the workers in ps: gowsgi: worker [NAME] (default: the app)",
		why:      "same: workers show as `gowsgi: worker [NAME]` in ps (NAME also their comm, for top); gowsgi's own comm becomes NAME",
		accessor: strField(func(c *Config) *string { return &c.ProcName }),
	},
	{
		name: "default_proc_name", gunicorn: "default_proc_name", kind: Noticed, typ: tString, noEnv: true,
		why:  "workers are named after the app unless --name is given",
		asks: func(v string) bool { return v != "" && v != "gunicorn" },
	},
	{
		name: "paste", flags: []string{"--paste", "--paster"}, gunicorn: "paste", kind: Honoured, typ: tString,
		usage: "serve a PasteDeploy .ini app (Pyramid) instead of a TARGET",
		why:   "same: the app is paste.deploy.loadapp(config:FILE), logging configured from the file's [loggers]; needs PasteDeploy in the workers' Python",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				abs, err := filepath.Abs(v)
				if err != nil {
					return err
				}
				if _, err := os.Stat(abs); err != nil {
					return fmt.Errorf("%s: no such file", v)
				}
				c.Paste, c.Target = abs, "paste:"+abs
				return nil
			},
			show: func(c *Config) any {
				if c.Paste == "" {
					return nil
				}
				return c.Paste
			},
		},
	},
}

// gunicornLateSettings follow the hooks in the table: protocols, the HTTP
// parser's permissions, ASGI, dirty arbiters and the control socket.
var gunicornLateSettings = []*setting{
	{
		name: "protocol", flags: []string{"--protocol"}, gunicorn: "protocol", kind: Refused, typ: tString,
		why:  "gowsgi speaks HTTP only, not the uwsgi protocol",
		asks: func(v string) bool { return v != "" && v != "http" },
	},
	{
		name: "uwsgi-allow-from", flags: []string{"--uwsgi-allow-from"}, gunicorn: "uwsgi_allow_ips", kind: Noticed, typ: tList,
		why: "gowsgi speaks HTTP only, not the uwsgi protocol",
	},
	{
		name: "suppress-ragged-eofs", flags: []string{"--suppress-ragged-eofs"}, gunicorn: "suppress_ragged_eofs", kind: Noticed, typ: tBool,
		why:  "a TLS client that closes without close_notify is taken as gone: a body cut short is a failed request, as Go's TLS reports it",
		asks: func(v string) bool { b, err := parseBool(v); return err == nil && !b },
	},
	{
		name: "paste-global", flags: []string{"--paste-global"}, gunicorn: "raw_paste_global_conf", kind: Honoured, typ: tList,
		usage:    "KEY=VALUE for the --paste app's global_conf (repeatable)",
		why:      "same: KEY=VALUE for the --paste app's global_conf",
		accessor: listField(func(c *Config) *[]string { return &c.PasteGlobal }),
	},
	{
		name: "permit-obsolete-folding", flags: []string{"--permit-obsolete-folding"}, gunicorn: "permit_obsolete_folding", kind: Noticed, typ: tBool,
		why: "gowsgi's HTTP parser refuses obsolete line folding (400), as RFC 9112 asks",
	},
	{
		name: "strip-header-spaces", flags: []string{"--strip-header-spaces"}, gunicorn: "strip_header_spaces", kind: Noticed, typ: tBool,
		why: "gowsgi's HTTP parser refuses whitespace before a header's colon (400), as RFC 9112 asks",
	},
	{
		name: "permit-unconventional-http-method", flags: []string{"--permit-unconventional-http-method"}, gunicorn: "permit_unconventional_http_method", kind: Noticed, typ: tBool,
		why: "gowsgi accepts any RFC 9110 token as a method, case-sensitively",
	},
	{
		name: "permit-unconventional-http-version", flags: []string{"--permit-unconventional-http-version"}, gunicorn: "permit_unconventional_http_version", kind: Noticed, typ: tBool,
		why: "gowsgi accepts HTTP/1.0 and HTTP/1.1 only",
	},
	{
		name: "casefold-http-method", flags: []string{"--casefold-http-method"}, gunicorn: "casefold_http_method", kind: Noticed, typ: tBool,
		why: "gowsgi passes the method as sent; methods are case-sensitive",
	},
	{
		name: "tolerate-dangerous-framing", flags: []string{"--tolerate-dangerous-framing"}, gunicorn: "tolerate_dangerous_framing", kind: Noticed, typ: tBool,
		why: "gowsgi always refuses ambiguous request framing (Content-Length with Transfer-Encoding)",
	},
	{
		name: "forwarder-headers", flags: []string{"--forwarder-headers"}, gunicorn: "forwarder_headers", kind: Noticed, typ: tList,
		why: "gowsgi does not take SCRIPT_NAME or PATH_INFO from proxy headers; use --root-path",
	},
	{
		name: "header-map", flags: []string{"--header-map"}, gunicorn: "header_map", kind: Noticed, typ: tString,
		why:  "gowsgi drops header names containing '_' (gunicorn's header_map = drop); other modes are not offered",
		asks: func(v string) bool { return v != "" && v != "drop" },
	},
	{
		name: "asgi-disconnect-grace-period", flags: []string{"--asgi-disconnect-grace-period"}, gunicorn: "asgi_disconnect_grace_period", kind: Noticed, typ: tInt,
		why: "accepted; a client that goes away reaches the app as `http.disconnect` at once",
	},
	{
		name: "http-parser", flags: []string{"--http-parser"}, gunicorn: "http_parser", kind: Noticed, typ: tString,
		why:  "gowsgi always uses its own HTTP/1.1 parser (in Go)",
		asks: func(v string) bool { return v != "" && v != "auto" },
	},
	{
		name: "dirty-app", flags: []string{"--dirty-app"}, gunicorn: "dirty_apps", kind: Refused, typ: tList,
		why: "gowsgi has no dirty arbiters; run long tasks in a task queue or a second gowsgi",
	},
	{
		name: "dirty-workers", flags: []string{"--dirty-workers"}, gunicorn: "dirty_workers", kind: Refused, typ: tInt,
		why: "gowsgi has no dirty arbiters; run long tasks in a task queue or a second gowsgi",
	},
	{
		name: "dirty-timeout", flags: []string{"--dirty-timeout"}, gunicorn: "dirty_timeout", kind: Noticed, typ: tInt,
		why: "gowsgi has no dirty arbiters",
	},
	{
		name: "dirty-threads", flags: []string{"--dirty-threads"}, gunicorn: "dirty_threads", kind: Noticed, typ: tInt,
		why: "gowsgi has no dirty arbiters",
	},
	{
		name: "dirty-graceful-timeout", flags: []string{"--dirty-graceful-timeout"}, gunicorn: "dirty_graceful_timeout", kind: Noticed, typ: tInt,
		why: "gowsgi has no dirty arbiters",
	},
	{
		name: "control-socket", flags: []string{"--control-socket"}, gunicorn: "control_socket", kind: Noticed, typ: tString,
		why: "gowsgi has no control socket; use signals (HUP, TTIN, TTOU, TERM)",
	},
	{
		name: "control-socket-mode", flags: []string{"--control-socket-mode"}, gunicorn: "control_socket_mode", kind: Noticed, typ: tInt,
		why: "gowsgi has no control socket; use signals (HUP, TTIN, TTOU, TERM)",
	},
	{
		name: "no-control-socket", flags: []string{"--no-control-socket"}, gunicorn: "control_socket_disable", kind: Noticed, typ: tBool,
		why: "gowsgi has no control socket to disable; it reacts to signals only",
	},
}

// hookSettings are gunicorn's server hooks, in gunicorn's order: a config
// file's hooks are recorded; the ones gowsgi runs are honoured (hookWhy
// says where and when), the others named in one notice (see finish).
func hookSettings() []*setting {
	var out []*setting
	for _, h := range hookNames {
		s := &setting{name: h, gunicorn: h, kind: Noticed, typ: tString, noEnv: true,
			why: "recorded in the configuration; gowsgi does not run this hook"}
		if runHook(h) {
			s.kind, s.why = Honoured, hookWhy[h]
		}
		out = append(out, s)
	}
	return out
}
