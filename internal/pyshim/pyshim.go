// Package pyshim holds the Python side of gowsgi — a stdlib-only worker
// program embedded in the binary — and knows how to start it.
//
// The source is handed to the interpreter on a pipe (fd 3) rather than written
// to disk, so one static binary serves any interpreter and leaves nothing
// behind; `ps` shows a short command line. It is several files, each run as
// a module of its own (see Bundle and Loader): wire.py (frame I/O),
// wsgi.py (the WSGI interface), worker.py (the process), and
// gunicorn_compat.py (gunicorn config files and the hooks' objects, which
// internal/config's reader and internal/hooks' host share with the worker).
package pyshim

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The shim's source files. Each runs as a module of its own (see Loader).
//
//go:embed gunicorn_compat.py wire.py wsgi.py asgi.py worker.py check.py
var sources embed.FS

// Part is one module of the shim as the Loader receives it.
type Part struct {
	Module string // its name in sys.modules: private, _gowsgi_*
	File   string // the file name its tracebacks show: <gowsgi>/NAME.py
	Source []byte
}

// NewPart names the source of file (NAME.py) as the shim names its
// modules: _gowsgi_NAME in sys.modules, <gowsgi>/NAME.py in tracebacks.
func NewPart(file string, src []byte) Part {
	return Part{Module: "_gowsgi_" + strings.TrimSuffix(file, ".py"), File: "<gowsgi>/" + file, Source: src}
}

// part is the embedded file name as a Part.
func part(name string) Part {
	src, err := sources.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return NewPart(name, src)
}

// The shim's modules: how a gunicorn config file is executed and what its
// hooks are handed (also used by internal/config's reader and
// internal/hooks' host), the wire's frame I/O (Slot, the control loop),
// the WSGI interface over it, the ASGI one (an event loop serving every
// slot), the worker process (app loading, hooks,
// --preload's template, main), and `gowsgi check`'s driver.
var (
	GunicornCompat = part("gunicorn_compat.py")
	Wire           = part("wire.py")
	WSGI           = part("wsgi.py")
	ASGI           = part("asgi.py")
	Worker         = part("worker.py")
	Check          = part("check.py")
)

// Bundle is the stream the Loader reads on fd 3: for each part, a line
// "MODULE FILE SIZE" and SIZE bytes of source. Parts come in import order
// (each may import those before it); the last one's main() is the program.
func Bundle(parts ...Part) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "%s %s %d\n", p.Module, p.File, len(p.Source))
		b.Write(p.Source)
	}
	return b.Bytes()
}

// WorkerSource is the worker program, as a Bundle.
var WorkerSource = Bundle(GunicornCompat, Wire, WSGI, ASGI, Worker)

// CheckSource is `gowsgi check`'s program (internal/check): the worker's
// modules, so the application is loaded by the very code that loads it for
// serving, then check.py's.
var CheckSource = Bundle(GunicornCompat, Wire, WSGI, ASGI, Worker, Check)

// Loader is the -c program that runs a Bundle read from fd 3. It first
// checks the interpreter version, so pointing --python at a Python 2 gives
// one clear line rather than a syntax error in the shim. Each part runs in
// a module object of its own, registered in sys.modules before its code
// runs (so later parts import it by name); nothing is written to disk.
const Loader = "import sys\n" +
	"if sys.version_info < (3, 8): sys.exit('gowsgi: %s is Python %s; gowsgi needs Python 3.8 or newer (see --python)' % (sys.executable, sys.version.split()[0]))\n" +
	"import os,types\n" +
	"f=os.fdopen(3,'rb')\n" +
	"for h in iter(f.readline,b''):\n" +
	" n,p,s=h.decode().split();m=sys.modules[n]=types.ModuleType(n)\n" +
	" exec(compile(f.read(int(s)),p,'exec'),m.__dict__)\n" +
	"f.close();m.main()"

// Feed makes bundle the program of cmd, an interpreter started with
// "-c", Loader: it is written on a pipe that becomes the child's fd 3 (cmd
// must have no ExtraFiles yet). Call started once cmd.Start has returned,
// whatever it returned.
func Feed(cmd *exec.Cmd, bundle []byte) (started func(), err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{r}
	go func() {
		w.Write(bundle) // fails once the child is gone and r closed
		w.Close()
	}()
	return func() { r.Close() }, nil
}

// First descriptors in the child: the source pipe, the control socket, then
// one socket per slot.
const (
	FDSource  = 3
	FDControl = 4
	FDSlots   = 5
)

