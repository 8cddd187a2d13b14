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

	"github.com/gowsgi/gowsgi/internal/pyshim"
)

// workerKind is what gowsgi runs for a gunicorn worker class.
type workerKind struct {
	// kind is "threads" (sync, gthread: --threads threads), "green"
	// (gevent, eventlet, tornado, meinheld: a thread count from
	// --worker-connections) or "asgi".
	kind string
	// loop is the event loop an ASGI class fixes ("" = --loop's).
	loop string
	// name is the class as gunicorn (or its package) spells it.
	name string
}

// knownWorkers are the worker classes gowsgi knows by name, lower-cased:
// gunicorn's short names and class paths, meinheld's, uvicorn's, and
// hypercorn's worker-class names for its event loops.
var knownWorkers = map[string]workerKind{}

// refusedWorkers are classes (and the bases of classes) gowsgi cannot
// stand in for, with why.
var refusedWorkers = map[string]string{
	"trio": "runs trio apps; gowsgi's ASGI workers run asyncio (uvloop): serve trio apps with hypercorn",
	"gunicorn.workers.gaiohttp.aiohttpworker": "serves aiohttp's own web.Application, neither WSGI nor ASGI: run it with aiohttp's server (python -m aiohttp.web)",
	"aiohttp.worker.gunicornwebworker":        "serves aiohttp's own web.Application, neither WSGI nor ASGI: run it with aiohttp's server (python -m aiohttp.web)",
}

func init() {
	add := func(kind, loop string, names ...string) {
		for _, n := range names {
			knownWorkers[strings.ToLower(n)] = workerKind{kind: kind, loop: loop, name: n}
		}
	}
	add("threads", "", "sync", "gthread", "gunicorn.workers.sync.SyncWorker", "gunicorn.workers.gthread.ThreadWorker")
	add("green", "", "gevent", "gevent_wsgi", "gevent_pywsgi", "eventlet", "tornado",
		"gunicorn.workers.ggevent.GeventWorker", "gunicorn.workers.ggevent.GeventPyWSGIWorker",
		"gunicorn.workers.geventlet.EventletWorker", "gunicorn.workers.gtornado.TornadoWorker",
		"meinheld.gmeinheld.MeinheldWorker", "egg:meinheld#gunicorn_worker")
	add("asgi", "", "asgi", "gunicorn.workers.gasgi.ASGIWorker",
		"uvicorn.workers.UvicornWorker", "uvicorn_worker.UvicornWorker")
	add("asgi", "asyncio", "uvicorn.workers.UvicornH11Worker", "uvicorn_worker.UvicornH11Worker", "asyncio")
	add("asgi", "uvloop", "uvloop")
}

// knownWorkerClass sorts a -k value by its name: a known class, nil for a
// dotted path that must be imported to be judged (see classify), or an
// error for a name gunicorn would not load either, or a class refused by
// name.
func knownWorkerClass(v string) (*workerKind, error) {
	k := strings.ToLower(strings.TrimSpace(v))
	if w, ok := knownWorkers[k]; ok {
		return &w, nil
	}
	k = strings.TrimPrefix(k, "egg:gunicorn#")
	if w, ok := knownWorkers[k]; ok {
		return &w, nil
	}
	if why, ok := refusedWorkers[k]; ok || strings.HasPrefix(k, "aiohttp.") {
		if !ok {
			why = refusedWorkers["aiohttp.worker.gunicornwebworker"]
		}
		return nil, fmt.Errorf("worker class %s %s", v, why)
	}
	if strings.Contains(k, ".") || strings.Contains(k, ":") {
		return nil, nil
	}
	return nil, fmt.Errorf("worker class %s is not one of gunicorn's (sync, gthread, gevent, eventlet, tornado, asgi) nor a dotted path to a class", v)
}

// workerclassSource imports a worker class in the chosen Python and prints
// its ancestry as JSON (see workerclass.py).
//
//go:embed workerclass.py
var workerclassSource []byte

// workerclassProgram is workerclass.py after the gunicorn compatibility
// module, whose sys.path rule it shares with the config reader, the hook
// host and the workers.
var workerclassProgram = pyshim.Bundle(pyshim.GunicornCompat,
	pyshim.NewPart("workerclass.py", workerclassSource))

// classProbe is what workerclass.py found.
type classProbe struct {
	MRO          []string                   `json:"mro"`
	ConfigKwargs map[string]json.RawMessage `json:"config_kwargs"`
	StandIns     []string                   `json:"stand_ins"`
	Error        string                     `json:"error"`
}

