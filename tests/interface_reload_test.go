package tests

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReloadChangesInterface: with --interface auto, a reload that turns
// the app from ASGI into WSGI and back serves each as what it now is. The
// front encodes each request for the pool's interface (a scope or an
// environ), which follows the workers that began to serve last; before,
// it stayed ASGI once a worker had been, and every request after the
// first change killed its WSGI worker.
func TestReloadChangesInterface(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "flipapp.py")
	const asgiApp = `async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            m = await receive()
            if m['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif m['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': ('asgi ' + scope['path']).encode()})
`
	const wsgiApp = `def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('wsgi ' + environ['PATH_INFO']).encode()]
`
	write := func(src string) {
		if err := os.WriteFile(app, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(asgiApp)
	s := StartServer(t, "--chdir", dir, "flipapp:app", "-w", "2")
	expect := func(want string) {
		t.Helper()
		for i := 0; i < 20; i++ {
			code, body, err := fetch(client(), s.URL("/x"))
			if err != nil || code != 200 || body != want+" /x" {
				t.Fatalf("request %d: %v %d %q, want 200 %q\n%s", i, err, code, body, want+" /x", s.Stderr)
			}
		}
	}
	expect("asgi")
	write(wsgiApp)
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "reload complete", 1, 60*time.Second)
	expect("wsgi")
	if s.LogCount("the application is WSGI now") != 1 {
		t.Errorf("the change to WSGI not logged:\n%s", s.Stderr)
	}
	write(asgiApp)
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "reload complete", 2, 60*time.Second)
	expect("asgi")
	if n := s.LogCount("worker died"); n != 0 {
		t.Errorf("%d workers died across the changes:\n%s", n, s.Stderr)
	}
}
