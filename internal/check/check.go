// Package check implements `gowsgi check TARGET`: it loads a WSGI
// application exactly as gowsgi's workers do, drives it in-process through
// wsgiref.validate with a handful of requests, and reports what it found —
// the callable, each request's status, content type and size, and every PEP
// 3333 violation in plain words, with file:line where one is known. An ASGI
// application goes through the lifespan protocol and the same requests
// instead, every message it sends checked against the ASGI spec.
//
// The Python side is pyshim.CheckSource: the worker's modules and check.py,
// which loads the application with the worker's own code. It reaches the
// interpreter on a pipe (fd 3), run by pyshim.Loader; check.py answers with
// JSON lines on stdout, while anything the application prints goes to
// stderr.
//
// Exit codes: 0 clean, 1 violations (or the application failed a request),
// 2 the application cannot be loaded (or the check could not run).
package check

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/pyshim"
)

// Exit codes.
const (
	ExitClean      = 0
	ExitViolations = 1
	ExitNoLoad     = 2
)

// Report is what a check found; --json prints it.
type Report struct {
	Target        string    `json:"target"`
	Python        string    `json:"python"`
	PythonVersion string    `json:"python_version,omitempty"`
	Loaded        bool      `json:"loaded"`
	Callable      string    `json:"callable,omitempty"`   // as the worker names it: file.py:app
	Type          string    `json:"type,omitempty"`       // function, flask.app.Flask instance...
	Interface     string    `json:"interface,omitempty"`  // ASGI 3 or ASGI 2; "" = WSGI
	DefinedAt     string    `json:"defined_at,omitempty"` // file:line, for functions
	LoadError     string    `json:"load_error,omitempty"`
	Suggestion    string    `json:"suggestion,omitempty"` // a TARGET that names an existing callable
	Traceback     string    `json:"traceback,omitempty"`
	Requests      []Request `json:"requests"`
	Violations    []Finding `json:"violations"`
	Warnings      []Finding `json:"warnings"`
	Stopped       string    `json:"stopped,omitempty"` // why the check ended early
	Output        string    `json:"output,omitempty"`  // the interpreter's stderr, when it ended early
	ExitCode      int       `json:"exit_code"`
}

// Request is one request's outcome.
type Request struct {
	Request     string    `json:"request"` // label, e.g. "POST / (chunked body)"
	Method      string    `json:"method"`
	URI         string    `json:"uri"`
	Status      *string   `json:"status"` // nil: start_response never succeeded
	ContentType *string   `json:"content_type"`
	Size        int       `json:"size"`
	Error       *AppError `json:"error,omitempty"`
	Stopped     bool      `json:"stopped,omitempty"` // the check ended during this request
	Violations  []Finding `json:"violations"`
	Warnings    []Finding `json:"warnings"`
}

// AppError is an exception the application raised.
type AppError struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Traceback string `json:"traceback"`
}

