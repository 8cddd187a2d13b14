package config

import (
	"fmt"
	"strings"
)

// hypercornSettings gives gowsgi's rows hypercorn's command-line
// spellings (most are gunicorn's already), and adds the rows for
// hypercorn's options gowsgi has no other setting for. Its config keys
// (a TOML file, a python:module.object) are hypercornKeys (hypercorn.go).
// It runs after asgiSettings.
func hypercornSettings() {
	hc := func(name, why string, flags ...string) { spellPeer(name, "hypercorn", why, flags...) }
	add := func(s *setting) *setting {
		settings = append(settings, s)
		for _, fl := range s.flags {
			peerOnly[strings.TrimPrefix(fl, "--")] = true // gunicorn's abbreviations never expand to them
		}
		if s.peer == nil {
			s.peer = &peerNames{hypercorn: s.flags, hypercornWhy: s.why}
		}
		return s
	}
	sameUnix := "gowsgi runs the workers (and itself, once its ports are bound) as it, as gunicorn does; hypercorn only gives it the unix socket files"

	hc("access-log", "same: the access log (`-` is stdout); without it gowsgi logs to stdout, hypercorn not at all (`--no-access-log`)", "--access-logfile", "--access-log")
	hc("access-logformat", "same: gunicorn's atoms, which hypercorn's are", "--access-logformat")
	hc("backlog", "same", "--backlog")
	hc("bind", "same: `HOST:PORT`, `HOST`, `unix:PATH`, `fd://N`; repeatable", "-b", "--bind")
	hc("ca-certs", "same", "--ca-certs")
	hc("certfile", "same", "--certfile")
	hc("cert-reqs", "same: 0, 1, 2", "--cert-reqs")
	hc("ciphers", "same (an OpenSSL cipher list; hypercorn's default is `ECDHE+AESGCM`, gowsgi's Go's)", "--ciphers")
	hc("config", "a `.toml` file (also as `file:FILE.toml`) is hypercorn's TOML (unknown keys are noticed, a value of the wrong type is an error naming the key); "+
		"`file:FILE.py` and `python:MODULE` are executed with the workers' Python and read with hypercorn's key names as well as gunicorn's; "+
		"`python:module.object` reads the object's attributes", "-c", "--config")
	hc("daemon", "gunicorn's meaning: gowsgi detaches from the terminal (hypercorn's only marks its worker processes as daemons: leave it out)", "-D", "--daemon")
	hc("debug", "use the app framework's own debug mode", "--debug")
	hc("error-log", "same (`-` is stderr)", "--error-logfile", "--log-file", "--error-log")
	hc("graceful-timeout", "same (seconds; default 30, hypercorn's 3)", "--graceful-timeout")
	hc("body-timeout", "the longest pause while a client sends a body; request heads have `--header-timeout`, idle connections `--keep-alive`", "--read-timeout")
	findSetting("body-timeout").peer.as = "--body-timeout"
	hc("max-requests", "the worker is recycled (replaced with no request dropped) after N requests", "--max-requests")
	hc("max-requests-jitter", "same", "--max-requests-jitter")
	hc("group", sameUnix, "-g", "--group")
	hc("worker-class", "`asyncio` and `uvloop` serve the app as ASGI on that loop; `trio` is refused", "-k", "--worker-class")
	hc("keep-alive", "same (seconds; default 5)", "--keep-alive")
	hc("keyfile", "same", "--keyfile")
	hc("ssl-keyfile-password", findSetting("ssl-keyfile-password").why, "--keyfile-password")
	hc("log-config", "an `.ini` file is applied with `logging.config.fileConfig` in each worker; `json:FILE` and `toml:FILE` with `dictConfig`", "--log-config")
	hc("log-level", "same", "--log-level")
	hc("pid", "same", "-p", "--pid")
	hc("reload", "same: workers restart when a Python file of the app changes", "--reload")
	hc("root-path", "same: the ASGI `root_path` (`SCRIPT_NAME` for WSGI)", "--root-path")
	hc("statsd-host", "same", "--statsd-host")
	hc("statsd-prefix", "same", "--statsd-prefix")
	hc("umask", "same, while unix sockets are created", "-m", "--umask")
	hc("user", sameUnix, "-u", "--user")
	hc("ws-ping-interval", "same (seconds; gowsgi's default is 20, hypercorn's none: `0` turns pings off)", "--websocket-ping-interval")
	hc("workers", "same (default `$WEB_CONCURRENCY`, else 1 for an ASGI app, as hypercorn's; the CPU count for a WSGI one)", "-w", "--workers")

	add(&setting{
		name: "insecure-bind", flags: []string{"--insecure-bind"}, kind: Native, typ: tList, meta: "addr", noEnv: true,
		usage: "with TLS: also listen on ADDR for plain HTTP (the TLS settings do not apply to it; repeatable)",
		why:   "same: plain HTTP next to the TLS binds (h2c there as `--http2-cleartext` says); without TLS it is ignored with a notice, as hypercorn ignores it",
		accessor: accessor{apply: func(c *Config, v string) error {
			if _, err := ParseBind(v); err != nil {
				return err
			}
			c.insecureBinds = append(c.insecureBinds, v)
			return nil
		}},
	})
	add(&setting{
		name: "quic-bind", flags: []string{"--quic-bind"}, kind: Noticed, typ: tList, noEnv: true,
		why: "gowsgi serves HTTP/1.1 and HTTP/2, not HTTP/3: no QUIC socket is bound",
	})
	add(&setting{
		name: "server-name", flags: []string{"--server-name"}, kind: Noticed, typ: tList, noEnv: true,
		why: "gowsgi serves every Host: check it in the app (Django's ALLOWED_HOSTS, Starlette's TrustedHostMiddleware) or at the proxy",
	})
	vm := add(&setting{
		name: "verify-mode", flags: []string{"--verify-mode"}, kind: Native, typ: tString, noEnv: true,
		why: "`CERT_NONE`, `CERT_OPTIONAL`, `CERT_REQUIRED`: `--cert-reqs` 0, 1, 2",
	})
	vm.apply, vm.peer.as = findSetting("cert-reqs").apply, "--cert-reqs"
}

// finishHypercorn adds the --insecure-bind addresses to the binds, as
// plain ones, once the TLS settings and the binds are known. Without TLS
// hypercorn ignores them (its --bind addresses are plain then), and so
// does gowsgi, with a notice.
func (c *Config) finishHypercorn() {
	g := c.given["insecure-bind"]
	if g == nil || len(c.insecureBinds) == 0 {
		return
	}
	if len(c.CertFiles) == 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: ignored without TLS, as hypercorn ignores it; the --bind addresses serve plain HTTP", g.origin))
		return
	}
	for _, v := range c.insecureBinds {
		b, _ := ParseBind(v) // checked when given
		b.Plain = true
		c.Binds = append(c.Binds, b)
	}
}
