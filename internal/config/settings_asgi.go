package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// peerNames are a setting's spellings on uvicorn's, granian's and
// hypercorn's command lines, and what gowsgi does with each: the README's
// "Migrating from uvicorn", "... from granian" and "... from hypercorn"
// tables are generated from them.
type peerNames struct {
	uvicorn, granian, hypercorn          []string
	uvicornWhy, granianWhy, hypercornWhy string
	// as is the gowsgi setting the README names for a row that only
	// spells another one differently (granian's --workers-max-rss is
	// --max-memory); "" = the row's own --name.
	as string
}

// of returns the spellings and the note of peer ("uvicorn", "granian" or
// "hypercorn").
func (p *peerNames) of(peer string) (*[]string, *string) {
	switch peer {
	case "uvicorn":
		return &p.uvicorn, &p.uvicornWhy
	case "granian":
		return &p.granian, &p.granianWhy
	case "hypercorn":
		return &p.hypercorn, &p.hypercornWhy
	}
	panic("config: no peer " + peer)
}

// findSetting is the row named name, once the table is being built.
func findSetting(name string) *setting {
	for _, s := range settings {
		if s.name == name {
			return s
		}
	}
	panic("config: no setting " + name)
}

// spellPeer gives the existing row name peer's spellings (flags) and
// note; those not already among its flags become flags of the row, which
// gunicorn's abbreviations never expand to (peerOnly).
func spellPeer(name, peer, why string, flags ...string) {
	s := findSetting(name)
	if s.peer == nil {
		s.peer = &peerNames{}
	}
	fl, w := s.peer.of(peer)
	*fl, *w = append(*fl, flags...), why
	for _, f := range flags {
		have := false
		for _, x := range s.flags {
			have = have || strings.ReplaceAll(x, "_", "-") == f
		}
		if !have {
			s.flags = append(s.flags, f)
			peerOnly[strings.TrimPrefix(f, "--")] = true
		}
	}
}

// peerOnly are the long flags (without "--") that only uvicorn's and
// granian's command lines, or gowsgi's ASGI options, spell: gunicorn's
// argparse-style abbreviations never expand to them, so adding them
// changes the meaning of no gunicorn command line.
var peerOnly = map[string]bool{}

// implicitValue is the value a flag records when it is given alone, for
// the few that are not booleans: granian's --no-ws.
var implicitValue = map[string]string{"no-ws": "none"}

