package config

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// Kind says what gowsgi does with a setting.
type Kind int

const (
	// Native is a gowsgi option; gunicorn may share it (Gunicorn != "").
	Native Kind = iota
	// Honoured is a gunicorn setting gowsgi applies with gunicorn's meaning
	// and units.
	Honoured
	// Noticed is a gunicorn setting gowsgi accepts; when it is given, a
	// one-line notice says what gowsgi does instead.
	Noticed
	// Refused is a gunicorn setting gowsgi cannot honour safely: giving it
	// (with a value that asks for the feature) is an error, exit 2.
	Refused
)

func (k Kind) String() string {
	return [...]string{"gowsgi", "honoured", "notice", "refused"}[k]
}

// valueType is how a setting's value is read and printed.
type valueType int

const (
	tString valueType = iota
	tBool
	tInt
	tList
)

// setting is one row of the table: a gowsgi option, a gunicorn setting, or
// both. The table drives the flag parser, the environment, the config-file
// reader, --print-config and the README's migration table.
type setting struct {
	// name is the gowsgi name: the primary long flag without "--" (and the
	// GOWSGI_ variable, upper-cased), or gunicorn's name for settings only a
	// config file can give.
	name string
	// flags are every command-line spelling: gowsgi's first, then
	// gunicorn's ("-w", "--workers"). Underscores and dashes are
	// interchangeable ("--limit-request-field_size").
	flags []string
	// gunicorn is gunicorn's setting (config-file) name; "" = gowsgi only.
	gunicorn string
	kind     Kind
	typ      valueType
	// def is the default as text; defFn, when set, computes it (from the
	// environment, like gunicorn's PORT and WEB_CONCURRENCY) and says
	// which variable it came from.
	def   string
	defFn func(getenv func(string) string) (string, string)
	usage string
	// why is the README note; for Noticed settings, the notice; for
	// Refused ones, the reason.
	why string
	// meta names the value in --help ("size", "duration", "addr"); "" =
	// its type's name.
	meta string
	// noOptDef is the value of the flag given alone ("--proxy-protocol"):
	// "" = "true" for a boolean, none for the others (a value is needed).
	noOptDef string
	// peer are uvicorn's and granian's spellings (settings_asgi.go).
	peer *peerNames
	// noEnv: no GOWSGI_ variable (-h, -v, and settings only a gunicorn
	// config file can give).
	noEnv bool
	// asks reports whether a value asks for the feature: a Refused setting
	// is refused, a Noticed one noticed, only then. Default: a true boolean,
	// a non-empty string, a number other than 0.
	asks func(v string) bool
	// accessor reads values into the Config and shows the result.
	accessor
}

// accessor is how a setting reaches its Config field. The helpers below
// (intField, durField, ...) make one for the common kinds of field.
type accessor struct {
	// apply reads one value into c (a list setting gets one call per item).
	apply func(c *Config, v string) error
	// show is the value for --print-config in gunicorn's units; nil = the
	// raw value as given (typed by typ), or null.
	show func(c *Config) any
}

// Sources of a value, lowest precedence first.
type source int

const (
	srcDefault source = iota
	srcPeerEnv        // uvicorn's UVICORN_* and granian's GRANIAN_* (peerEnv)
	srcFile
	srcEnv
	srcCmdArgs
	srcFlag
)

func (s source) String() string {
	return [...]string{"default", "env", "config file", "env", "GUNICORN_CMD_ARGS", "flag"}[s]
}

// Accessors for the common kinds of Config field.

// parsedField reads a value with parse into *p (the zero value parse
// returns with its error, too) and shows it with show.
func parsedField[T any](p func(*Config) *T, parse func(string) (T, error), show func(T) any) accessor {
	return accessor{apply: func(c *Config, v string) error {
		x, err := parse(v)
		*p(c) = x
		return err
	}, show: func(c *Config) any {
		return show(*p(c))
	}}
}

// asIs shows a value as it is.
func asIs[T any](x T) any { return x }

// unsetBelowZero shows an id or mask whose -1 means "not given" as null.
func unsetBelowZero(n int) any {
	if n < 0 {
		return nil
	}
	return n
}

func intField(min int, p func(*Config) *int) accessor {
	return accessor{apply: func(c *Config, v string) error {
		n, err := parseCount(v)
		if err != nil {
			return err
		}
		if n < min {
			return fmt.Errorf("must be at least %d, got %d", min, n)
		}
		*p(c) = n
		return nil
	}, show: func(c *Config) any {
		return *p(c)
	}}
}

func sizeField(p func(*Config) *int64) accessor { return parsedField(p, ParseSize, asIs[int64]) }

