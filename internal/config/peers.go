package config

// uvicorn's and granian's ways of saying things gowsgi's settings say
// differently, folded in once every source is read (finishPeers), and
// the parts of their command lines and environments that need reading
// before the flags are parsed. The rows themselves are in settings_asgi.go.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/proxy"
	"gopkg.in/yaml.v3"
)

// readEnvFile reads a .env file as python-dotenv does for the common
// forms: KEY=VALUE lines, an optional "export ", single- or double-quoted
// values (with \n and \" escapes in double quotes), # comments, blank
// lines. Variables are not expanded.
func readEnvFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, errText(err))
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", path, i+1)
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '\'' && strings.IndexByte(v[1:], '\'') >= 0:
			v = v[1 : 1+strings.IndexByte(v[1:], '\'')]
		case len(v) >= 2 && v[0] == '"':
			end := -1
			for j := 1; j < len(v); j++ {
				if v[j] == '\\' {
					j++
					continue
				}
				if v[j] == '"' {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated quote", path, i+1)
			}
			v = strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\"`, `"`, `\\`, `\`).Replace(v[1:end])
		default:
			if j := strings.Index(v, " #"); j >= 0 {
				v = strings.TrimSpace(v[:j])
			}
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// errText is an error without Go's "open PATH: " prefix.
func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// optionalValues rewrites the two flags whose value uvicorn or granian may
// leave out, before the command line is parsed: granian's --access-log (a
// boolean there, a FILE here) alone, before another option, or before
// what reads as the TARGET (module:attr), is --access-log=- (stdout);
// granian's --ws alone (a boolean there, an implementation in uvicorn) is
// --ws=auto.
func optionalValues(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		next, more := "", i+1 < len(args)
		if more {
			next = args[i+1]
		}
		switch a {
		case "--access-log":
			if !more || (strings.HasPrefix(next, "-") && next != "-") || looksLikeTarget(next) {
				a = "--access-log=-"
			}
		case "--ws":
			switch strings.ToLower(next) {
			case "auto", "none", "websockets", "websockets-sansio", "wsproto":
			default:
				a = "--ws=auto"
			}
		}
		out = append(out, a)
	}
	return out
}

// looksLikeTarget reports whether s reads as an app (module:attr or
// module:factory()) rather than a file name.
func looksLikeTarget(s string) bool {
	mod, attr, ok := strings.Cut(s, ":")
	if !ok || mod == "" || attr == "" || strings.ContainsAny(mod, "/\\") || strings.HasSuffix(mod, ".py") {
		return false
	}
	ident := func(x string) bool {
		for _, part := range strings.Split(x, ".") {
			if part == "" || !(part[0] == '_' || (part[0]|0x20 >= 'a' && part[0]|0x20 <= 'z')) {
				return false
			}
			for _, r := range part {
				if !(r == '_' || r >= '0' && r <= '9' || r|0x20 >= 'a' && r|0x20 <= 'z') {
					return false
				}
			}
		}
		return true
	}
	name, _, _ := strings.Cut(attr, "(")
	return ident(mod) && ident(name)
}

// finishPeers folds uvicorn's and granian's options into gowsgi's
// settings once every source is read: --host/--port/--uds/--fd into the
// binds, --no-proxy-headers, --factory, the static path, a
// JSON --log-config, --ssl-client-verify, granian's asginl.
func (c *Config) finishPeers(getenv func(string) string) error {
	if err := c.peerBinds(getenv); err != nil {
		return err
	}
	if !c.proxyHeaders {
		c.ForwardedAllowIPs = proxy.NoPeers() // not even a unix-socket peer, as uvicorn
	}
	if c.factory && c.Target != "" && !strings.HasSuffix(c.Target, ")") && !strings.HasPrefix(c.Target, "paste:") {
		if !strings.Contains(c.Target, ":") {
			return &UsageError{fmt.Sprintf("--factory: TARGET %s must name the factory as module:function", c.Target)}
		}
		c.Target += "()"
	}
	if c.staticMount != "" {
		m, err := ParseStatic(c.staticRoute + "=" + c.staticMount)
		if err != nil {
			return fmt.Errorf("--static-path-mount: %v", err)
		}
		c.Static = append(c.Static, m)
		if g := c.given["static-max-age"]; g == nil {
			c.StaticMaxAge = c.staticExpires
		}
	}
	if c.sslClientVerify {
		if g, v := c.given["cert-reqs"], c.given["ssl-client-verify"]; g == nil || g.src <= v.src {
			c.CertReqs = 2
		}
	}
	if c.LogConfig != "" {
		switch {
		case strings.HasPrefix(c.LogConfig, "json:"): // hypercorn's prefixes
			c.LogConfigJSON, c.LogConfig = strings.TrimPrefix(c.LogConfig, "json:"), ""
		case strings.HasPrefix(c.LogConfig, "toml:"):
			dict, err := tomlDict(strings.TrimPrefix(c.LogConfig, "toml:"))
			if err != nil {
				return &UsageError{fmt.Sprintf("--log-config %s: %v", c.LogConfig, err)}
			}
			c.LogConfigDict, c.LogConfig = dict, ""
		}
	}
	if c.LogConfig != "" {
		switch strings.ToLower(filepath.Ext(c.LogConfig)) {
		case ".json":
			c.LogConfigJSON, c.LogConfig = c.LogConfig, ""
		case ".yaml", ".yml":
			dict, err := yamlDict(c.LogConfig)
			if err != nil {
				return &UsageError{fmt.Sprintf("--log-config %s: %v", c.LogConfig, err)}
			}
			c.LogConfigDict, c.LogConfig = dict, ""
		}
	}
	if c.interfaceNoLifespan {
		if l, i := c.given["lifespan"], c.given["interface"]; l == nil || l.src < i.src {
			c.Lifespan = LifespanOff
		}
	}
	if g := c.given["loop"]; g != nil && c.loopNote != "" {
		c.Warnings = append(c.Warnings, g.origin+": "+c.loopNote)
	}
	if g := c.given["http"]; g != nil && c.httpParser != "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s is uvicorn's HTTP parser; gowsgi parses HTTP in Go", g.origin, c.httpParser))
	}
	return nil
}

// peerBinds turns --host/--port, --uds and --fd into a bind, as uvicorn
// does (--uds first, then --fd, then HOST:PORT). It replaces the binds of
// a weaker source (the default, $PORT, a config file under a flag) and
// joins those given in the same place.
func (c *Config) peerBinds(getenv func(string) string) error {
	var src *given
	for _, n := range []string{"host", "port", "uds", "fd"} {
		if g := c.given[n]; g != nil && (src == nil || g.src > src.src) {
			src = g
		}
	}
	if src == nil {
		return nil
	}
	var spec string
	switch {
	case c.uds != "" && c.given["uds"] != nil:
		spec = "unix:" + c.uds
	case c.given["fd"] != nil:
		spec = "fd://" + strconv.Itoa(c.fd)
	default:
		host, port := c.host, c.port
		if host == "" {
			host = "127.0.0.1"
		}
		if port == "" {
			// uvicorn's and granian's default; $PORT is gunicorn's (its
			// default bind), which neither reads: a Dockerfile with
			// ENV PORT=5000 and `uvicorn main:app --host 0.0.0.0` serves
			// 8000 under uvicorn, and so here.
			port = "8000"
		}
		spec = net.JoinHostPort(host, port)
	}
	b, err := ParseBind(spec)
	if err != nil {
		return fmt.Errorf("%s: %v", src.origin, err)
	}
	bsrc := srcDefault
	if g := c.given["bind"]; g != nil && g.origin != "PORT" { // $PORT's default is a default
		bsrc = g.src
	}
	switch {
	case src.src > bsrc:
		c.Binds = []Bind{b}
	case src.src == bsrc:
		c.Binds = append(c.Binds, b)
	default:
		return nil // --bind was given in a stronger place
	}
	c.given["bind"] = &given{src: src.src, values: []string{b.String()}, origin: src.origin}
	return nil
}

// peerEnv records uvicorn's UVICORN_* and granian's GRANIAN_* environment
// variables (click's auto_envvar_prefix: the option's parameter name,
// upper-cased; uvicorn's UVICORN_APP is the app) in l, as the options they
// stand for; a boolean pair's variable is its positive option's.
//
// They are read whatever else the command line says: their prefix names
// the server, so they cannot collide with each other, with gunicorn's
// names or with gowsgi's, and a process environment that holds one was set
// up for that server. l ranks just above the defaults (srcPeerEnv): every
// gunicorn source (config file, GOWSGI_*, GUNICORN_CMD_ARGS) and the
// command line win, so a gunicorn deployment with a stray UVICORN_PORT in
// its environment keeps the bind its config file names (under gunicorn,
// uvicorn's worker never reads these variables), while for a uvicorn or
// granian user, who has no gunicorn config file, they rank below the
// command line only, as in those servers.
func peerEnv(l *layer, getenv func(string) string) {
	if v := getenv("UVICORN_APP"); v != "" {
		l.add(byName["app"], "UVICORN_APP", v)
	}
	for _, s := range settings {
		if s.peer == nil {
			continue
		}
		for _, p := range []struct {
			prefix string
			flags  []string
		}{{"UVICORN_", s.peer.uvicorn}, {"GRANIAN_", s.peer.granian}} {
			for _, fl := range p.flags {
				long := strings.TrimPrefix(fl, "--")
				if strings.HasPrefix(long, "no-") {
					continue
				}
				param := strings.ToUpper(uvicornParam(long))
				if p.prefix == "GRANIAN_" {
					param = strings.ToUpper(strings.ReplaceAll(long, "-", "_"))
					if granianParams[long] != "" {
						param = granianParams[long]
					}
				}
				name := p.prefix + param
				v := getenv(name)
				if v == "" {
					continue
				}
				switch {
				case long == "access-log": // a switch in uvicorn and granian, a file here
					if b, err := parseBool(v); err == nil && !b {
						l.add(byName["no-access-log"], name, "true")
					}
					continue
				case s.typ == tList:
					for _, item := range strings.Fields(v) { // click splits multiple options' variables on spaces
						l.add(s, name, item)
					}
					continue
				}
				l.add(s, name, v)
			}
		}
	}
}

// granianLine names what makes a command line granian's, for what granian
// reads differently from gunicorn and uvicorn ($WEB_CONCURRENCY, which it
// does not read): the first option on it (cli) that only granian spells
// (granianOnly), else the first GRANIAN_* variable gowsgi reads (peer:
// an environment set up for granian); "" when there is neither.
func granianLine(cli, peer *layer) string {
	for _, s := range settings {
		if g := cli.vals[s]; g != nil {
			if long, ok := strings.CutPrefix(g.origin, "--"); ok && granianOnly(long) {
				return g.origin
			}
		}
	}
	for _, s := range settings {
		if g := peer.vals[s]; g != nil && strings.HasPrefix(g.origin, "GRANIAN_") {
			return g.origin
		}
	}
	return ""
}

// granianOnly reports whether the long flag long (without "--") is
// granian's spelling only: granian's, not uvicorn's or hypercorn's, and not
// the name of one of gowsgi's own options (a row's first flag, where the
// row has a usage line: --http2-max-frame-size is gowsgi's and gunicorn's
// too).
func granianOnly(long string) bool {
	has := func(flags []string) bool {
		for _, f := range flags {
			if strings.TrimPrefix(f, "--") == long {
				return true
			}
		}
		return false
	}
	granian := false
	for _, s := range settings {
		if s.usage != "" && len(s.flags) > 0 && strings.TrimPrefix(s.flags[0], "--") == long {
			return false
		}
		if s.peer == nil {
			continue
		}
		if has(s.peer.uvicorn) || has(s.peer.hypercorn) {
			return false
		}
		granian = granian || has(s.peer.granian)
	}
	return granian
}

// uvicornParams are uvicorn's click parameter names that are not their
// option's long name with "-" written "_". A parameter name is both the
// key of a worker class's CONFIG_KWARGS and, upper-cased after UVICORN_,
// the option's environment variable.
var uvicornParams = map[string]string{
	"header": "headers", "reload-dir": "reload_dirs", "reload-include": "reload_includes", "reload-exclude": "reload_excludes",
}

// uvicornParam is the parameter name of uvicorn's long option long
// (without "--"): "ws-max-size" is ws_max_size, "header" is headers.
func uvicornParam(long string) string {
	if p, ok := uvicornParams[long]; ok {
		return p
	}
	return strings.ReplaceAll(long, "-", "_")
}

// uvicornSetting is the setting that uvicorn's parameter param (a
// CONFIG_KWARGS key) spells, through the row's uvicorn spellings; nil when
// no uvicorn option is param.
func uvicornSetting(param string) *setting {
	for _, s := range settings {
		if s.peer == nil {
			continue
		}
		for _, fl := range s.peer.uvicorn {
			long := strings.TrimPrefix(fl, "--")
			if !strings.HasPrefix(long, "no-") && uvicornParam(long) == param {
				return s
			}
		}
	}
	return nil
}

// granianParams are granian's parameter names (GRANIAN_ + name) that are
// not its option's name.
var granianParams = map[string]string{
	"ws": "WEBSOCKETS", "log": "LOG_ENABLED", "opt": "LOOP_OPT", "access-log": "LOG_ACCESS_ENABLED", "access-log-fmt": "LOG_ACCESS_FMT",
}

// yamlDict reads a YAML logging configuration (uvicorn's --log-config
// log.yaml) as the JSON of the dict logging.config.dictConfig takes, so the
// workers need no YAML library.
func yamlDict(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read it: %v", errText(err))
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("not YAML: %v", err)
	}
	if m == nil {
		return "", fmt.Errorf("not a logging dict (version: 1, handlers: ..., loggers: ...)")
	}
	j, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("not a logging dict: %v", err)
	}
	return string(j), nil
}