// asgiSettings adds the ASGI settings (--interface, --lifespan, --loop,
// --limit-concurrency), uvicorn's and granian's command-line spellings of
// gowsgi's settings, and their options gowsgi has no setting for (each
// noticed or refused with a reason). It runs once the rest of the table
// is built, so it can name existing rows.
func asgiSettings() {
	add := func(s *setting) *setting { settings = append(settings, s); return s }
	find := findSetting
	// uv and gr give an existing row uvicorn's or granian's spellings.
	uv := func(name, why string, flags ...string) { spellPeer(name, "uvicorn", why, flags...) }
	gr := func(name, why string, flags ...string) { spellPeer(name, "granian", why, flags...) }
	native := func(s *setting) *setting {
		for _, fl := range s.flags {
			if !strings.HasPrefix(fl, "--asgi-") { // gunicorn 26's spellings stay gunicorn's
				peerOnly[strings.TrimPrefix(fl, "--")] = true
			}
		}
		return s
	}
	// other is an option of uvicorn or granian that gowsgi has no setting
	// for: kind Noticed (a one-line notice when it asks for something) or
	// Refused (exit 2).
	other := func(kind Kind, typ valueType, why string, flags ...string) *setting {
		s := &setting{name: strings.TrimPrefix(flags[0], "--"), flags: flags, kind: kind, typ: typ, why: why, noEnv: true}
		settings = append(settings, s)
		return native(s)
	}
	uvOther := func(kind Kind, typ valueType, why string, flags ...string) *setting {
		s := other(kind, typ, why, flags...)
		s.peer = &peerNames{uvicorn: flags, uvicornWhy: why}
		return s
	}
	grOther := func(kind Kind, typ valueType, why string, flags ...string) *setting {
		s := other(kind, typ, why, flags...)
		s.peer = &peerNames{granian: flags, granianWhy: why}
		return s
	}
	notFalse := func(v string) bool { b, err := parseBool(v); return err != nil || !b }

	// --- the interface and the ASGI worker ----------------------------------
	native(add(&setting{
		name: "interface", flags: []string{"--interface"}, kind: Native, typ: tString, def: "auto",
		usage: "what the app speaks: auto (ASGI when it is a coroutine function or an object whose __call__ is one, else WSGI), wsgi, asgi (asgi3 and asgi2 too)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				i, noLifespan, err := parseInterface(v)
				c.Interface, c.interfaceNoLifespan = AppInterface(i), noLifespan
				return err
			},
			show: func(c *Config) any { return string(c.Interface) },
		},
	}))
	uv("interface", "same: `auto`, `asgi3`, `asgi2` (ASGI 2's double callable is adapted), `wsgi`; gowsgi's `auto` also detects WSGI apps", "--interface")
	gr("interface", "`asgi`, `wsgi`; `asginl` is `asgi` with `--lifespan off`; `rsgi` is refused (granian's own interface)", "--interface")

	native(add(&setting{
		name: "lifespan", flags: []string{"--lifespan", "--asgi-lifespan"}, gunicorn: "asgi_lifespan", kind: Native, typ: tString, def: "auto",
		usage:    "ASGI lifespan protocol: auto (an app that raises on it carries on without it), on (startup must succeed), off",
		why:      "same: auto, on, off",
		accessor: enumField(func(c *Config) *LifespanMode { return &c.Lifespan }, "%q: expected auto, on or off", LifespanAuto, LifespanOn, LifespanOff),
	}))
	uv("lifespan", "same: auto, on, off", "--lifespan")

	native(add(&setting{
		name: "loop", flags: []string{"--loop", "--asgi-loop"}, gunicorn: "asgi_loop", kind: Native, typ: tString, def: "auto",
		usage: "ASGI event loop: auto (uvloop when it imports, else asyncio), asyncio, uvloop",
		why:   "same: auto, asyncio, uvloop",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				l, note, err := parseLoop(v)
				c.Loop = EventLoop(l)
				if note != "" {
					c.loopNote = note
				}
				return err
			},
			show: func(c *Config) any { return string(c.Loop) },
		},
	}))
	uv("loop", "same: auto, asyncio, uvloop (`none` is asyncio)", "--loop")
	gr("loop", "auto, asyncio, uvloop; `rloop` and `winloop` run `auto`, with a notice", "--loop")

	native(add(&setting{
		name: "limit-concurrency", flags: []string{"--limit-concurrency", "--backpressure"}, kind: Native, typ: tInt, def: "0",
		usage:    "ASGI: requests in flight per worker; more wait in the queue (--max-queue, then 503). 0 = gowsgi's measured default; -k asgi/uvicorn classes take --worker-connections",
		accessor: intField(0, func(c *Config) *int { return &c.LimitConcurrency }),
	}))
	native(add(&setting{
		name: "request-timeout", flags: []string{"--request-timeout"}, kind: Native, typ: tString, def: "0", meta: "duration",
		usage:    "ASGI: a request's deadline; past it only its task is cancelled (CancelledError in the app) and the client gets 504 if no response had started. 0 = none (SSE and long polls run as long as they like)",
		accessor: durField(func(c *Config) *time.Duration { return &c.RequestTimeout }),
	}))
	uv("limit-concurrency", "requests in flight per worker process; beyond it requests wait in gowsgi's bounded queue (`--max-queue`, `--queue-timeout`) before a 503, instead of an immediate 503", "--limit-concurrency")
	gr("limit-concurrency", "same: requests in flight per worker", "--backpressure")

	// --- where to listen ----------------------------------------------------
	native(add(&setting{
		name: "host", flags: []string{"--host"}, kind: Native, typ: tString,
		usage: "uvicorn/granian style: listen on HOST (with --port; default 127.0.0.1); replaces the default --bind",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if v = strings.Trim(strings.TrimSpace(v), "[]"); v == "" {
					return fmt.Errorf("empty host")
				}
				c.host = v
				return nil
			},
			show: func(c *Config) any { return nilIfEmpty(c.host) },
		},
	}))
	native(add(&setting{
		name: "port", flags: []string{"--port"}, kind: Native, typ: tInt,
		usage: "uvicorn/granian style: listen on PORT (with --host; default 8000); replaces the default --bind",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || n < 0 || n > 65535 {
					return fmt.Errorf("%q is not a port number from 0 to 65535", v)
				}
				c.port = strconv.Itoa(n)
				return nil
			},
			show: func(c *Config) any {
				if n, err := strconv.Atoi(c.port); err == nil {
					return n
				}
				return nil
			},
		},
	}))
	native(add(&setting{
		name: "uds", flags: []string{"--uds"}, kind: Native, typ: tString,
		usage: "uvicorn style: listen on this unix socket (= --bind unix:PATH); wins over --host/--port",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if v = strings.TrimSpace(v); v == "" {
					return fmt.Errorf("empty socket path")
				}
				c.uds = v
				return nil
			},
			show: func(c *Config) any { return nilIfEmpty(c.uds) },
		},
	}))
	native(add(&setting{
		name: "fd", flags: []string{"--fd"}, kind: Native, typ: tInt,
		usage: "uvicorn style: serve the inherited listening socket N (= --bind fd://N); wins over --host/--port",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				n, err := parseCount(v)
				c.fd = n
				return err
			},
			show: func(c *Config) any {
				if c.given["fd"] == nil {
					return nil
				}
				return c.fd
			},
		},
	}))
	sameHost := "same; `--host`/`--port` (and `--uds`, `--fd`) replace the default `--bind`; given with `--bind` in the same place, both are bound"
	uv("host", sameHost, "--host")
	uv("port", "same (default 8000, as uvicorn's: `$PORT` is only gunicorn's default bind)", "--port")
	uv("uds", "same: listens on the unix socket", "--uds")
	uv("fd", "same: serves the inherited socket", "--fd")
	gr("host", sameHost, "--host")
	gr("port", "same (default 8000, as granian's: `$PORT` is only gunicorn's default bind)", "--port")
	gr("uds", "same: listens on the unix socket", "--uds")

	// --- uvicorn's and granian's spellings of gowsgi's settings -------------
	uv("workers", "same (default `$WEB_CONCURRENCY`, else 1 for an ASGI app, as uvicorn's; the CPU count for a WSGI one)", "--workers")
	gr("workers", "same (default `$GRANIAN_WORKERS`, else 1 for an ASGI app, as granian's; the CPU count for a WSGI one). `$WEB_CONCURRENCY`, which granian does not read, is not read on a command line with an option only granian has, or with a `GRANIAN_*` variable set", "--workers")
	gr("threads", "the threads that run a WSGI app in each worker", "--blocking-threads")
	uv("reload", "same: workers restart when a Python file of the app changes", "--reload")
	gr("reload", "same: workers restart when a Python file of the app changes", "--reload", "--no-reload")
	uv("log-level", "same; `trace` is `debug`", "--log-level")
	gr("log-level", "same", "--log-level")
	uv("log-config", "a `.ini` file is applied with `logging.config.fileConfig`, a `.json` or `.yaml` file with `dictConfig`, in each worker (gowsgi reads the YAML: PyYAML is not needed)", "--log-config")
	gr("log-config", "the JSON file is applied with `logging.config.dictConfig` in each worker", "--log-config")
	uv("no-access-log", "same: no access log", "--no-access-log")
	gr("no-access-log", "same: no access log", "--no-access-log")
	uv("access-log", "same: `--access-log` alone is the access log on stdout (gowsgi's default); gowsgi's `--access-log FILE` also names a file", "--access-log")
	gr("access-log", "the access log on stdout; gowsgi writes one by default; `--access-log FILE` names a file", "--access-log")
	uv("forwarded-allow-ips", "same (default `$FORWARDED_ALLOW_IPS`, else `127.0.0.1,::1`)", "--forwarded-allow-ips")
	uv("root-path", "same: the ASGI `root_path` (`SCRIPT_NAME` for WSGI)", "--root-path")
	gr("root-path", "same as `--root-path`: the ASGI `root_path` (`SCRIPT_NAME` for WSGI)", "--url-path-prefix")
	uv("backlog", "same", "--backlog")
	gr("backlog", "same", "--backlog")
	uv("max-requests", "the worker is recycled (replaced with no request dropped) after N requests", "--limit-max-requests")
	uv("keep-alive", "same (seconds; default 5)", "--timeout-keep-alive")
	uv("graceful-timeout", "same (seconds; default 30, uvicorn waits for ever)", "--timeout-graceful-shutdown")
	gr("graceful-timeout", "same: how long stopping workers may take before they are killed (`--workers-graceful-timeout` is granian 1's name)", "--workers-kill-timeout", "--workers-graceful-timeout")
	uv("keyfile", "same", "--ssl-keyfile")
	uv("certfile", "same", "--ssl-certfile")
	gr("keyfile", "same", "--ssl-keyfile")
	gr("certfile", "same", "--ssl-certificate")
	uv("ssl-version", "same (the `ssl.PROTOCOL_*` numbers and names; the lowest version offered, TLS 1.2 by default)", "--ssl-version")
	uv("cert-reqs", "same: 0, 1, 2 (`ssl.CERT_*`)", "--ssl-cert-reqs")
	uv("ca-certs", "same", "--ssl-ca-certs")
	gr("ca-certs", "same: the CAs client certificates must chain to", "--ssl-ca")
	uv("ciphers", "same (an OpenSSL cipher list)", "--ssl-ciphers")
	uv("pythonpath", "same: the directory is put first on `sys.path`", "--app-dir")
	uv("version", "same", "--version")
	gr("version", "same", "--version")
	gr("chdir", "same: the workers' directory", "--working-dir")
	gr("name", "same: the workers' name in ps", "--process-name")
	find("name").peer.as = "--name"
	gr("pid", "same", "--pid-file")
	gr("http2-max-concurrent-streams", "same", "--http2-max-concurrent-streams")
	gr("http2-max-frame-size", "same (at least 16384)", "--http2-max-frame-size")
	gr("http2-initial-window-size", "same: the per-stream window", "--http2-initial-stream-window-size")
	gr("http2-max-header-list-size", "same", "--http2-max-headers-size")

	// --- uvicorn's and granian's options with a meaning of their own -------
	native(add(&setting{
		name: "proxy-headers", flags: []string{"--proxy-headers", "--no-proxy-headers"}, kind: Native, typ: tBool, def: "true",
		usage: "believe X-Forwarded-*/Forwarded headers from --forwarded-allow-ips peers (default); --no-proxy-headers believes no peer",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				b, err := parseBool(v)
				c.proxyHeaders = b
				return err
			},
			show: func(c *Config) any { return c.proxyHeaders },
		},
	}))
	uv("proxy-headers", "same: forwarding headers are believed from `--forwarded-allow-ips` peers; `--no-proxy-headers` believes no peer's (also for h2c and request IDs)", "--proxy-headers", "--no-proxy-headers")

	native(add(&setting{
		name: "http", flags: []string{"--http"}, kind: Native, typ: tString, def: "auto",
		usage: "HTTP versions: auto (HTTP/2 by ALPN over TLS, and HTTP/1.1), 1 (HTTP/1.1 only), 2 (HTTP/2 only); uvicorn's h11/httptools are accepted",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				switch v = strings.ToLower(strings.TrimSpace(v)); v {
				case "auto":
				case "1":
					c.HTTPProtocols = []Protocol{HTTP1}
				case "2":
					c.HTTPProtocols = []Protocol{HTTP2}
				case "h11", "httptools":
					c.httpParser = v
				default:
					return fmt.Errorf("%q: expected auto, 1 or 2 (or uvicorn's h11, httptools)", v)
				}
				return nil
			},
		},
	}))
	uv("http", "accepted: `h11` and `httptools` name uvicorn's parsers; gowsgi parses HTTP in Go (a notice says so)", "--http")
	gr("http", "`auto` (HTTP/2 by ALPN, and HTTP/1.1), `1` (`--http-protocols h1`), `2` (`--http-protocols h2`)", "--http")

	native(add(&setting{
		name: "env-file", flags: []string{"--env-file", "--env-files"}, kind: Native, typ: tList,
		usage: "read KEY=VALUE lines (a .env file) into the workers' environment; --env wins (repeatable)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				kv, err := readEnvFile(v)
				c.envFileVars = append(c.envFileVars, kv...)
				return err
			},
		},
	}))
	uv("env-file", "same: the `.env` file's variables reach the app (workers' environment); `--env` wins", "--env-file")
	gr("env-file", "same: the files' variables reach the app (workers' environment); `--env` wins", "--env-files")

	native(add(&setting{
		name: "factory", flags: []string{"--factory", "--no-factory"}, kind: Native, typ: tBool, def: "false",
		usage:    "TARGET names a factory: it is called once per worker (as TARGET with ())",
		accessor: boolField(func(c *Config) *bool { return &c.factory }),
	}))
	uv("factory", "same: `main:create_app` is called once per worker (gowsgi also reads `main:create_app()`)", "--factory")
	gr("factory", "same: the target is called once per worker (gowsgi also reads `main:create_app()`)", "--factory", "--no-factory")

	native(add(&setting{
		name: "ssl-client-verify", flags: []string{"--ssl-client-verify", "--no-ssl-client-verify"}, kind: Native, typ: tBool, def: "false",
		usage:    "require a client certificate that chains to --ca-certs (= --cert-reqs 2)",
		accessor: boolField(func(c *Config) *bool { return &c.sslClientVerify }),
	}))
	gr("ssl-client-verify", "same: client certificates are required", "--ssl-client-verify", "--no-ssl-client-verify")
	find("ssl-client-verify").peer.as = "--cert-reqs 2"

	native(add(&setting{
		name: "http1-header-read-timeout", flags: []string{"--http1-header-read-timeout"}, kind: Native, typ: tInt,
		usage: "granian's --header-timeout, in milliseconds",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				n, err := parseCount(v)
				c.HeaderTimeout = time.Duration(n) * time.Millisecond
				if err == nil && n == 0 {
					err = fmt.Errorf("must be at least 1")
				}
				return err
			},
		},
	})).usage = "" // spelled for granian only; --header-timeout is gowsgi's
	gr("http1-header-read-timeout", "same (milliseconds)", "--http1-header-read-timeout")
	find("http1-header-read-timeout").peer.as = "--header-timeout"

	native(add(&setting{
		name: "static-path-route", flags: []string{"--static-path-route"}, kind: Native, typ: tString, def: "/static",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if !strings.HasPrefix(v, "/") {
					return fmt.Errorf("%q must start with /", v)
				}
				c.staticRoute = v
				return nil
			},
			show: strField(func(c *Config) *string { return &c.staticRoute }).show,
		},
	}))
	native(add(&setting{
		name: "static-path-mount", flags: []string{"--static-path-mount"}, kind: Native, typ: tString,
		accessor: accessor{
			apply: func(c *Config, v string) error { c.staticMount = v; return nil },
			show:  strField(func(c *Config) *string { return &c.staticMount }).show,
		},
	}))
	native(add(&setting{
		name: "static-path-expires", flags: []string{"--static-path-expires"}, kind: Native, typ: tString, def: "86400",
		accessor: durField(func(c *Config) *time.Duration { return &c.staticExpires }),
	}))
	gr("static-path-mount", "the files are served by Go", "--static-path-mount")
	gr("static-path-route", "the ROUTE (default `/static`)", "--static-path-route")
	gr("static-path-expires", "for the `--static-path-mount` files (default 86400 seconds)", "--static-path-expires")
	find("static-path-mount").peer.as = "--static ROUTE=DIR"
	find("static-path-route").peer.as = "--static ROUTE=DIR"
	find("static-path-expires").peer.as = "--static-max-age"

	// --- the server's own response fields (uvicorn's) ------------------------
	native(add(&setting{
		name: "server-header", flags: []string{"--server-header", "--no-server-header"}, kind: Native, typ: tBool, def: "true",
		usage: "send \"Server: gowsgi\" on every response that has no Server field of its own (default); --no-server-header sends none",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				b, err := parseBool(v)
				c.ResponseHeaders.NoServer = !b
				return err
			},
			show: func(c *Config) any { return !c.ResponseHeaders.NoServer },
		},
	}))
	native(add(&setting{
		name: "date-header", flags: []string{"--date-header", "--no-date-header"}, kind: Native, typ: tBool, def: "true",
		usage: "send a Date field on every response that has none of its own (default); --no-date-header sends none",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				b, err := parseBool(v)
				c.ResponseHeaders.NoDate = !b
				return err
			},
			show: func(c *Config) any { return !c.ResponseHeaders.NoDate },
		},
	}))
	native(add(&setting{
		name: "header", flags: []string{"--header"}, kind: Native, typ: tList, meta: "name:value",
		usage: "a field sent first on every response, errors and static files included; the app's own of the same name follow it (repeatable; a Server or Date here replaces gowsgi's)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				f, err := parseHeader(v)
				c.ResponseHeaders.Extra = append(c.ResponseHeaders.Extra, f)
				return err
			},
			show: func(c *Config) any {
				out := []string{}
				for _, f := range c.ResponseHeaders.Extra {
					out = append(out, f.Name+":"+f.Value)
				}
				return out
			},
		},
	}))
	uv("server-header", "same: `Server: gowsgi` on every response (WSGI, ASGI, HTTP/1.1, HTTP/2, WebSocket handshakes, static files, gowsgi's own errors) unless the app sends its own; `--no-server-header` sends none", "--server-header", "--no-server-header")
	uv("date-header", "same: a `Date` on every response unless the app sends its own; `--no-date-header` sends none", "--date-header", "--no-date-header")
	uv("header", "same: sent first on every response, before the app's fields (an app field of the same name is sent too, as uvicorn does); `--header server:NAME` replaces `Server: gowsgi`", "--header")

	// --- options gowsgi has no setting for ----------------------------------
	noWS := "accepted; gowsgi serves WebSockets itself (Go terminates the protocol), so this has no effect"
	ws := uvOther(Noticed, tString, noWS, "--ws")
	ws.asks = func(v string) bool {
		v = strings.ToLower(v)
		return v != "" && v != "none" && v != "false" && v != "auto"
	}
	ws.flags = append(ws.flags, "--no-ws")
	ws.peer.granian, ws.peer.granianWhy = []string{"--ws", "--no-ws"}, noWS
	peerOnly["no-ws"] = true
	// The WebSocket settings (settings_ws.go) are uvicorn's own.
	for _, name := range []string{"ws-max-size", "ws-ping-interval", "ws-ping-timeout", "ws-per-message-deflate"} {
		native(find(name))
		uv(name, "same", "--"+name)
	}
	uvOther(Noticed, tString, wsMaxQueueWhy, "--ws-max-queue")
	reloadWhy := "gowsgi watches the Python files the app imported, and `--reload-extra-file` files"
	uvOther(Noticed, tList, reloadWhy, "--reload-dir")
	uvOther(Noticed, tList, reloadWhy, "--reload-include")
	uvOther(Noticed, tList, reloadWhy, "--reload-exclude")
	uvOther(Noticed, tString, "gowsgi restarts the workers as soon as a change is seen", "--reload-delay")
	uvOther(Noticed, tBool, "gowsgi's log has no colours", "--use-colors", "--no-use-colors")
	uvOther(Noticed, tString, "gowsgi bounds request heads with `--limit-request-header-size`, `--limit-request-line` and `--limit-request-fields`", "--h11-max-incomplete-event-size")
	uvOther(Noticed, tBool, "use the app framework's own debug mode", "--debug")
	uvOther(Noticed, tString, "gowsgi's supervisor watches each worker's heartbeat (`--timeout`)", "--timeout-worker-healthcheck")
	pw := uvOther(Refused, tString, "gowsgi cannot read encrypted private keys; decrypt the key (openssl pkey -in KEY -out KEY.pem) and protect the file", "--ssl-keyfile-password")
	pw.peer.granian, pw.peer.granianWhy = pw.flags, pw.why

	runtimeWhy := "gowsgi's Go front schedules its own threads; workers are processes (`--workers`), each with `--threads` threads (WSGI) or one event loop (ASGI)"
	for _, fl := range []string{"--runtime-threads", "--runtime-blocking-threads", "--runtime-mode", "--blocking-threads-idle-timeout", "--task-impl", "--threading-mode"} {
		grOther(Noticed, tString, runtimeWhy, fl)
	}
	grOther(Noticed, tBool, "granian 1's loop optimizations; gowsgi's ASGI workers run uvloop when it imports (`--loop`)", "--opt", "--no-opt")
	grOther(Noticed, tString, "gowsgi buffers requests by its own bounds (`--body-memory`, `--limit-request-header-size`)", "--http1-buffer-size")
	grOther(Noticed, tBool, "gowsgi always keeps HTTP/1.1 connections alive (`--keep-alive` sets the idle time)", "--http1-keep-alive", "--no-http1-keep-alive").asks = notFalse
	grOther(Noticed, tBool, "gowsgi always answers pipelined requests in order", "--http1-pipeline-flush", "--no-http1-pipeline-flush")
	h2Why := "gowsgi's HTTP/2 has fixed flow control and keep-alive; see `--http2-*`"
	grOther(Noticed, tBool, h2Why, "--http2-adaptive-window", "--no-http2-adaptive-window")
	for _, fl := range []string{"--http2-initial-connection-window-size", "--http2-keep-alive-interval", "--http2-keep-alive-timeout", "--http2-max-send-buffer-size"} {
		grOther(Noticed, tString, h2Why, fl)
	}
	grOther(Noticed, tBool, "gowsgi always logs; lower it with `--log-level`", "--log", "--no-log").asks = notFalse
	grOther(Noticed, tString, "gowsgi writes gunicorn's access log atoms (`--access-logformat`); granian's format is not read", "--access-log-fmt")
	grOther(Refused, tList, "gowsgi does not check certificate revocation lists; terminate mTLS at a proxy that does", "--ssl-crl")
	grOther(Noticed, tBool, "gowsgi always replaces a worker that exits", "--respawn-failed-workers", "--no-respawn-failed-workers").asks = notFalse
	grOther(Noticed, tString, "gowsgi's supervisor decides when a failed worker is replaced", "--respawn-interval")
	grOther(Noticed, tString, "gowsgi recycles workers by requests (`--max-requests`) or memory (`--max-memory`), not age", "--workers-lifetime")
	rss := grOther(Native, tString, "a worker whose resident memory exceeds it (a number is MiB) is recycled", "--workers-max-rss")
	rss.apply, rss.peer.as = find("max-memory").apply, "--max-memory"
	grOther(Noticed, tList, reloadWhy, "--reload-paths")
	grOther(Noticed, tList, reloadWhy, "--reload-ignore-dirs")
	grOther(Noticed, tList, reloadWhy, "--reload-ignore-patterns")
	grOther(Noticed, tList, reloadWhy, "--reload-ignore-paths")
	grOther(Noticed, tString, reloadWhy, "--reload-tick")
	grOther(Noticed, tBool, "with `--reload`, a failing worker is reported and the old ones keep serving", "--reload-ignore-worker-failure", "--no-reload-ignore-worker-failure")
}