// probeWorkerClass imports the class at path in the workers' Python, from
// the workers' directory, sys.path and environment.
func (c *Config) probeWorkerClass(path string) (*classProbe, error) {
	py, err := pyshim.FindPython(c.Python)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pyshim.Loader, path, c.Chdir, strings.Join(c.PythonPath, string(os.PathListSeparator)))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.Env = append(os.Environ(), c.Env...)
	started, err := pyshim.Feed(cmd, workerclassProgram)
	if err != nil {
		return nil, err
	}
	runErr := cmd.Start()
	started()
	if runErr == nil {
		runErr = cmd.Wait()
	}
	res := &classProbe{}
	if err := json.Unmarshal(out.Bytes(), res); err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("%s could not import it (%v)", py, runErr)
		}
		return nil, fmt.Errorf("no answer from %s", py)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("cannot import it: %s", res.Error)
	}
	return res, nil
}

// finishWorkerClass applies -k: a thread count for gevent-style classes,
// the ASGI interface (and a uvicorn subclass's CONFIG_KWARGS) for ASGI
// ones. A dotted path gowsgi does not know by name is imported and runs as
// the known class it derives from, with a notice.
func (c *Config) finishWorkerClass() error {
	if c.WorkerClass == "" {
		c.WorkerClass = "sync"
	}
	fromFile := c.fileClass != nil && c.fileClassName == c.WorkerClass // a class object, classified by the config reader
	wk, err := knownWorkerClass(c.WorkerClass)
	if err != nil && !fromFile {
		return &UsageError{err.Error()}
	}
	src, where := srcDefault, ""
	if g := c.given["worker-class"]; g != nil {
		src, where = g.src, g.origin+": "
	}
	var kwargs map[string]json.RawMessage
	if wk == nil {
		res := c.fileClass
		if !fromFile {
			if res, err = c.probeWorkerClass(c.WorkerClass); err != nil {
				return &UsageError{fmt.Sprintf("%sworker class %s: %v", where, c.WorkerClass, err)}
			}
		}
		for _, name := range res.MRO {
			k := strings.ToLower(name)
			if why, ok := refusedWorkers[k]; ok {
				return &UsageError{fmt.Sprintf("%sworker class %s (a subclass of %s) %s", where, c.WorkerClass, name, why)}
			}
			if w, ok := knownWorkers[k]; ok {
				wk = &w
				break
			}
		}
		if wk == nil {
			return &UsageError{fmt.Sprintf("%sworker class %s derives from none of the worker classes gowsgi stands in for "+
				"(gunicorn's sync, gthread, gevent, eventlet, tornado and asgi workers, meinheld's, uvicorn's): its bases are %s; "+
				"gowsgi runs its own Python workers (use -k sync, gthread or asgi)", where, c.WorkerClass, strings.Join(res.MRO[1:], ", "))}
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("worker class %s: runs as %s, the gunicorn worker it derives from (the class's own methods are not run)", c.WorkerClass, wk.name))
		kwargs = res.ConfigKwargs
	}
	wc := c.given["worker-connections"]
	switch wk.kind {
	case "green":
		th := c.given["threads"]
		if th == nil || th.src == srcDefault {
			c.Threads = min(c.workerConnections, 64)
			c.given["threads"] = &given{src: src, values: []string{strconv.Itoa(c.Threads)}, origin: "worker class " + c.WorkerClass}
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("worker class %s: running %d threads per worker instead of green threads; "+
			"gowsgi absorbs slow clients and idle keep-alive connections in Go, so a thread is only busy while the app works on a request",
			c.WorkerClass, c.Threads))
	case "asgi":
		origin := "worker class " + c.WorkerClass
		c.setFrom("interface", src, origin, "asgi")
		if wk.loop != "" {
			c.setFrom("loop", src, origin, wk.loop)
		}
		if wc != nil {
			c.setFrom("limit-concurrency", wc.src, wc.origin, strconv.Itoa(c.workerConnections))
		}
		if err := c.configKwargs(kwargs, src, origin); err != nil {
			return err
		}
	default:
		if wc != nil {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: used with gevent/eventlet and ASGI worker classes only; gowsgi bounds client connections server-wide with --max-connections (%d)", wc.origin, c.MaxConnections))
		}
	}
	return nil
}

// setFrom gives setting name the values vals (one, or a list setting's
// items), implied by a worker class given in src, unless the setting was
// given there or in a stronger place; it reports whether they were
// applied.
func (c *Config) setFrom(name string, src source, origin string, vals ...string) (bool, error) {
	if g := c.given[name]; g != nil && g.src >= src {
		return false, nil
	}
	s := byName[name]
	if s.typ != tList && len(vals) > 1 {
		vals = []string{strings.Join(vals, ",")}
	}
	for _, v := range vals {
		if err := s.apply(c, v); err != nil {
			return false, fmt.Errorf("%s: %s: %v", origin, name, err)
		}
	}
	c.given[name] = &given{src: src, values: vals, origin: origin}
	return true, nil
}

