package config

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gowsgi/gowsgi/internal/pyshim"
)

// loadconfSource executes a gunicorn config file in the chosen Python and
// prints what it defines as JSON (see loadconf.py).
//
//go:embed loadconf.py
var loadconfSource []byte

// loadconfProgram is loadconf.py after the module that executes the file
// (pyshim.GunicornCompat, which the hook host and the workers use too).
var loadconfProgram = pyshim.Bundle(pyshim.GunicornCompat,
	pyshim.NewPart("loadconf.py", loadconfSource))

// fileResult is what loadconf.py found in a config file.
type fileResult struct {
	location string
	Settings map[string]json.RawMessage `json:"settings"`
	File     string                     `json:"file"`
	Error    string                     `json:"error"`
	Trace    string                     `json:"traceback"`
	// Hypercorn: the keys are hypercorn's (a TOML file, or the attributes
	// of a python:module.object); a Python file's or module's globals are
	// gunicorn's settings, with hypercorn's names read too.
	Hypercorn bool `json:"hypercorn"`
	// WorkerClass is worker_class's ancestry when the file gives a class
	// object (worker_class = MyUvicornWorker, defined in the file), which
	// no dotted path could import again.
	WorkerClass *classProbe `json:"worker_class"`
}

// readConfigFile runs the config file at location (FILE, file:FILE,
// python:MODULE or hypercorn's python:module.object) in python ("" =
// pyshim.FindPython's choice).
//
// A FILE ending in .toml is hypercorn's TOML file, read here.
func readConfigFile(location, python string, getenv func(string) string) (*fileResult, error) {
	if isTOML(location) {
		return readTOMLConfig(location)
	}
	py, err := pyshim.FindPython(python)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %v", location, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pyshim.Loader, location)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = os.Environ()
	started, err := pyshim.Feed(cmd, loadconfProgram)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %v", location, err)
	}
	runErr := cmd.Start()
	started()
	if runErr == nil {
		runErr = cmd.Wait()
	}
	os.Stderr.Write(errOut.Bytes()) // what the file printed, as under gunicorn
	res := &fileResult{location: location}
	if err := json.Unmarshal(out.Bytes(), res); err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("config file %s: %s could not read it (%v)", location, py, runErr)
		}
		return nil, fmt.Errorf("config file %s: no answer from %s", location, py)
	}
	if res.Error != "" {
		msg := fmt.Sprintf("cannot read config file %s: %s", location, res.Error)
		if res.Trace != "" {
			msg += "\n" + strings.TrimRight(res.Trace, "\n")
		}
		return nil, &UsageError{msg}
	}
	return res, nil
}

// fill records the file's settings in l (values coerced to text as
// gunicorn's validators would read them) and its hooks in c, and returns
// notices: names that are not settings, hypercorn keys gowsgi notices.
// A hypercorn key gowsgi refuses is an error.
func (r *fileResult) fill(l *layer, c *Config) ([]string, error) {
	names := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		names = append(names, k)
	}
	sort.Strings(names)
	known := gunicornNames()
	if r.Hypercorn {
		known = hypercornNames()
	}
	var unknown, notices []string
	hooks := map[string]bool{}
	for _, name := range names {
		raw := r.Settings[name]
		var callable struct {
			Callable string `json:"callable"`
		}
		isCallable := json.Unmarshal(raw, &callable) == nil && callable.Callable != ""
		if notice, ok := r.loggerTarget(l, name, raw); ok {
			notices = append(notices, notice)
			continue
		}
		s := byGunicorn[name]
		if hk, ok := hypercornKeys[name]; ok && (r.Hypercorn || s == nil) {
			// hypercorn's names: in its files, and in a Python file where
			// gunicorn has no setting of that name.
			notice, err := r.fillHypercorn(l, name, hk, raw)
			if err != nil {
				return nil, err
			}
			if notice != "" {
				notices = append(notices, notice)
			}
			continue
		}
		if r.Hypercorn {
			s = nil
		}
		if s == nil {
			if u := unknownName(name, isCallable, known); u != "" {
				unknown = append(unknown, u)
			}
			continue
		}
		origin := r.location + ": " + name
		if isHook(name) {
			switch {
			case isCallable:
				hooks[name] = true
				l.add(s, origin, callable.Callable)
			case string(raw) != "null":
				l.add(s, origin, "\x00a server hook must be a function, got "+string(raw))
			}
			continue
		}
		if name == "accesslog" && string(raw) == "null" {
			// gunicorn's accesslog = None: no access log (gowsgi's default is stdout).
			l.add(byName["no-access-log"], origin, "true")
			continue
		}
		if name == "worker_class" && r.WorkerClass != nil {
			var cls struct {
				Callable string `json:"callable"`
			}
			json.Unmarshal(raw, &cls)
			c.fileClass, c.fileClassName = r.WorkerClass, cls.Callable
			l.add(s, origin, cls.Callable)
			continue
		}
		vals, err := fileValues(raw, s)
		if err != nil {
			l.add(s, origin, "\x00"+err.Error()) // reported when applied
			continue
		}
		for _, v := range vals {
			l.add(s, origin, v)
		}
	}
	r.recordHooks(c, hooks)
	if len(unknown) > 0 {
		what := "gunicorn settings"
		if r.Hypercorn {
			what = "hypercorn settings"
		}
		notices = append(notices, fmt.Sprintf("%s: not %s, ignored: %s", r.location, what, strings.Join(unknown, ", ")))
	}
	return notices, nil
}

