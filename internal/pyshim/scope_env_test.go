package pyshim

import (
	"os/exec"
	"testing"
)

// TestScopeFromEnviron: asgi.py builds a scope from a CGI environ for a
// WebSocket (websocket_scope), and for an HTTP request the front encoded
// for WSGI workers before a reload made the app ASGI (HTTPRequest.run's
// environ branch). Its server is the listening address the front adds for
// ASGI (gowsgi.server_host, gowsgi.server_port; empty on a Unix socket),
// never SERVER_NAME and SERVER_PORT, which are the Host's; an environ made
// for WSGI has no listening address, and the scope then no server.
func TestScopeFromEnviron(t *testing.T) {
	cmd := exec.Command(testPython(), "-c", Loader)
	started, err := Feed(cmd, Bundle(GunicornCompat, Wire, WSGI, ASGI, NewPart("cases.py", []byte(`
import sys
from _gowsgi_asgi import http_scope, websocket_scope

BASE = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/p', 'QUERY_STRING': 'a=1',
        'RAW_URI': '/p?a=1', 'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http',
        'SERVER_NAME': 'example.com', 'SERVER_PORT': '8080', 'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '5000',
        'HTTP_HOST': 'example.com:8080'}


def main():
    cases = [
        ('tcp', dict(BASE, **{'gowsgi.server_host': '::1', 'gowsgi.server_port': '8000'})),
        ('unix', dict(BASE, **{'gowsgi.server_host': '/run/app.sock', 'gowsgi.server_port': ''})),
        ('wsgi', dict(BASE)),
    ]
    for name, env in cases:
        h = http_scope(env, {})
        w = websocket_scope(env, {})
        sys.stdout.write('%s %r %r %s %s %r\n' % (name, h['server'], w['server'], h['path'], w['scheme'], h['headers']))
`))))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	started()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `tcp ('::1', 8000) ('::1', 8000) /p ws [(b'host', b'example.com:8080')]
unix ('/run/app.sock', None) ('/run/app.sock', None) /p ws [(b'host', b'example.com:8080')]
wsgi None None /p ws [(b'host', b'example.com:8080')]
`
	if string(out) != want {
		t.Errorf("scopes from an environ:\n%s", diffLines(string(out), want))
	}
}
