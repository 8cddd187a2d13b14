package config

import (
	"strings"
	"testing"
)

// TestGranianWorkersEnv: granian reads GRANIAN_WORKERS, not
// WEB_CONCURRENCY (its click options have auto_envvar_prefix="GRANIAN"
// and --workers defaults to 1); gunicorn and uvicorn read WEB_CONCURRENCY.
// A granian command line (an option only granian spells, or a GRANIAN_*
// variable) leaves WEB_CONCURRENCY unread, with a notice; the count is
// then the application's (1 for ASGI), as with nothing asked.
func TestGranianWorkersEnv(t *testing.T) {
	webc := map[string]string{"WEB_CONCURRENCY": "5"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"WEB_CONCURRENCY": "5"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	notice := func(c *Config) bool {
		for _, w := range c.Warnings {
			if strings.Contains(w, "WEB_CONCURRENCY is not read") {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		workers int  // 0: not asked (the application decides: WorkersByApp)
		noticed bool // the notice that WEB_CONCURRENCY is not read
	}{
		{"granian's --backpressure", []string{"--interface", "asgi", "--backpressure", "100", "main:app"}, webc, 0, true},
		{"granian's --blocking-threads", []string{"--blocking-threads", "4", "--interface", "wsgi", "main:app"}, webc, 0, true},
		{"granian's --url-path-prefix", []string{"main:app", "--url-path-prefix", "/api"}, webc, 0, true},
		{"a GRANIAN_* variable", []string{"main:app"}, with("GRANIAN_INTERFACE", "asgi"), 0, true},
		{"GRANIAN_WORKERS", []string{"main:app", "--backpressure", "10"}, with("GRANIAN_WORKERS", "3"), 3, false},
		{"granian's --workers", []string{"main:app", "--backpressure", "10", "--workers", "2"}, webc, 2, false},
		// uvicorn and gunicorn read it; gowsgi's own options are not granian's.
		{"uvicorn's command line", []string{"main:app", "--host", "0.0.0.0", "--port", "8000", "--interface", "asgi"}, webc, 5, false},
		{"uvicorn's --limit-concurrency", []string{"main:app", "--limit-concurrency", "100"}, webc, 5, false},
		{"gunicorn's command line", []string{"-k", "uvicorn.workers.UvicornWorker", "main:app"}, webc, 5, false},
		{"gowsgi's --http2-max-frame-size", []string{"main:app", "--http2-max-frame-size", "16384"}, webc, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.args, tc.env)
			byApp := c.WorkerOptions().WorkersByApp
			switch {
			case tc.workers == 0 && !byApp:
				t.Errorf("workers %d, want the application's count (WEB_CONCURRENCY not read)", c.Workers)
			case tc.workers != 0 && (byApp || c.Workers != tc.workers):
				t.Errorf("workers %d (by app %v), want %d", c.Workers, byApp, tc.workers)
			}
			if notice(c) != tc.noticed {
				t.Errorf("notice %v, want %v: %q", notice(c), tc.noticed, c.Warnings)
			}
		})
	}
}