// configKwargs applies a uvicorn worker subclass's CONFIG_KWARGS as
// settings given where the class was given (the config file, say): a
// setting given in the same place or a stronger one wins. A key is
// uvicorn's parameter name, so it is read as the uvicorn option of that
// name is (uvicornSetting): honoured, or noticed or refused as the option
// is when its value asks for something. A key no uvicorn option spells
// gets a notice.
func (c *Config) configKwargs(kwargs map[string]json.RawMessage, src source, origin string) error {
	keys := make([]string, 0, len(kwargs))
	for k := range kwargs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v any
		if err := json.Unmarshal(kwargs[k], &v); err != nil || v == nil {
			continue // None: uvicorn's default
		}
		vals := kwargValues(v)
		where := origin + " CONFIG_KWARGS[" + k + "]"
		if k == "access_log" { // a switch in uvicorn, a file here
			if b, err := parseBool(strings.Join(vals, "")); err == nil && !b {
				if _, err := c.setFrom("no-access-log", src, where, "true"); err != nil {
					return &UsageError{err.Error()}
				}
			}
			continue
		}
		if k == "http" && len(vals) == 1 && (vals[0] == "auto" || vals[0] == "h11" || vals[0] == "httptools") {
			continue // uvicorn's HTTP parser: gowsgi parses HTTP in Go, for every app
		}
		if why, ok := mootKwargs[k]; ok {
			if asks := defaultAsks(tString); asks(strings.Join(vals, "")) && strings.Join(vals, "") != "false" {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s = %s ignored: %s", where, kwargs[k], why))
			}
			continue
		}
		s := uvicornSetting(k)
		switch x := v.(type) {
		case map[string]any: // uvicorn's Config takes a dict for log_config
			if k == "log_config" {
				s = byName["logconfig_dict"]
			}
		case float64: // and a logging level number for log_level
			if k == "log_level" {
				vals = []string{pythonLevel(int(x))}
			}
		}
		if s == nil {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: CONFIG_KWARGS[%s] = %s ignored: it means nothing to gowsgi", origin, k, kwargs[k]))
			continue
		}
		if s.kind == Noticed || s.kind == Refused {
			asks := s.asks
			if asks == nil {
				asks = defaultAsks(s.typ)
			}
			if !asks(strings.Join(vals, ",")) {
				continue
			}
			msg := fmt.Sprintf("%s = %s: %s", where, kwargs[k], s.why)
			if s.kind == Refused {
				return &UsageError{msg}
			}
			c.Warnings = append(c.Warnings, msg)
			continue
		}
		if s.name == "forwarded-allow-ips" {
			if g := c.given[s.name]; g == nil || g.src < src {
				c.ForwardedAllowIPs = nil // the class's list replaces the setting's
			}
		}
		if _, err := c.setFrom(s.name, src, where, vals...); err != nil {
			return &UsageError{err.Error()}
		}
	}
	return nil
}

// mootKwargs are the uvicorn parameters that mean nothing in a worker
// class, under gunicorn as here: uvicorn's worker serves the sockets it is
// given, in the process it is, and never runs uvicorn's reloader.
var mootKwargs = map[string]string{
	"host": "the worker serves the server's sockets (--bind)", "port": "the worker serves the server's sockets (--bind)",
	"uds": "the worker serves the server's sockets (--bind)", "fd": "the worker serves the server's sockets (--bind)",
	"workers": "the server starts the workers (--workers)", "reload": "the server reloads the workers (--reload)",
	"reload_dirs": "the server reloads the workers (--reload)", "reload_includes": "the server reloads the workers (--reload)",
	"reload_excludes": "the server reloads the workers (--reload)", "reload_delay": "the server reloads the workers (--reload)",
}

// kwargValues is a CONFIG_KWARGS value as the option's values: a list
// gives one value per item, a [name, value] pair (uvicorn's headers) is
// "name:value", a dict is its JSON.
func kwargValues(v any) []string {
	switch v := v.(type) {
	case bool:
		return []string{strconv.FormatBool(v)}
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}
	case string:
		return []string{v}
	case map[string]any:
		b, _ := json.Marshal(v)
		return []string{string(b)}
	case []any:
		var out []string
		for _, x := range v {
			if pair, ok := x.([]any); ok && len(pair) == 2 {
				out = append(out, fmt.Sprint(pair[0])+":"+fmt.Sprint(pair[1]))
				continue
			}
			out = append(out, kwargValues(x)...)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// pythonLevel names a Python logging level number (logging.DEBUG is 10)
// as --log-level does; uvicorn's TRACE (5) and anything below DEBUG are
// debug, anything above ERROR is critical.
func pythonLevel(n int) string {
	switch {
	case n <= 10:
		return "debug"
	case n <= 20:
		return "info"
	case n <= 30:
		return "warning"
	case n <= 40:
		return "error"
	}
	return "critical"
}