// Finding is one violation or warning.
type Finding struct {
	Request string `json:"request"`
	Message string `json:"message"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// Where returns "file:line", "file" or "".
func (f Finding) Where() string {
	if f.File == "" {
		return ""
	}
	if f.Line > 0 {
		return f.File + ":" + strconv.Itoa(f.Line)
	}
	return f.File
}

const usage = `Usage: gowsgi check [--json] [--python P] [--chdir DIR] [--pythonpath DIR]... TARGET

Loads TARGET as gowsgi would and runs a few requests through wsgiref.validate
(GET /, HEAD /, POST with a body, a chunked body, a missing page, a non-ASCII
path), then reports the callable, each response, and every PEP 3333 violation.
Exit status: 0 clean, 1 violations, 2 the application cannot be loaded.

`

// Main runs `gowsgi check` with args (the arguments after "check") and
// returns the exit code. Options are gowsgi's own (config.ParseCheck):
// --python, --chdir, --pythonpath, a gunicorn config file..., and --timeout
// bounds each request.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := config.ParseCheck(args, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "gowsgi check: %v\n%s%s", err, usage, checkFlags())
		return ExitNoLoad
	}
	if cfg.ShowHelp {
		fmt.Fprintf(stdout, "%s%s", usage, checkFlags())
		return ExitClean
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "gowsgi check: %s\n", w)
	}
	if len(cfg.Args) != 1 {
		fmt.Fprintf(stderr, "gowsgi check: want exactly one TARGET, got %d arguments\n%s%s", len(cfg.Args), usage, checkFlags())
		return ExitNoLoad
	}
	cfg.Target = cfg.Args[0]
	py, err := pyshim.FindPython(cfg.Python)
	if err != nil {
		fmt.Fprintf(stderr, "gowsgi check: %v\n", err)
		return ExitNoLoad
	}
	rep := Run(Options{Python: py, Target: cfg.Target, Interface: string(cfg.Interface), Chdir: cfg.Chdir, PythonPath: cfg.PythonPath,
		RequestTimeout: cfg.Timeout, BootTimeout: cfg.BootTimeout})
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		enc.Encode(rep)
	} else {
		rep.WriteText(stdout)
	}
	return rep.ExitCode
}

// checkFlags lists the options that matter to a check.
func checkFlags() string {
	return "Options:\n" +
		"      --json                print the report as JSON\n" +
		"      --python string       Python interpreter (default: the venv gowsgi is installed in, else $VIRTUAL_ENV/bin/python, else python3 on PATH)\n" +
		"      --chdir string        change to this directory before loading the app\n" +
		"      --pythonpath string   directories to prepend to sys.path (comma-separated; repeatable)\n" +
		"  -t, --timeout duration    longest one request may take (default 30s)\n" +
		"  -c, --config string       gunicorn config file (default: ./gunicorn.conf.py when present)\n" +
		"Every gowsgi option is accepted; see gowsgi --help.\n"
}

// CheckConfig is --check-config: it loads the app as the configuration
// says, in the chosen interpreter, and returns 0 when it loads, else 1
// (gunicorn's exit codes), printing why to stderr.
func CheckConfig(cfg *config.Config, stdout, stderr io.Writer) int {
	py, err := pyshim.FindPython(cfg.Python)
	if err != nil {
		fmt.Fprintf(stderr, "gowsgi: %v\n", err)
		return 1
	}
	rep := Load(Options{Python: py, Target: cfg.Target, Interface: string(cfg.Interface), Chdir: cfg.Chdir, PythonPath: cfg.PythonPath, BootTimeout: cfg.BootTimeout})
	if !rep.Loaded {
		fmt.Fprintf(stderr, "gowsgi: cannot load %s: %s\n", cfg.Target, rep.LoadError)
		if rep.Suggestion != "" {
			fmt.Fprintf(stderr, "did you mean: %s\n", rep.Suggestion)
		}
		if rep.Traceback != "" {
			fmt.Fprintf(stderr, "%s", indent(rep.Traceback, "  "))
		}
		return 1
	}
	kind := rep.Type
	if rep.asgi() {
		kind += ", " + rep.Interface
	}
	fmt.Fprintf(stdout, "gowsgi: configuration OK; %s loads (%s)\n", rep.Callable, kind)
	return 0
}

// Options say what to check and how.
type Options struct {
	Python         string
	Target         string
	Interface      string // --interface: auto, wsgi or asgi ("" = auto)
	Chdir          string
	PythonPath     []string
	RequestTimeout time.Duration // per request; 0 = none
	BootTimeout    time.Duration // for loading the app; 0 = 2 minutes
	// LoadOnly loads the application and sends it no request
	// (--check-config).
	LoadOnly bool
}

// Load loads the application as Run does, without sending it a request.
func Load(o Options) *Report {
	o.LoadOnly = true
	return Run(o)
}

// Run performs a check and returns its report (ExitCode set).
func Run(o Options) *Report {
	rep := &Report{Target: o.Target, Python: o.Python, Requests: []Request{}, Violations: []Finding{}, Warnings: []Finding{}}
	if o.BootTimeout == 0 {
		o.BootTimeout = 2 * time.Minute
	}
	cfg := struct {
		pyshim.Config
		RequestTimeout float64 `json:"request_timeout"`
		LoadOnly       bool    `json:"load_only,omitempty"`
	}{pyshim.Config{Target: o.Target, Chdir: o.Chdir, PythonPath: o.PythonPath, Threads: 1, Workers: 1, Interface: o.Interface},
		o.RequestTimeout.Seconds(), o.LoadOnly}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // strings and numbers always marshal
	}

	// The interpreter's own time limit (faulthandler) names a hung request;
	// this one is the backstop.
	limit := o.BootTimeout + 7*o.RequestTimeout + 30*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()

	srcR, srcW, err := os.Pipe()
	if err != nil {
		return rep.fail("cannot create a pipe: %v", err)
	}
	cmd := exec.CommandContext(ctx, o.Python, "-c", pyshim.Loader, string(cfgJSON))
	cmd.ExtraFiles = []*os.File{srcR} // fd 3
	cmd.Env = os.Environ()
	if os.Getenv("PYTHONUNBUFFERED") == "" {
		cmd.Env = append(cmd.Env, "PYTHONUNBUFFERED=1") // as gowsgi runs workers
	}
	var errBuf tailBuffer
	cmd.Stderr = &errBuf
	// A process the application started may keep stderr open after the
	// interpreter exits; do not wait for it long.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		srcR.Close()
		srcW.Close()
		return rep.fail("cannot create a pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		srcR.Close()
		srcW.Close()
		return rep.fail("cannot run %s: %v", o.Python, err)
	}
	srcR.Close()
	go func() {
		srcW.Write(pyshim.CheckSource)
		srcW.Close()
	}()

	done, pending := false, ""
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for !done && sc.Scan() {
		var ev struct {
			Event string `json:"event"`
		}
		line := sc.Bytes()
		if err := json.Unmarshal(line, &ev); err != nil {
			continue
		}
		switch ev.Event {
		case "load":
			var l struct {
				OK            bool   `json:"ok"`
				Python        string `json:"python"`
				PythonVersion string `json:"python_version"`
				Callable      string `json:"callable"`
				Type          string `json:"type"`
				Interface     string `json:"interface"`
				DefinedAt     string `json:"defined_at"`
				Error         string `json:"error"`
				Suggestion    string `json:"suggestion"`
				Traceback     string `json:"traceback"`
			}
			json.Unmarshal(line, &l)
			rep.Loaded, rep.PythonVersion = l.OK, l.PythonVersion
			if l.Python != "" {
				rep.Python = l.Python
			}
			rep.Callable, rep.Type, rep.DefinedAt = l.Callable, l.Type, l.DefinedAt
			if strings.HasPrefix(l.Interface, "ASGI") {
				rep.Interface = l.Interface // a WSGI report stays as it was
			}
			rep.LoadError, rep.Suggestion, rep.Traceback = l.Error, l.Suggestion, l.Traceback
		case "begin":
			var b struct {
				Request string `json:"request"`
			}
			json.Unmarshal(line, &b)
			pending = b.Request
		case "request":
			var r Request
			json.Unmarshal(line, &r)
			if r.Violations == nil {
				r.Violations = []Finding{}
			}
			if r.Warnings == nil {
				r.Warnings = []Finding{}
			}
			rep.Requests = append(rep.Requests, r)
			rep.Violations = append(rep.Violations, r.Violations...)
			rep.Warnings = append(rep.Warnings, r.Warnings...)
			pending = ""
		case "done":
			done = true
		}
	}
	waitErr := cmd.Wait()

	switch {
	case done:
	case ctx.Err() != nil:
		rep.Stopped = fmt.Sprintf("the check did not finish within %s", limit)
	case !rep.Loaded && rep.LoadError != "":
		// a load failure ends the run normally
	case pending != "" && strings.Contains(errBuf.String(), "Timeout ("):
		// faulthandler's dump_traceback_later: the stack follows in the output.
		rep.Stopped = fmt.Sprintf("%s got no answer within %s; the check was stopped (where the application was is in its output below)", pending, o.RequestTimeout)
	case pending != "":
		rep.Stopped = fmt.Sprintf("the interpreter stopped during %s (%s)", pending, describeExit(waitErr))
	default:
		rep.Stopped = fmt.Sprintf("the interpreter stopped without a report (%s)", describeExit(waitErr))
	}
	failed := rep.Stopped != ""
	for _, r := range rep.Requests {
		failed = failed || r.Error != nil || r.Status != nil && strings.HasPrefix(*r.Status, "5")
	}
	if pending != "" && rep.Stopped != "" {
		rep.Requests = append(rep.Requests, Request{Request: pending, Stopped: true, Violations: []Finding{}, Warnings: []Finding{}})
	}
	if failed {
		// What the application printed (tracebacks it logged, say) explains it.
		rep.Output = errBuf.String()
	}

	switch {
	case !rep.Loaded:
		if rep.LoadError == "" && rep.Stopped != "" {
			rep.LoadError = rep.Stopped
		}
		rep.ExitCode = ExitNoLoad
	case len(rep.Violations) > 0 || rep.Stopped != "":
		rep.ExitCode = ExitViolations
	default:
		for _, r := range rep.Requests {
			if r.Error != nil {
				rep.ExitCode = ExitViolations
			}
		}
	}
	return rep
}

func (rep *Report) fail(format string, a ...any) *Report {
	rep.LoadError = fmt.Sprintf(format, a...)
	rep.ExitCode = ExitNoLoad
	return rep
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	if err != nil {
		return err.Error()
	}
	return "it exited with status 0"
}

// WriteText prints the report for people.
func (rep *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "gowsgi check %s\n", rep.Target)
	if !rep.Loaded {
		fmt.Fprintf(w, "cannot load %s: %s\n", rep.Target, rep.LoadError)
		if rep.Suggestion != "" {
			fmt.Fprintf(w, "did you mean: gowsgi check %s\n", rep.Suggestion)
		}
		if rep.Traceback != "" {
			fmt.Fprintf(w, "\n%s", indent(rep.Traceback, "  "))
		}
		if rep.Output != "" {
			fmt.Fprintf(w, "\napplication output (stderr):\n%s", indent(rep.Output, "  "))
		}
		return
	}
	callable := rep.Callable + " (" + rep.Type
	if rep.DefinedAt != "" {
		callable += ", " + rep.DefinedAt
	}
	fmt.Fprintf(w, "  callable  %s)\n", callable)
	if rep.asgi() {
		fmt.Fprintf(w, "  speaks    %s\n", rep.Interface)
	}
	fmt.Fprintf(w, "  python    %s %s\n\n", rep.Python, rep.PythonVersion)

	wl, ws := 0, 0
	for _, r := range rep.Requests {
		wl = max(wl, len([]rune(r.Request)))
		ws = max(ws, len([]rune(r.statusText())))
	}
	for _, r := range rep.Requests {
		ct := "-"
		if r.ContentType != nil {
			ct = *r.ContentType
		}
		if rep.asgi() && r.Method == "" && !r.Stopped { // the ASGI lifespan protocol
			fmt.Fprintf(w, "  %s  %s\n", pad(r.Request, wl), r.statusText())
			continue
		}
		fmt.Fprintf(w, "  %s  %s  %s, %d bytes\n", pad(r.Request, wl), pad(r.statusText(), ws), ct, r.Size)
	}
	if rep.Stopped != "" {
		fmt.Fprintf(w, "\nstopped: %s\n", rep.Stopped)
	}
	if rep.Output != "" {
		fmt.Fprintf(w, "\napplication output (stderr):\n%s", indent(rep.Output, "  "))
	}

	all := make([]string, len(rep.Requests))
	for i, r := range rep.Requests {
		all[i] = r.Request
	}
	writeFindings(w, rep.Violations, all, "violation")
	writeFindings(w, rep.Warnings, all, "warning")
	// Each distinct traceback once, with the requests that raised it.
	var tbs []string
	raisedBy := map[string][]string{}
	for _, r := range rep.Requests {
		if r.Error != nil && r.Error.Traceback != "" {
			if raisedBy[r.Error.Traceback] == nil {
				tbs = append(tbs, r.Error.Traceback)
			}
			raisedBy[r.Error.Traceback] = append(raisedBy[r.Error.Traceback], r.Request)
		}
	}
	for _, tb := range tbs {
		on := strings.Join(raisedBy[tb], ", ")
		if len(raisedBy[tb]) == len(all) && len(all) > 1 {
			on = "every request"
		}
		fmt.Fprintf(w, "\nraised on %s:\n%s", on, indent(tb, "  "))
	}

	fmt.Fprintln(w)
	spec := "PEP 3333"
	if rep.asgi() {
		spec = "ASGI"
	}
	switch {
	case rep.ExitCode == ExitClean && len(rep.Warnings) > 0:
		n := len(groupFindings(rep.Warnings))
		fmt.Fprintf(w, "OK: no %s violations found (%d %s)\n", spec, n, plural(n, "warning"))
	case rep.ExitCode == ExitClean:
		fmt.Fprintf(w, "OK: no %s violations found\n", spec)
	case len(rep.Violations) > 0:
		n := len(groupFindings(rep.Violations))
		fmt.Fprintf(w, "FAIL: %d %s\n", n, plural(n, "violation"))
	default:
		fmt.Fprintln(w, "FAIL: the application did not answer every request")
	}
}

// asgi reports whether the application speaks ASGI (3, or 2 adapted).
func (rep *Report) asgi() bool { return strings.HasPrefix(rep.Interface, "ASGI") }

func (r Request) statusText() string {
	switch {
	case r.Stopped:
		return "stopped"
	case r.Status != nil:
		return *r.Status
	case r.Error != nil:
		return "raised " + r.Error.Type
	}
	return "no response"
}

type group struct {
	f        Finding
	requests []string
}

// groupFindings merges findings that differ only in the request.
func groupFindings(fs []Finding) []*group {
	var out []*group
	index := map[string]*group{}
	for _, f := range fs {
		key := f.Message + "\x00" + f.Where()
		g := index[key]
		if g == nil {
			g = &group{f: f}
			index[key] = g
			out = append(out, g)
		}
		g.requests = append(g.requests, f.Request)
	}
	return out
}

func writeFindings(w io.Writer, fs []Finding, all []string, noun string) {
	groups := groupFindings(fs)
	if len(groups) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d %s:\n", len(groups), plural(len(groups), noun))
	for _, g := range groups {
		msg := g.f.Message
		if where := g.f.Where(); where != "" {
			msg += " (" + where + ")"
		}
		on := strings.Join(g.requests, ", ")
		if len(g.requests) == len(all) && len(all) > 1 {
			on = "every request"
		}
		fmt.Fprintf(w, "  - %s\n    on: %s\n", msg, on)
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

func pad(s string, n int) string {
	if k := len([]rune(s)); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n"
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

const tailMax = 64 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if t.b.Len() > 2*tailMax {
		keep := append([]byte(nil), t.b.Bytes()[t.b.Len()-tailMax:]...)
		t.b.Reset()
		t.b.Write(keep)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.b.String()
	if len(s) > tailMax {
		s = "..." + s[len(s)-tailMax:]
	}
	return s
}
