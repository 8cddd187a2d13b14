package tests

// Master hooks that change os.environ: under gunicorn they run in the
// master, whose environment a forked worker inherits; gowsgi runs them in
// its hook host, which reports its environment's changes, and starts each
// worker with them (Hooks.PreFork), exec'd or forked by --preload.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const envHooksConf = `import os

def on_starting(server):
    os.environ['FROM_ON_STARTING'] = 'yes'

def pre_fork(server, worker):
    os.environ['WORKER_AGE'] = str(worker.age)
    os.environ.pop('DROP_ME', None)
`

const envHooksApp = `import json, os

def app(environ, start_response):
    if environ['PATH_INFO'] == '/exit':
        os._exit(1)
    body = json.dumps({k: os.environ.get(k) for k in ('WORKER_AGE', 'FROM_ON_STARTING', 'DROP_ME', 'KEPT')}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
`

func TestServerHooksEnvironment(t *testing.T) {
	for _, mode := range []string{"exec", "preload"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			conf, app := filepath.Join(dir, "gunicorn.conf.py"), filepath.Join(dir, "envapp.py")
			os.WriteFile(conf, []byte(envHooksConf), 0o644)
			os.WriteFile(app, []byte(envHooksApp), 0o644)
			args := []string{app, "-c", conf, "-w", "1"}
			if mode == "preload" {
				args = append(args, "--preload")
			}
			s := StartServerEnv(t, []string{"DROP_ME=1", "KEPT=k"}, args...)
			seen := func() map[string]*string {
				t.Helper()
				resp, body := get(t, s, "GET", "/", nil)
				var m map[string]*string
				if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &m) != nil {
					t.Fatalf("%d %q", resp.StatusCode, body)
				}
				return m
			}
			str := func(p *string) string {
				if p == nil {
					return "(unset)"
				}
				return *p
			}
			m := seen()
			if str(m["WORKER_AGE"]) != "1" || str(m["FROM_ON_STARTING"]) != "yes" || m["DROP_ME"] != nil || str(m["KEPT"]) != "k" {
				t.Errorf("first worker: WORKER_AGE %s FROM_ON_STARTING %s DROP_ME %s KEPT %s, want 1, yes, (unset), k",
					str(m["WORKER_AGE"]), str(m["FROM_ON_STARTING"]), str(m["DROP_ME"]), str(m["KEPT"]))
			}
			// Its replacement gets pre_fork's value for it.
			get(t, s, "GET", "/exit", nil)
			if !waitFor(20*time.Second, func() bool {
				code, body, _ := fetch(client(), s.URL("/"))
				return code == 200 && json.Valid([]byte(body)) && str(decodeEnv(body)["WORKER_AGE"]) == "2"
			}) {
				t.Fatalf("the replacement worker never saw WORKER_AGE=2 (last: %s)\n%s", str(seen()["WORKER_AGE"]), s.Stderr)
			}
		})
	}
}

func decodeEnv(body string) map[string]*string {
	var m map[string]*string
	json.Unmarshal([]byte(body), &m)
	return m
}

// TestServerHooksEnvironmentFromTheFile: what the config file sets in
// os.environ at its top level (executed once in gunicorn's master) reaches
// the workers too, also when its only master hook runs after they start.
func TestServerHooksEnvironmentFromTheFile(t *testing.T) {
	dir := t.TempDir()
	conf, app := filepath.Join(dir, "gunicorn.conf.py"), filepath.Join(dir, "envapp.py")
	os.WriteFile(conf, []byte("import os\nos.environ['KEPT'] = 'from the file'\n\ndef child_exit(server, worker):\n    pass\n"), 0o644)
	os.WriteFile(app, []byte(envHooksApp), 0o644)
	s := StartServer(t, app, "-c", conf, "-w", "1")
	_, body := get(t, s, "GET", "/", nil)
	if got := decodeEnv(body)["KEPT"]; got == nil || *got != "from the file" {
		t.Errorf("KEPT in the worker: %v, want the config file's", body)
	}
}