// loggerTarget reads accesslog or errorlog given as a Python logger
// object, which hypercorn takes (accesslog = logging.getLogger("access")):
// gowsgi writes its logs itself, so the log goes where "-" sends it, with
// a notice. ok is false for any other name or value.
func (r *fileResult) loggerTarget(l *layer, name string, raw json.RawMessage) (notice string, ok bool) {
	setting, stream := map[string]string{"accesslog": "access-log", "errorlog": "error-log"}[name], "stdout"
	var v struct {
		Logger *string `json:"logger"`
	}
	if setting == "" || json.Unmarshal(raw, &v) != nil || v.Logger == nil {
		return "", false
	}
	if name == "errorlog" {
		stream = "stderr"
	}
	origin := r.location + ": " + name
	l.add(byName[setting], origin, "-")
	return fmt.Sprintf("%s: a Python logger (%q): gowsgi writes this log itself, to %s", origin, *v.Logger, stream), true
}

// unknownName is how the notice names a config-file global that is not a
// setting but looks like a misspelt one (preload, log_level, post_forks):
// "name (did you mean setting?)". It is "" for the globals that are not
// meant as settings, which gunicorn ignores without a word and so does
// gowsgi: a helper function whose name is not near a hook's, a class
// (Worker, imported for a type hint), an upper-case constant (PORT =
// 8000), and a helper variable, which is near no setting (host, port,
// cores, settings) or is named after one it computes (workers_per_core,
// keepalive_str, use_loglevel, bind_env: the templates' own names).
func unknownName(name string, isCallable bool, known []string) string {
	if isCallable && (!isHook(closest(name, hookNames)) || unicode.IsUpper(rune(name[0]))) {
		return "" // a helper function, or a class (from gunicorn.workers.base import Worker)
	}
	if name == strings.ToUpper(name) && byGunicorn[strings.ToLower(name)] == nil {
		return ""
	}
	hint := closest(name, known)
	if hint == "" || hint == name || strings.HasPrefix(name, hint+"_") || strings.HasSuffix(name, "_"+hint) {
		return ""
	}
	return fmt.Sprintf("%s (did you mean %s?)", name, hint)
}

// recordHooks records the hooks the file defines (defined), in gunicorn's
// order, and where they are.
func (r *fileResult) recordHooks(c *Config, defined map[string]bool) {
	for _, h := range hookNames {
		if defined[h] {
			c.Hooks.Names = append(c.Hooks.Names, h)
		}
	}
	if len(c.Hooks.Names) > 0 {
		c.Hooks.File = r.location
		if r.File != "" {
			c.Hooks.File = r.File // absolute, for running them later
		}
	}
}

// fileValues coerces a config-file value to the text values the table's
// parsers read: numbers and booleans as text, a string for a list setting
// as one item (raw_env = "A=1"), a list item by item, a dict as JSON.
func fileValues(raw json.RawMessage, s *setting) ([]string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var one func(x any) (string, error)
	one = func(x any) (string, error) {
		switch x := x.(type) {
		case nil:
			return "", nil
		case bool:
			return strconv.FormatBool(x), nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		case string:
			return x, nil
		case map[string]any:
			if c, ok := x["callable"].(string); ok && len(x) == 1 {
				return c, nil // a class for worker_class, say: refused as custom
			}
			if r, ok := x["repr"].(string); ok && len(x) == 1 {
				return "", fmt.Errorf("%s is not a value gowsgi can read", r)
			}
			b, _ := json.Marshal(x)
			return string(b), nil
		}
		return "", fmt.Errorf("%v is not a value gowsgi can read", x)
	}
	if list, ok := v.([]any); ok {
		if s.typ != tList && !(s.name == "pythonpath" || s.name == "forwarded-allow-ips") {
			return nil, fmt.Errorf("expected one value, got a list")
		}
		var out []string
		for _, x := range list {
			t, err := one(x)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		return out, nil
	}
	if v == nil {
		return nil, nil
	}
	t, err := one(v)
	if err != nil {
		return nil, err
	}
	return []string{t}, nil
}
