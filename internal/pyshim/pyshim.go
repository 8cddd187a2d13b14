// Package pyshim holds the Python side of gowsgi — a stdlib-only worker
// program embedded in the binary — and knows how to start it.
//
// The source is handed to the interpreter on a pipe (fd 3) rather than written
// to disk, so one static binary serves any interpreter and leaves nothing
// behind; `ps` shows a short command line.
package pyshim

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed worker.py
var workerPy []byte

//go:embed asgi.py
var asgiPy []byte

// WorkerSource is the worker program: the ASGI side (asgi.py, definitions
// only) followed by worker.py, whose main() runs last and hands an ASGI
// application to serve_asgi.
var WorkerSource = append(append(append([]byte(nil), asgiPy...), '\n'), workerPy...)

// Loader is the -c program that reads and runs WorkerSource from fd 3.
// It first checks the interpreter version, so pointing --python at a
// Python 2 gives one clear line rather than a syntax error in the shim.
const Loader = "import sys\n" +
	"if sys.version_info < (3, 8): sys.exit('gowsgi: %s is Python %s; gowsgi needs Python 3.8 or newer (see --python)' % (sys.executable, sys.version.split()[0]))\n" +
	"import os;exec(compile(os.fdopen(3,'rb').read(),'gowsgi-worker.py','exec'))"

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
	// or "uvloop"; LimitConcurrency the requests in flight an ASGI
	// worker serves at once (its slots). An ASGI worker with fewer slots
	// asks for the rest (see the G frame in internal/wire).
	Interface        string `json:"interface,omitempty"`
	Lifespan         string `json:"lifespan,omitempty"`
	Loop             string `json:"loop,omitempty"`
	LimitConcurrency int    `json:"limit_concurrency,omitempty"`
	// Heartbeat is how often (seconds) an ASGI worker's event loop sends
	// a heartbeat on the control socket; 0 = never (no --timeout).
	Heartbeat float64 `json:"heartbeat,omitempty"`
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

// FindPython resolves the interpreter: the explicit flag, else
// $VIRTUAL_ENV/bin/python, else python3 on PATH.
func FindPython(flag string) (string, error) {
	if flag != "" {
		p, err := exec.LookPath(flag)
		if err != nil {
			return "", fmt.Errorf("python interpreter %q not found", flag)
		}
		return p, nil
	}
	if venv := os.Getenv("VIRTUAL_ENV"); venv != "" {
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
