"""The ASGI worker's own CPU per hello request, in one process, without the
Go front: the shim's ASlot, HTTPRequest and the app on 50 slots, one
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
request frame holds: the ready-made scope (front.appendScope) or the CGI
environ that earlier revisions turned into a scope in the worker.
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


def request_frame(kind):
    if kind == 'scope':
        d = {'type': 'http', 'http_version': '1.1', 'method': 'GET', 'scheme': 'http', 'path': '/', 'raw_path': b'/',
             'query_string': b'', 'root_path': '', 'headers': [(b'host', b'127.0.0.1:8000')],
             'client': ('127.0.0.1', 40000), 'server': ('127.0.0.1', 8000),
             'extensions': {'http.response.pathsend': {}}}
    else:
        d = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/', 'QUERY_STRING': '', 'REQUEST_URI': '/',
             'RAW_URI': '/', 'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http', 'SERVER_NAME': '127.0.0.1',
             'SERVER_PORT': '8000', 'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '40000', 'HTTP_HOST': '127.0.0.1:8000',
             'gowsgi.headers': 'Host\x00127.0.0.1:8000'}
    payload = marshal.dumps((d, b''), 2)
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


def mux_driver(A, loop, frame, state):
    """One data socket for every slot: a round's requests in one send, the
    answers read back in as few reads as they come."""
    a_end, b_end = socket.socketpair()
    w = A.ASGIWorker(loop, app, {'threads': 1}, None, a_end, None)
    w.mux.start()
    b_end.setblocking(False)
    batch = b''.join(struct.pack('<IBI', len(frame), ord('M'), i) + frame for i in range(SLOTS))
    buf = bytearray()

    def readable():
        buf.extend(b_end.recv(1 << 20))
        while len(buf) >= 9:
            n, t, _ = struct.unpack_from('<IBI', buf)
            if len(buf) < 9 + n:
                break
            if t == ord('M'):
                assert buf[9 + 4] == ord('W'), bytes(buf[:40])
                state['left'] -= 1
            del buf[:9 + n]
        if not state['left'] and not state['done'].done():
            state['done'].set_result(None)

    loop.add_reader(b_end.fileno(), readable)

    async def drive(rounds):
        for _ in range(rounds):
            state['left'] = SLOTS
            state['done'] = loop.create_future()
            b_end.sendall(batch)
            await state['done']
    return drive


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rev', help='git revision of internal/pyshim (default: the working tree)')
    ap.add_argument('--frame', choices=('scope', 'environ'), default='scope')
    ap.add_argument('--requests', type=int, default=20000, help='requests per run (7 runs)')
    ap.add_argument('--loop', choices=('uvloop', 'asyncio'), default='uvloop')
    a = ap.parse_args()
    A = load_shim(a.rev)
    frame = request_frame(a.frame)
    if a.loop == 'uvloop':
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    state = {'left': 0, 'done': None}
    if hasattr(A, 'Mux'):
        drive = mux_driver(A, loop, frame, state)
    else:
        drive = slot_driver(A, loop, frame, state)

    def run(n):
        t0 = time.process_time()
        loop.run_until_complete(drive(n // SLOTS))
        return (time.process_time() - t0) / n * 1e6

    run(5000)  # warm-up
    runs = sorted(run(a.requests) for _ in range(7))
    print('shim %s, %s frame, %s: best %.2f µs/request, median %.2f (runs: %s)' % (
        a.rev or 'working tree', a.frame, a.loop, runs[0], runs[3], ' '.join('%.2f' % r for r in runs)))


if __name__ == '__main__':
    main()
