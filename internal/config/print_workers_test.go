package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestPrintConfigWorkers: --print-config says how many workers will run.
// With no count asked for, the application decides (1 for ASGI, the CPU
// count for WSGI: Options.WorkersByApp): the interface resolves it when
// --interface or the worker class names it, else both are said.
func TestPrintConfigWorkers(t *testing.T) {
	auto := fmt.Sprintf("auto (1 for an ASGI app, %d for a WSGI one)", runtime.NumCPU())
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want any
	}{
		{[]string{"main:app"}, nil, auto},
		{[]string{"--interface", "asgi", "main:app"}, nil, float64(1)},
		{[]string{"-k", "uvicorn.workers.UvicornWorker", "main:app"}, nil, float64(1)},
		{[]string{"--interface", "wsgi", "main:app"}, nil, float64(runtime.NumCPU())},
		{[]string{"-w", "3", "--interface", "asgi", "main:app"}, nil, float64(3)},
		{[]string{"--interface", "asgi", "main:app"}, map[string]string{"WEB_CONCURRENCY": "4"}, float64(4)},
	} {
		c := mustParse(t, tc.args, tc.env)
		var b bytes.Buffer
		if err := c.PrintSettings(&b, true); err != nil {
			t.Fatal(err)
		}
		var out struct{ Settings []Setting }
		if err := json.Unmarshal(b.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Settings {
			if s.Name == "workers" && s.Value != tc.want {
				t.Errorf("%s %v: workers %#v, want %#v", strings.Join(tc.args, " "), tc.env, s.Value, tc.want)
			}
		}
		// The count the workers get agrees: asked for, or the app's.
		if by := c.WorkerOptions().WorkersByApp; by != (tc.env == nil && tc.args[0] != "-w") {
			t.Errorf("%s: WorkersByApp %v", strings.Join(tc.args, " "), by)
		}
	}
}
