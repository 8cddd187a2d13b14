package pyshim

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// interfaceCases runs asgi.py's interface_of on objects of every shape an
// application target may name, under each --interface, and prints one
// line per case.
const interfaceCases = `
import functools
import sys
from _gowsgi_asgi import interface_of


async def asgi3(scope, receive, send):
    pass


class App3:
    async def __call__(self, scope, receive, send):
        pass


class App2:
    def __init__(self, scope):
        pass

    async def __call__(self, receive, send):
        pass


def wsgi(environ, start_response):
    return []


class WSGIClass:
    def __init__(self, environ, start_response):
        pass

    def __iter__(self):
        return iter([])


class WSGIObject:
    def __call__(self, environ, start_response):
        return []


class Anything:
    """Answers every attribute (a proxy, a mock): not ASGI for that."""
    def __getattr__(self, name):
        return True

    def __call__(self, environ, start_response):
        return []


def marked(scope, receive, send):
    pass


marked._is_coroutine = object()  # asgiref's markcoroutinefunction before 3.12


def main():
    cases = [('asgi3', asgi3), ('App3()', App3()), ('App2', App2), ('wsgi', wsgi), ('WSGIClass', WSGIClass),
             ('WSGIObject()', WSGIObject()), ('Anything()', Anything()), ('partial', functools.partial(asgi3, {})),
             ('marked', marked)]
    for iface in ('auto', 'asgi', 'wsgi'):
        for name, obj in cases:
            sys.stdout.write('%s %s %s\n' % (iface, name, interface_of(obj, iface)))
`

// TestInterfaceOf: --interface auto takes coroutine functions and objects
// whose __call__ is one as ASGI 3, classes with an async __call__ as ASGI
// 2, everything else as WSGI, and is not fooled by an object that answers
// every attribute; asgi and wsgi force the choice.
func TestInterfaceOf(t *testing.T) {
	cmd := exec.Command(testPython(), "-c", Loader)
	started, err := Feed(cmd, Bundle(GunicornCompat, Wire, WSGI, ASGI, NewPart("cases.py", []byte(interfaceCases))))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	started()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `auto asgi3 asgi3
auto App3() asgi3
auto App2 asgi2
auto wsgi wsgi
auto WSGIClass wsgi
auto WSGIObject() wsgi
auto Anything() wsgi
auto partial asgi3
auto marked asgi3
asgi asgi3 asgi3
asgi App3() asgi3
asgi App2 asgi2
asgi wsgi asgi3
asgi WSGIClass asgi2
asgi WSGIObject() asgi3
asgi Anything() asgi3
asgi partial asgi3
asgi marked asgi3
wsgi asgi3 wsgi
wsgi App3() wsgi
wsgi App2 wsgi
wsgi wsgi wsgi
wsgi WSGIClass wsgi
wsgi WSGIObject() wsgi
wsgi Anything() wsgi
wsgi partial wsgi
wsgi marked wsgi
`
	if string(out) != want {
		t.Errorf("interface_of:\n%s", diffLines(string(out), want))
	}
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			b.WriteString("got  " + gl + "\nwant " + wl + "\n")
		}
	}
	return b.String()
}

// TestASGIWindowsMatchTheWire: the shim's flow-control windows are the
// wire's (each side assumes the other's): a slot's window starts at the
// floor and grows to at most MuxWindow; a response's first frame carries
// at most MuxFloor body bytes and the frames after it at most half the
// largest window (half the window in force, ASlot.frame_body), which is
// what bounds the bytes a stalled slot holds in the front (wire.MuxFloor's
// doc); and the worker acknowledges every WebSocket message it takes
// (WS_ACK_AT at most the least a message costs), which the front's floor
// of one message per WebSocket needs.
func TestASGIWindowsMatchTheWire(t *testing.T) {
	cmd := exec.Command(testPython(), "-c", Loader)
	started, err := Feed(cmd, Bundle(GunicornCompat, Wire, WSGI, ASGI, NewPart("cases.py", []byte(`
import sys
from _gowsgi_asgi import MUX_FLOOR, MUX_WINDOW, WS_WINDOW, ASGI_FIRST_BODY, ASGI_FRAME_BODY, WS_MIN_COST, WS_ACK_AT


def main():
    sys.stdout.write('%d %d %d %d %d %d %d' % (MUX_FLOOR, MUX_WINDOW, WS_WINDOW, ASGI_FIRST_BODY, ASGI_FRAME_BODY, WS_MIN_COST, WS_ACK_AT))
`))))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	started()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var floor, mux, ws, first, frame, wsMin, wsAck int
	if _, err := fmt.Sscan(string(out), &floor, &mux, &ws, &first, &frame, &wsMin, &wsAck); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if floor != wire.MuxFloor || mux != wire.MuxWindow || ws != wire.WSWindow || first > wire.MuxFloor || frame > wire.MuxWindow/2 ||
		wsMin != wire.WSWindow/16 || wsAck > wsMin {
		t.Errorf("asgi.py: MUX_FLOOR %d, MUX_WINDOW %d, WS_WINDOW %d, ASGI_FIRST_BODY %d, ASGI_FRAME_BODY %d, WS_MIN_COST %d, WS_ACK_AT %d; "+
			"wire: MuxFloor %d, MuxWindow %d, WSWindow %d (first frames at most %d body bytes, frames after at most %d; messages cost at least %d, each acknowledged)",
			floor, mux, ws, first, frame, wsMin, wsAck, wire.MuxFloor, wire.MuxWindow, wire.WSWindow, wire.MuxFloor, wire.MuxWindow/2, wire.WSWindow/16)
	}
}
