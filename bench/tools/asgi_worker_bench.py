"""The ASGI worker's own CPU per hello request (or Starlette request, or
WebSocket echo: --app), in one process, without the Go front: the shim's ASlot, HTTPRequest and the app on 50 slots, one
request frame on each per round (as the front writes them), the responses
read back by reader callbacks on the same loop. A shim with a data socket
for all slots (Mux) gets the 50 requests in M frames in one send per round
and its answers are read back from that socket; an older one gets a
socketpair per slot, a send on each, and a reader on each. Prints the best
and median µs per request of 7 runs (process CPU time), so two revisions
of the shim compare on a busy machine where end-to-end req/s swing.

    /usr/bin/python3 bench/tools/asgi_worker_bench.py                      # this tree's shim
    /usr/bin/python3 bench/tools/asgi_worker_bench.py --rev 58d5fc0 --frame environ

--rev REV reads internal/pyshim from git at REV; --frame says what the
request frame holds: the scope's values as the front sends them for wrk's
GET ("front": a tuple, wire.ScopeFields), the ready-made scope dict that
revisions before it took ("front-dict": byte for byte what their front
sent; "scope": the same dict as Python's marshal writes it), or the CGI
environ that earlier revisions turned into a scope in the worker.
--slots N is the batch: the requests (or messages) one read of the worker
takes. --app starlette serves bench/apps/asgi_starlette.py's /json; --app
ws opens a WebSocket on each slot of bench/apps/ws_echo.py's echo and
sends one 64-byte text message on each per round.

--count N runs N requests once after the warm-up and prints nothing, for
an instruction count that does not move with the machine's load:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      /usr/bin/python3 bench/tools/asgi_worker_bench.py --count 2000   # and 6000: the difference / 4000
(bench/tools/asgi_worker_instr.sh does that.)
"""
import argparse
import asyncio
import importlib.util
import marshal
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BODY = b'{"message": "Hello, ASGI!"}'
START = {'type': 'http.response.start', 'status': 200,
         'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(BODY)).encode())]}
END = {'type': 'http.response.body', 'body': BODY}
SLOTS = 50


async def app(scope, receive, send):
    await send(START)
    await send(END)


def load_shim(rev):
    """Import the shim's modules under their _gowsgi_* names, from the tree
    or from git at rev."""
    src = os.path.join(ROOT, 'internal', 'pyshim')
    if rev:
        tmp = tempfile.mkdtemp(prefix='asgi-worker-bench-')
        for name in ('wire', 'wsgi', 'asgi'):
            text = subprocess.check_output(['git', '-C', ROOT, 'show', '%s:internal/pyshim/%s.py' % (rev, name)])
            with open(os.path.join(tmp, name + '.py'), 'wb') as f:
                f.write(text)
        src = tmp
    for name in ('wire', 'wsgi', 'asgi'):
        spec = importlib.util.spec_from_file_location('_gowsgi_' + name, os.path.join(src, name + '.py'))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return sys.modules['_gowsgi_asgi']


def go_marshal(obj, key=False):
    """obj in marshal's format as the front writes it (internal/wire):
    dict keys as interned short ASCII strings, ASCII str values as short
    ASCII ones, small tuples. (marshal.dumps(obj, 2) writes every str as
    UTF-8, which costs the worker a decode per string that the front's
    frames do not.)"""
    t = type(obj)
    if obj is None:
        return b'N'
    if t is str:
        b = obj.encode('latin-1' if obj.isascii() else 'utf-8')
        if obj.isascii() and len(b) < 256:
            return (b'Z' if key else b'z') + bytes([len(b)]) + b
        return b'u' + struct.pack('<I', len(b)) + b
    if t is bytes:
        return b's' + struct.pack('<I', len(obj)) + obj
    if t is int:
        return b'i' + struct.pack('<i', obj)
    if t is tuple:
        return b')' + bytes([len(obj)]) + b''.join(go_marshal(x) for x in obj)
    if t is list:
        return b'[' + struct.pack('<I', len(obj)) + b''.join(go_marshal(x) for x in obj)
    if t is dict:
        return b'{' + b''.join(go_marshal(k, True) + go_marshal(v) for k, v in obj.items()) + b'0'
    raise TypeError(t)


def request_frame(kind, path='/'):
    if kind in ('front', 'front-dict'):
        # What the front sends for wrk's GET / today (three extensions, a
        # request ID).
        d = {'type': 'http', 'http_version': '1.1', 'method': 'GET', 'scheme': 'http', 'path': '/', 'raw_path': b'/',
             'query_string': b'', 'root_path': '', 'headers': [(b'host', b'127.0.0.1:8000')],
             'client': ('127.0.0.1', 40000), 'server': ('127.0.0.1', 8000),
             'extensions': {'http.response.pathsend': {}, 'http.response.trailers': {}, 'http.response.early_hint': {}},
             'gowsgi.request_id': '1a7d1906e8f813dcfaa41f01d87d8096'}
    elif kind == 'scope':
        d = {'type': 'http', 'http_version': '1.1', 'method': 'GET', 'scheme': 'http', 'path': '/', 'raw_path': b'/',
             'query_string': b'', 'root_path': '', 'headers': [(b'host', b'127.0.0.1:8000')],
             'client': ('127.0.0.1', 40000), 'server': ('127.0.0.1', 8000),
             'extensions': {'http.response.pathsend': {}}}
    else:
        d = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/', 'QUERY_STRING': '', 'REQUEST_URI': '/',
             'RAW_URI': '/', 'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http', 'SERVER_NAME': '127.0.0.1',
             'SERVER_PORT': '8000', 'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '40000', 'HTTP_HOST': '127.0.0.1:8000',
             'gowsgi.headers': 'Host\x00127.0.0.1:8000'}
    if 'path' in d:
        d['path'], d['raw_path'] = path, path.encode()
    else:
        d['PATH_INFO'] = d['REQUEST_URI'] = d['RAW_URI'] = path
    if kind == 'front':
        # The scope's values in wire.ScopeFields' order (since session 5).
        d = tuple(d[k] for k in ('http_version', 'method', 'scheme', 'path', 'raw_path', 'query_string', 'root_path',
                                 'headers', 'client', 'server')) + (None, d['gowsgi.request_id'])
    payload = go_marshal((d, b'')) if kind.startswith('front') else marshal.dumps((d, b''), 2)
    return struct.pack('<IBI', len(payload), ord('R'), 7) + payload