func intRange(lo, hi int, p func(*Config) *int) accessor {
	return accessor{apply: func(c *Config, v string) error {
		n, err := parseCount(v)
		if err != nil {
			return err
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d, got %d", lo, hi, n)
		}
		*p(c) = n
		return nil
	}, show: func(c *Config) any {
		return *p(c)
	}}
}

func durField(p func(*Config) *time.Duration) accessor { return parsedField(p, ParseDuration, seconds) }

func boolField(p func(*Config) *bool) accessor { return parsedField(p, parseBool, asIs[bool]) }

func strField(p func(*Config) *string) accessor {
	return accessor{apply: func(c *Config, v string) error {
		*p(c) = v
		return nil
	}, show: func(c *Config) any {
		if *p(c) == "" {
			return nil
		}
		return *p(c)
	}}
}

func listField(p func(*Config) *[]string) accessor {
	return accessor{apply: func(c *Config, v string) error {
		*p(c) = append(*p(c), v)
		return nil
	}, show: func(c *Config) any {
		return nonNil(*p(c))
	}}
}

// seconds is a duration in gunicorn's unit: a whole number of seconds when
// it is one, else a fraction.
func seconds(d time.Duration) any {
	if d%time.Second == 0 {
		return int64(d / time.Second)
	}
	return d.Seconds()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// settings is the table, assembled from the files named for what they
// hold (settings_app.go, settings_logging.go, ...). Order matters twice:
// it is --help's, --print-config's and the README table's order, and
// within one source a later row wins where two rows set the same field (a
// gowsgi option after the gunicorn one it refines).
var settings []*setting

func init() {
	for _, part := range [][]*setting{
		appSettings, staticSettings, logSettings, limitSettings, workerSettings, processSettings,
		proxySettings, httpSettings, wsSettings, modeSettings, gunicornOnlySettings, hookSettings(), gunicornLateSettings,
	} {
		settings = append(settings, part...)
	}
	asgiSettings()      // the ASGI rows, and uvicorn's and granian's spellings of the others
	hypercornSettings() // hypercorn's spellings, and its options gowsgi has no other row for
	indexSettings()
}

// outputValue is a log destination as gunicorn prints it.
func outputValue(o Output) any {
	switch o.To {
	case OutputStdout, OutputStderr:
		return "-"
	case OutputFile:
		return o.Path
	}
	return nil
}

// gunicornAccessFormat is gunicorn's default access_log_format: the
// Combined Log Format gowsgi writes.
const gunicornAccessFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// hookNames are gunicorn's server hooks, in gunicorn's order (20.1's 15,
// then 26.x's ssl_context and dirty-arbiter hooks).
var hookNames = []string{"on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
	"worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit", "worker_exit",
	"nworkers_changed", "on_exit", "ssl_context", "on_dirty_starting", "dirty_post_fork", "dirty_worker_init",
	"dirty_worker_exit"}

// runHook reports whether gowsgi runs the gunicorn server hook name: the
// fifteen of gunicorn 20.1.
func runHook(name string) bool { return hookWhy[name] != "" }

// hookWhy says where and when each hook gowsgi runs is called.
var hookWhy = map[string]string{
	"on_starting":      "runs in gowsgi's hook host before the workers boot",
	"on_reload":        "runs in the hook host when SIGHUP (or --reload) starts a new generation",
	"when_ready":       "runs in the hook host once the ports are bound and the workers serve",
	"pre_fork":         "runs in the hook host before each worker is started (gowsgi waits for it); the worker starts with the os.environ the master hooks left",
	"post_fork":        "runs in the worker before it loads the app (after the fork with --preload)",
	"post_worker_init": "runs in the worker once it has loaded the app",
	"worker_int":       "runs in a worker sent SIGINT or SIGQUIT, which then exits",
	"worker_abort":     "runs in a worker that ran past --timeout (sent SIGABRT after the stack dump), which then exits",
	"pre_exec":         "runs in the hook host on SIGUSR2, before gowsgi starts its new process on the same sockets",
	"pre_request":      "runs in the worker thread before each request",
	"post_request":     "runs in the worker thread after each response, once close() was called",
	"child_exit":       "runs in the hook host after a worker exited",
	"worker_exit":      "runs in the worker as it exits",
	"nworkers_changed": "runs in the hook host at start (old_value None) and on SIGTTIN/SIGTTOU",
	"on_exit":          "runs in the hook host just before gowsgi exits",
}

// lookupID reads a --user or --group value as gunicorn does: a number, or
// a name to look up.
func lookupID(v string, group bool) (int, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n, nil
	}
	if group {
		g, err := user.LookupGroup(v)
		if err != nil {
			return -1, fmt.Errorf("no group named %q", v)
		}
		n, _ := strconv.Atoi(g.Gid)
		return n, nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return -1, fmt.Errorf("no user named %q", v)
	}
	n, _ := strconv.Atoi(u.Uid)
	return n, nil
}
