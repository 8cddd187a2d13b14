package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowsgi/gowsgi/internal/proxy"
)

// given is the value one source gave a setting.
type given struct {
	src    source
	values []string // one per occurrence; list settings use them all
	origin string   // for messages: "--workers", "GOWSGI_WORKERS", "gunicorn.conf.py: workers"
}

// layer is everything one source gave, by setting.
type layer struct {
	src  source
	vals map[*setting]*given
}

func (l *layer) add(s *setting, origin, v string) {
	g := l.vals[s]
	if g == nil {
		g = &given{src: l.src, origin: origin}
		l.vals[s] = g
	}
	g.values = append(g.values, v)
}

func newLayer(src source) *layer { return &layer{src: src, vals: map[*setting]*given{}} }

// recorder is the pflag.Value behind every spelling of a setting: it only
// records; values are read later, in precedence order.
type recorder struct {
	s      *setting
	l      *layer
	origin string
}

func (r recorder) String() string { return "" }
func (r recorder) Type() string {
	if r.s.meta != "" {
		return r.s.meta
	}
	switch r.s.typ {
	case tBool:
		return "bool"
	case tInt:
		return "int"
	case tList:
		return "stringArray"
	}
	return "string"
}

func (r recorder) Set(v string) error { r.l.add(r.s, r.origin, v); return nil }

// flagSet returns a FlagSet whose every flag records into l. Gunicorn's
// spellings are hidden from --help; "_" and "-" are interchangeable.
func flagSet(l *layer, prefix string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("gowsgi", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.SortFlags = false
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
	})
	for _, s := range settings {
		short := ""
		for _, sp := range s.flags {
			if len(sp) == 2 {
				short = sp[1:]
			}
		}
		first := true
		for _, sp := range s.flags {
			long, ok := strings.CutPrefix(sp, "--")
			if !ok || fs.Lookup(long) != nil {
				continue // a short one, or a spelling that differs only in "_"
			}
			sh := ""
			if first {
				sh = short
			}
			fl := fs.VarPF(recorder{s, l, prefix + "--" + long}, long, sh, s.usage)
			if s.typ != tBool && s.def != "" && s.defFn == nil {
				fl.DefValue = s.def // for --help
			}
			if s.typ == tBool {
				fl.NoOptDefVal = "true"
			}
			if s.noOptDef != "" {
				fl.NoOptDefVal = s.noOptDef
			}
			if s.typ == tBool && strings.HasPrefix(long, "no-") && !strings.HasPrefix(s.name, "no-") {
				fl.NoOptDefVal = "false" // uvicorn's and granian's --no-X of a setting X
			}
			if v, ok := implicitValue[long]; ok {
				fl.NoOptDefVal = v
			}
			if !first || s.usage == "" || s.kind == Noticed || s.kind == Refused {
				fl.Hidden = true
			}
			first = false
		}
	}
	return fs
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// FlagUsages is the option list of --help: gowsgi's own spellings.
func FlagUsages() string {
	return flagSet(newLayer(srcFlag), "").FlagUsages()
}