// Config is what a worker needs to know, passed as JSON in argv.
type Config struct {
	Target     string   `json:"target"`
	Chdir      string   `json:"chdir,omitempty"`
	PythonPath []string `json:"pythonpath,omitempty"`
	Threads    int      `json:"threads"`
	Workers    int      `json:"workers"`
	// Mode "template" (--preload): load the app, then fork workers on
	// request instead of serving (see internal/wire for the frames).
	Mode string `json:"mode,omitempty"`

	// Age is the worker's number (gunicorn's worker.age); a worker forked
	// by the template gets its own in the Fork frame.
	Age int `json:"age,omitempty"`
	// MasterPID is gowsgi's pid (the hooks' server.pid).
	MasterPID int `json:"master_pid,omitempty"`
	// Hooks is the gunicorn config file whose worker-side server hooks
	// (HookNames) the worker runs. The effective settings for the hooks'
	// worker.cfg come in the environment (SettingsEnv), not in argv, which
	// any local user can read: raw_env values may be secrets.
	Hooks     string   `json:"hooks,omitempty"`
	HookNames []string `json:"hook_names,omitempty"`
	// ProcName is the NAME in the process title "gowsgi: worker [NAME]".
	ProcName string `json:"proc_name,omitempty"`
	// ServerSoftware is the environ's SERVER_SOFTWARE.
	ServerSoftware string `json:"server_software,omitempty"`
	// PasteGlobal are KEY=VALUE pairs for a paste: target's global_conf.
	PasteGlobal []string `json:"paste_global,omitempty"`

	// Slots is how many slot sockets the worker gets from fd 5 on; 0
	// means Threads.
	Slots int `json:"slots,omitempty"`
	// Interface is "auto" (detect; the default when empty), "wsgi" or
	// "asgi". Lifespan is "auto", "on" or "off", Loop "auto", "asyncio"
	// or "uvloop". An ASGI worker serves all its slots on the first slot
	// socket and closes the others (see the M frame in internal/wire).
	Interface string `json:"interface,omitempty"`
	Lifespan  string `json:"lifespan,omitempty"`
	Loop      string `json:"loop,omitempty"`
	// Heartbeat is how often (seconds) an ASGI worker's event loop sends
	// a heartbeat on the control socket; 0 = never (no --timeout).
	Heartbeat float64 `json:"heartbeat,omitempty"`
	// StartupTimeout is the seconds a worker may take from its start (or
	// fork) to ready, the import and an ASGI app's lifespan startup
	// included (workers' bootBound); the startup is cancelled, and says
	// where it was, just before the front would kill it. 0 = none.
	StartupTimeout float64 `json:"startup_timeout,omitempty"`
	// RequestTimeout is an ASGI request's deadline in seconds; past it
	// the request's task is cancelled (504 if no head went out). 0 = none.
	RequestTimeout float64 `json:"request_timeout,omitempty"`
	// LogConfig configures the app's Python logging before it is imported.
	LogConfig
}

// LogConfig is gunicorn's logconfig (a logging.config.fileConfig file),
// logconfig_json (a dictConfig JSON file) and logconfig_dict (the dict, as
// JSON); the worker applies the first one set, dict first, as gunicorn.
type LogConfig struct {
	File     string          `json:"logconfig,omitempty"`
	JSONFile string          `json:"logconfig_json,omitempty"`
	Dict     json.RawMessage `json:"logconfig_dict,omitempty"`
}

// SettingsEnv is the environment variable that hands a worker the
// effective settings (JSON, by gunicorn name) for its hooks; the worker
// removes it from os.environ before loading the app.
const SettingsEnv = "GOWSGI_HOOK_SETTINGS"

// Args returns the interpreter arguments that start a worker.
func (c Config) Args() []string {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain strings and ints always marshal
	}
	return []string{"-c", Loader, string(b)}
}

// FindPython resolves the interpreter for the workers; the first that
// applies wins:
//
//  1. flag (--python or GOWSGI_PYTHON), looked up on PATH when it has no slash;
//  2. the virtualenv gowsgi is installed in: when the binary's directory
//     holds python (or python3) and pyvenv.cfg sits one level up — where
//     `pip install gowsgi` puts it — that venv's interpreter, so a venv's
//     gowsgi serves with the venv's packages without being activated;
//  3. $VIRTUAL_ENV/bin/python (an activated venv);
//  4. python3 on PATH.
func FindPython(flag string) (string, error) {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		exe = ""
	}
	return findPython(flag, exe, os.Getenv)
}

// findPython is FindPython for the binary at exe ("" = unknown) and the
// environment getenv.
func findPython(flag, exe string, getenv func(string) string) (string, error) {
	if flag != "" {
		p, err := exec.LookPath(flag)
		if err != nil {
			return "", fmt.Errorf("python interpreter %q not found", flag)
		}
		return p, nil
	}
	if exe != "" {
		if p := venvPython(filepath.Dir(exe)); p != "" {
			return p, nil
		}
	}
	if venv := getenv("VIRTUAL_ENV"); venv != "" {
		p := filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", errors.New("no python3 on PATH; install Python 3.8+ or pass --python")
	}
	return p, nil
}

// venvPython returns the interpreter in bin when bin is a virtualenv's
// scripts directory (pyvenv.cfg one level up), else "". The path is kept
// as it is, not resolved: a venv's python is a symlink to the base
// interpreter, which finds the venv through the path it was started by.
func venvPython(bin string) string {
	if _, err := os.Stat(filepath.Join(filepath.Dir(bin), "pyvenv.cfg")); err != nil {
		return ""
	}
	for _, name := range []string{"python", "python3"} {
		p := filepath.Join(bin, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// PythonVersion asks python for its version ("3.11.2"), bounded in time.
func PythonVersion(python string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])").Output()
	if err != nil {
		return "", fmt.Errorf("%s: %v", python, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// About says which interpreter FindPython(flag) picks, for `gowsgi
// --version`: "(python: /srv/app/.venv/bin/python, 3.11.2)", or why there
// is none.
func About(flag string) string {
	py, err := FindPython(flag)
	if err != nil {
		return fmt.Sprintf("(python: none: %v)", err)
	}
	v, err := PythonVersion(py)
	if err != nil {
		return fmt.Sprintf("(python: %s, does not run: %v)", py, err)
	}
	return fmt.Sprintf("(python: %s, %s)", py, v)
}