// parseHeader reads a --header value, NAME:VALUE (uvicorn's form; spaces
// around the value are dropped), as a field that can be sent.
func parseHeader(v string) (http1.Field, error) {
	name, value, ok := strings.Cut(v, ":")
	f := http1.Field{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
	if !ok {
		return f, fmt.Errorf("%q: expected NAME:VALUE, e.g. X-Frame-Options:DENY", v)
	}
	if err := http1.CheckField(f); err != nil {
		return f, fmt.Errorf("%q: %v", v, err)
	}
	return f, nil
}

// parseInterface reads --interface: auto, wsgi, asgi, uvicorn's asgi3 and
// asgi2, and granian's asginl (ASGI without lifespan). granian's rsgi is
// refused.
func parseInterface(v string) (iface string, noLifespan bool, err error) {
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case "auto", "wsgi", "asgi":
		return v, false, nil
	case "asgi3", "asgi2":
		return "asgi", false, nil
	case "asginl":
		return "asgi", true, nil
	case "rsgi":
		return "", false, fmt.Errorf("rsgi is granian's own interface; gowsgi serves WSGI and ASGI apps (--interface asgi or wsgi)")
	}
	return "", false, fmt.Errorf("%q: expected auto, wsgi or asgi (asgi3, asgi2)", v)
}

// parseLoop reads --loop: auto, asyncio, uvloop, uvicorn's none (asyncio),
// and granian's rloop and winloop (auto, with a note).
func parseLoop(v string) (loop, note string, err error) {
	switch k := strings.ToLower(strings.TrimSpace(v)); k {
	case "auto", "asyncio", "uvloop":
		return k, "", nil
	case "none":
		return "asyncio", "", nil
	case "rloop", "winloop":
		return "auto", k + " is not offered; uvloop runs when it imports, else asyncio", nil
	}
	return "", "", fmt.Errorf("%q: expected auto, asyncio or uvloop", v)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
