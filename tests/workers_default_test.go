package tests

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkersDefaultByApp: with no -w, $WEB_CONCURRENCY or config asking,
// an ASGI application gets one worker, as under uvicorn, hypercorn, granian
// and gunicorn (its in-process state, a WebSocket room or an in-memory
// channel layer, stays one), and a WSGI application one per CPU, as before.
// Asked for, the count is what was asked, whatever the interface.
func TestWorkersDefaultByApp(t *testing.T) {
	t.Parallel()
	py := debianPython(t, "starlette")
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want int
	}{
		{"asgi detected", []string{asgiRaw}, nil, 1},
		{"asgi named", []string{asgiRaw, "--interface", "asgi"}, nil, 1},
		{"uvicorn worker class", []string{asgiRaw, "-k", "uvicorn.workers.UvicornWorker"}, nil, 1},
		{"wsgi", []string{probe}, nil, runtime.NumCPU()},
		{"asgi, -w 2", []string{asgiRaw, "-w", "2"}, nil, 2},
		{"asgi, WEB_CONCURRENCY=2", []string{asgiRaw}, []string{"WEB_CONCURRENCY=2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The harness adds --workers 1 unless a test asks; here the
			// binary runs as a user would start it.
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			cmd := exec.Command(gowsgiBin, append(tc.args, "--bind", addr, "--python", py)...)
			cmd.Dir = repoRoot
			cmd.Env = append(cmd.Environ(), tc.env...)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
			}()
			if !waitFor(60*time.Second, func() bool { return strings.Contains(stderr.String(), "msg=listening") }) {
				t.Fatalf("not listening within 60 s:\n%s", stderr.String())
			}
			out := stderr.String()
			if want := fmt.Sprintf(" workers=%d ", tc.want); !strings.Contains(out, want) {
				t.Errorf("the listening line does not say%s:\n%s", want, out)
			}
			if n := strings.Count(out, `msg="worker ready"`); n != tc.want {
				t.Errorf("%d workers ready, want %d:\n%s", n, tc.want, out)
			}
		})
	}
}