def slot_driver(A, loop, frame, state):
    """A socketpair per slot (shims before the data socket)."""
    pairs = [socket.socketpair() for _ in range(SLOTS)]
    w = A.ASGIWorker(loop, app, {'threads': SLOTS}, None, [p[0] for p in pairs], None)
    w.slots = []

    def reader(b):
        def readable():
            r = b.recv(65536)
            assert r[4] == ord('W'), r
            state['left'] -= 1
            if not state['left']:
                state['done'].set_result(None)
        return readable

    for a_end, b_end in pairs:
        a_end.setblocking(False)
        b_end.setblocking(False)
        slot = A.ASlot(w, a_end)
        w.slots.append(slot)
        loop.add_reader(a_end.fileno(), slot.readable)
        loop.add_reader(b_end.fileno(), reader(b_end))

    async def drive(rounds):
        for _ in range(rounds):
            state['left'] = SLOTS
            state['done'] = loop.create_future()
            for _, b_end in pairs:
                b_end.send(frame)
            await state['done']
    return drive


def ws_frames():
    """The request frame of a WebSocket (a CGI environ, as the front sends
    one) and one 64-byte text message."""
    env = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/', 'QUERY_STRING': '', 'REQUEST_URI': '/',
           'RAW_URI': '/', 'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http', 'SERVER_NAME': '127.0.0.1',
           'SERVER_PORT': '8000', 'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '40000', 'HTTP_HOST': '127.0.0.1:8000',
           'gowsgi.headers': 'Host\x00127.0.0.1:8000\x00Upgrade\x00websocket\x00Connection\x00Upgrade'
                             '\x00Sec-WebSocket-Version\x0013\x00Sec-WebSocket-Key\x00dGhlIHNhbXBsZSBub25jZQ==',
           'gowsgi.websocket': '1', 'gowsgi.request_id': '1a7d1906e8f813dcfaa41f01d87d8096'}
    payload = go_marshal((env, b''))
    msg = b'x' * 64
    return (struct.pack('<IBI', len(payload), ord('R'), 7) + payload,
            struct.pack('<IBI', len(msg), ord('T'), 7) + msg)