// load gathers every source and builds the Config.
func load(args []string, getenv func(string) string) (*Config, error) {
	cli, positional, err := flagLayer(args)
	if err != nil {
		return nil, err
	}
	cmdArgs, err := cmdArgsLayer(getenv("GUNICORN_CMD_ARGS"))
	if err != nil {
		return nil, fmt.Errorf("GUNICORN_CMD_ARGS: %v", err)
	}
	peer, env := peerEnvLayer(getenv), envLayer(getenv)

	c := &Config{given: map[string]*given{}, Umask: -1, UID: -1, GID: -1}
	if len(positional) > 0 {
		cli.add(byName["app"], "TARGET", positional[0])
	}
	c.Args = positional

	file, fileWarnings, err := c.fileLayer([]*layer{cli, cmdArgs, env, peer}, getenv)
	if err != nil {
		return nil, err
	}
	layers := []*layer{peer, file, env, cmdArgs, cli}
	if err := c.apply(layers, c.defaultsEnv(layers, cli, peer, getenv)); err != nil {
		return nil, err
	}
	c.Warnings = append(fileWarnings, c.Warnings...)
	if err := c.finish(getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// defaultsEnv is the environment the settings' defaults read: getenv,
// less $WEB_CONCURRENCY on a granian command line (granianLine), since
// granian reads GRANIAN_WORKERS and not it (gunicorn and uvicorn do). A
// WEB_CONCURRENCY that would have set the worker count gets a notice.
func (c *Config) defaultsEnv(layers []*layer, cli, peer *layer, getenv func(string) string) func(string) string {
	fl := granianLine(cli, peer)
	if fl == "" || getenv("WEB_CONCURRENCY") == "" {
		return getenv
	}
	given := false
	for _, l := range layers {
		given = given || l.vals[byName["workers"]] != nil
	}
	if !given {
		c.Warnings = append(c.Warnings, fmt.Sprintf("WEB_CONCURRENCY is not read: %s is granian's, and granian does not read it (GRANIAN_WORKERS or --workers set the count)", fl))
	}
	return func(k string) string {
		if k == "WEB_CONCURRENCY" {
			return ""
		}
		return getenv(k)
	}
}

// flagLayer reads the command line: the options, and the positional
// arguments left.
func flagLayer(args []string) (*layer, []string, error) {
	cli := newLayer(srcFlag)
	fs := flagSet(cli, "")
	args, err := expandAbbrev(fs, optionalValues(args))
	if err != nil {
		return nil, nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return cli, fs.Args(), nil
}

// cmdArgsLayer reads GUNICORN_CMD_ARGS (v), split as a shell would.
func cmdArgsLayer(v string) (*layer, error) {
	l := newLayer(srcCmdArgs)
	if v == "" {
		return l, nil
	}
	words, err := shellSplit(v)
	if err != nil {
		return nil, err
	}
	fs := flagSet(l, "GUNICORN_CMD_ARGS: ")
	if words, err = expandAbbrev(fs, optionalValues(words)); err != nil {
		return nil, err
	}
	if err := fs.Parse(words); err != nil {
		return nil, err
	}
	if len(fs.Args()) > 0 {
		return nil, fmt.Errorf("only options belong here (gunicorn ignores %q); give the application as the argument", strings.Join(fs.Args(), " "))
	}
	return l, nil
}

// peerEnvLayer reads uvicorn's and granian's variables (see peerEnv).
func peerEnvLayer(getenv func(string) string) *layer {
	l := newLayer(srcPeerEnv)
	peerEnv(l, getenv)
	return l
}

// envLayer reads the GOWSGI_* variables.
func envLayer(getenv func(string) string) *layer {
	env := newLayer(srcEnv)
	for _, s := range settings {
		if s.noEnv {
			continue
		}
		name := envName(s)
		if v := getenv(name); v != "" {
			env.add(s, name, v)
		}
	}
	return env
}

// fileLayer reads the gunicorn config file, if there is one: the one -c
// names on the command line, else in GUNICORN_CMD_ARGS, else GOWSGI_CONFIG
// (in those layers, strongest first), else ./gunicorn.conf.py when it
// exists. -h and -v skip it. It returns the file's values and warnings
// about names in it that are not settings.
func (c *Config) fileLayer(strongest []*layer, getenv func(string) string) (*layer, []string, error) {
	file := newLayer(srcFile)
	location, explicit := "", false
	for _, l := range strongest {
		if g := l.vals[byName["config"]]; g != nil {
			location, explicit = g.values[len(g.values)-1], true
			break
		}
	}
	if !explicit {
		if _, err := os.Stat("gunicorn.conf.py"); err == nil {
			if fl := peerFlag(strongest[0]); fl != "" {
				// uvicorn, granian and hypercorn read no default config
				// file: a uvicorn command line in a project that also
				// deploys with gunicorn must not pick up its workers, log
				// files or user.
				c.Warnings = append(c.Warnings, fmt.Sprintf("./gunicorn.conf.py is not read: %s is not gunicorn's, and uvicorn, granian and hypercorn read no config file of their own accord; -c gunicorn.conf.py reads it", fl))
			} else {
				location = "gunicorn.conf.py"
			}
		}
	}
	for _, l := range strongest {
		if l.vals[byName["help"]] != nil || l.vals[byName["version"]] != nil {
			return file, nil, nil
		}
	}
	if location == "" {
		return file, nil, nil
	}
	python := "" // the workers' interpreter runs the file: the strongest --python
	for _, l := range strongest {
		if g := l.vals[byName["python"]]; g != nil {
			python = g.values[len(g.values)-1]
			break
		}
	}
	res, err := readConfigFile(location, python, getenv)
	if err != nil {
		return nil, nil, err
	}
	warnings, err := res.fill(file, c)
	if err != nil {
		return nil, nil, err
	}
	c.ConfigFile = location
	if !explicit {
		file.add(byName["config"], location, location)
	}
	return file, warnings, nil
}

// peerFlag is the first option on the command line (cli) that gunicorn
// does not have and uvicorn, granian or hypercorn does (--host,
// --interface, --reload-dir...), as written; "" when there is none.
func peerFlag(cli *layer) string {
	for _, s := range settings {
		g := cli.vals[s]
		if g == nil {
			continue
		}
		if long, ok := strings.CutPrefix(g.origin, "--"); ok && peerOnly[long] {
			return g.origin
		}
	}
	return ""
}

// expandAbbrev spells out abbreviated long options (--work 4 for
// --workers 4), which gunicorn's argparse accepts when the prefix names one
// option only. uvicorn's and granian's spellings are never the expansion
// (peerOnly): adding them changes no gunicorn command line.
func expandAbbrev(fs *pflag.FlagSet, args []string) ([]string, error) {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "--" {
			break
		}
		name, rest, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || len(name) < 2 || fs.Lookup(name) != nil {
			continue
		}
		norm := strings.ReplaceAll(name, "_", "-")
		var matches []string
		fs.VisitAll(func(f *pflag.Flag) {
			if strings.HasPrefix(f.Name, norm) && !peerOnly[f.Name] {
				matches = append(matches, "--"+f.Name)
			}
		})
		switch len(matches) {
		case 0:
			continue // pflag reports the unknown flag
		case 1:
			out[i] = matches[0]
			if hasValue {
				out[i] += "=" + rest
			}
		default:
			return nil, fmt.Errorf("ambiguous option %s could match %s", "--"+name, strings.Join(matches, ", "))
		}
	}
	return out, nil
}

// byName finds a setting by gowsgi name; byGunicorn by gunicorn's.
var byName, byGunicorn map[string]*setting

// indexSettings builds byName and byGunicorn once the table is complete.
func indexSettings() {
	byName, byGunicorn = map[string]*setting{}, map[string]*setting{}
	for _, s := range settings {
		if byName[s.name] != nil {
			panic("config: two settings named " + s.name)
		}
		byName[s.name] = s
		if s.gunicorn != "" {
			if byGunicorn[s.gunicorn] != nil {
				panic("config: two settings for gunicorn's " + s.gunicorn)
			}
			byGunicorn[s.gunicorn] = s
		}
	}
}

func envName(s *setting) string {
	return "GOWSGI_" + strings.ToUpper(strings.NewReplacer("-", "_").Replace(s.name))
}

// apply reads defaults, then every layer from the lowest; a list setting
// takes only its highest layer's values. Then the winning values of
// Refused and Noticed settings are judged.
func (c *Config) apply(layers []*layer, getenv func(string) string) error {
	c.order = settings
	winner := map[*setting]*given{}
	for _, l := range layers {
		for s, g := range l.vals {
			winner[s] = g
		}
	}
	if err := c.applyDefaults(winner, getenv); err != nil {
		return err
	}
	for _, l := range layers {
		if err := c.applyLayer(l, winner); err != nil {
			return err
		}
	}
	return c.judge(winner)
}

// applyDefaults reads every setting's default, except a list setting's
// that a layer gives values for.
func (c *Config) applyDefaults(winner map[*setting]*given, getenv func(string) string) error {
	for _, s := range settings {
		def, from := s.def, ""
		if s.defFn != nil {
			def, from = s.defFn(getenv)
		}
		if from != "" {
			c.given[s.name] = &given{src: srcEnv, values: []string{def}, origin: from}
		}
		if def == "" || s.apply == nil || (s.typ == tList && winner[s] != nil) {
			continue
		}
		if err := s.apply(c, def); err != nil {
			origin := from
			if origin == "" {
				origin = "default --" + s.name
			}
			return fmt.Errorf("%s: %v", origin, err)
		}
	}
	return nil
}

// applyLayer reads one layer's values: the last one given for a single
// value, all of them for a list setting whose winning layer this is.
func (c *Config) applyLayer(l *layer, winner map[*setting]*given) error {
	for _, s := range settings {
		g := l.vals[s]
		if g == nil || (s.typ == tList && winner[s] != g) {
			continue
		}
		c.given[s.name] = g
		vals := g.values
		if s.typ != tList {
			vals = vals[len(vals)-1:]
		}
		for _, v := range vals {
			if msg, bad := strings.CutPrefix(v, "\x00"); bad {
				return fmt.Errorf("%s: %s", g.origin, msg) // a config-file value fileValues could not read
			}
			if s.apply == nil {
				continue
			}
			if err := s.apply(c, v); err != nil {
				return fmt.Errorf("%s: %v", g.origin, err)
			}
		}
	}
	return nil
}

// judge refuses the winning value of a Refused setting that asks for the
// feature (a UsageError) and notices a Noticed one's (a warning).
func (c *Config) judge(winner map[*setting]*given) error {
	for _, s := range settings {
		g := winner[s]
		if g == nil || (s.kind != Refused && s.kind != Noticed) {
			continue
		}
		if s.kind == Noticed && isHook(s.gunicorn) {
			continue // one notice for all hooks, in finish
		}
		asks := s.asks
		if asks == nil {
			asks = defaultAsks(s.typ)
		}
		v := g.values[len(g.values)-1]
		if s.typ == tList {
			v = strings.Join(g.values, ",")
		}
		if !asks(v) {
			continue
		}
		if s.kind == Refused {
			return &UsageError{fmt.Sprintf("%s: %s", g.origin, s.why)}
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s", g.origin, s.why))
	}
	return nil
}

func defaultAsks(t valueType) func(string) bool {
	return func(v string) bool {
		switch t {
		case tBool:
			b, err := parseBool(v)
			return err != nil || b
		case tInt:
			return v != "" && v != "0"
		}
		return v != "" && v != "None"
	}
}

func isHook(name string) bool {
	for _, h := range hookNames {
		if h == name {
			return true
		}
	}
	return false
}

// finish checks what no single setting can, and folds gunicorn's settings
// into gowsgi's.
func (c *Config) finish(getenv func(string) string) error {
	if len(c.envFileVars) > 0 {
		c.Env = append(append([]string(nil), c.envFileVars...), c.Env...) // --env wins: later values override
	}
	if err := c.finishWorkerClass(); err != nil {
		return err
	}
	if err := c.finishPeers(getenv); err != nil {
		return err
	}
	c.fillDefaults()
	c.finishHypercorn() // after the default bind: the plain binds join it
	if len(c.ReloadExtraFiles) > 0 && !c.Reload {
		return errors.New("--reload-extra-file needs --reload")
	}
	c.gunicornZeros()
	c.noticeIdleHooks()
	c.noticeAccessLoggers()
	return nil
}

// fillDefaults settles what no single setting's default can: the logs,
// the binds, the allow lists and the temp dir.
func (c *Config) fillDefaults() {
	// --no-access-log wins unless --access-log comes from a stronger source
	// (accesslog = None in a config file, then --access-logfile -).
	if n, a := c.given["no-access-log"], c.given["access-log"]; c.noAccessLog && (a == nil || n == nil || n.src >= a.src) {
		c.AccessLog = Output{}
	}
	if c.ErrorLog.To == OutputOff {
		c.ErrorLog = Output{To: OutputStderr}
	}
	if len(c.Binds) == 0 {
		b, _ := ParseBind("127.0.0.1:8000")
		c.Binds = []Bind{b}
	}
	if c.ForwardedAllowIPs == nil { // a config file's empty list
		c.ForwardedAllowIPs = &proxy.AllowList{}
	}
	if c.ProxyAllowIPs == nil {
		c.ProxyAllowIPs = &proxy.AllowList{}
	}
	if c.TmpUploadDir == "" {
		c.TmpUploadDir = os.TempDir()
	}
}

// gunicornZeros reads gunicorn's zeros: limit_request_fields 0 is its
// maximum, 32768; keepalive 0 and limit_request_line 0 (no keep-alive, no
// limit) are not offered by gowsgi's engine, which reads 0 as its default.
func (c *Config) gunicornZeros() {
	if c.MaxHeaderFields == 0 {
		c.MaxHeaderFields = 32768
	}
	if g := c.given["keep-alive"]; g != nil && c.KeepAlive == 0 {
		c.KeepAlive = 5 * time.Second
		c.Warnings = append(c.Warnings, g.origin+": 0 (no keep-alive) is not offered; idle connections are closed after 5s")
	}
	if g := c.given["limit-request-line"]; g != nil && c.MaxRequestLine == 0 {
		c.MaxRequestLine = 8190
		c.Warnings = append(c.Warnings, g.origin+": 0 (no limit) is not offered; request lines are limited to 8190 bytes, gunicorn's largest limit")
	}
	if int64(c.MaxFieldBytes) > c.MaxHeaderBytes {
		c.MaxHeaderBytes = int64(c.MaxFieldBytes) // one such field must fit the section
	}
}

// noticeIdleHooks names, in one notice, the hooks a config file defines
// that gowsgi does not run.
func (c *Config) noticeIdleHooks() {
	var idle []string
	for _, h := range c.Hooks.Names {
		if !runHook(h) {
			idle = append(idle, h)
		}
	}
	if c.ConfigFile != "" && len(idle) > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s defines gunicorn server hooks gowsgi does not run (%s)",
			c.ConfigFile, strings.Join(idle, ", ")))
	}
}

// shellSplit splits s as a POSIX shell would split words (quotes and
// backslashes; no expansion), as gunicorn's shlex.split does.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case quote == '"':
			switch {
			case ch == '"':
				quote = 0
			case ch == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote, inWord = ch, true
		case ch == '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// closest returns the known name nearest to n: one it is a prefix of (or
// that is a prefix of it), else one within an edit distance of a third of
// its length; "" when none is close.
func closest(n string, names []string) string {
	n = strings.ToLower(n)
	best, bestD := "", 2*max(1, len(n)/3)+1
	for _, k := range names {
		d := 2 * editDistance(n, k)
		if d > 0 && (strings.HasPrefix(k, n) || strings.HasPrefix(n, k)) {
			d = 1
		}
		if d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// gunicornNames is every gunicorn setting name the table knows, sorted.
func gunicornNames() []string {
	var out []string
	for n := range byGunicorn {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