def mux_driver(A, loop, frame, state, the_app=None, ws=False):
    """One data socket for every slot: a round's requests in one send, the
    answers read back in as few reads as they come. With ws, frame is a
    WebSocket's message and each slot's WebSocket is opened first."""
    a_end, b_end = socket.socketpair()
    w = A.ASGIWorker(loop, the_app or app, {'threads': 1}, None, a_end, None)
    w.mux.start()
    b_end.setblocking(False)
    batch = b''.join(struct.pack('<IBI', len(frame), ord('M'), i) + frame for i in range(SLOTS))
    buf = bytearray()
    expect = [ord('T') if ws else ord('W')]
    credit = {}  # a WebSocket slot's bytes read, acknowledged (N) with the next round, as the front does

    def readable():
        buf.extend(b_end.recv(1 << 20))
        while len(buf) >= 9:
            n, t, index = struct.unpack_from('<IBI', buf)
            if len(buf) < 9 + n:
                break
            if t == ord('M'):
                assert buf[9 + 4] == expect[0], bytes(buf[:40])
                state['left'] -= 1
                if ws:
                    credit[index] = credit.get(index, 0) + n
            del buf[:9 + n]
        if not state['left'] and not state['done'].done():
            state['done'].set_result(None)

    loop.add_reader(b_end.fileno(), readable)

    async def drive(rounds):
        for _ in range(rounds):
            state['left'] = SLOTS
            state['done'] = loop.create_future()
            if credit and len(credit) == SLOTS and min(credit.values()) >= 8 << 10:
                acks = b''.join(struct.pack('<IBIII', 8, ord('N'), i, c, 0) for i, c in credit.items())
                credit.clear()
                b_end.sendall(acks + batch)
            else:
                b_end.sendall(batch)
            await state['done']

    if ws:
        async def open_all():
            expect[0] = ord('O')
            state['left'] = SLOTS
            state['done'] = loop.create_future()
            req = ws_frames()[0]
            b_end.sendall(b''.join(struct.pack('<IBI', len(req), ord('M'), i) + req for i in range(SLOTS)))
            await state['done']
            expect[0] = ord('T')
        loop.run_until_complete(open_all())
    return drive


def load_app(name):
    """bench/apps' app for --app."""
    sys.path.insert(0, os.path.join(ROOT, 'bench', 'apps'))
    if name == 'starlette':
        from asgi_starlette import app as the_app
    elif name == 'ws':
        from ws_echo import app as the_app
    else:
        the_app = app
    return the_app


def main():
    global SLOTS
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rev', help='git revision of internal/pyshim (default: the working tree)')
    ap.add_argument('--frame', choices=('scope', 'front', 'front-dict', 'environ'), default='scope')
    ap.add_argument('--slots', type=int, default=SLOTS, help='requests per round: the batch one read of the worker takes')
    ap.add_argument('--requests', type=int, default=20000, help='requests per run (7 runs)')
    ap.add_argument('--loop', choices=('uvloop', 'asyncio'), default='uvloop')
    ap.add_argument('--app', choices=('hello', 'starlette', 'ws'), default='hello')
    ap.add_argument('--count', type=int, default=0, help='run this many requests once, untimed (for valgrind)')
    a = ap.parse_args()
    SLOTS = a.slots
    A = load_shim(a.rev)
    frame = request_frame(a.frame)
    if a.app == 'starlette':
        frame = request_frame(a.frame, '/json')
    elif a.app == 'ws':
        frame = ws_frames()[1]
    if a.loop == 'uvloop':
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    state = {'left': 0, 'done': None}
    if hasattr(A, 'Mux'):
        drive = mux_driver(A, loop, frame, state, load_app(a.app), a.app == 'ws')
    else:
        drive = slot_driver(A, loop, frame, state)

    def run(n):
        t0 = time.process_time()
        loop.run_until_complete(drive(n // SLOTS))
        return (time.process_time() - t0) / n * 1e6

    run(5000)  # warm-up
    if a.count:
        run(a.count)
        return
    runs = sorted(run(a.requests) for _ in range(7))
    print('shim %s, %s, %s frame, %s, %d a round: best %.2f µs/request, median %.2f (runs: %s)' % (
        a.rev or 'working tree', a.app, a.frame, a.loop, SLOTS, runs[0], runs[3], ' '.join('%.2f' % r for r in runs)))


if __name__ == '__main__':
    main()
