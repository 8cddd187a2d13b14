"""An ASGI 3 application, standard library only, for the tests of the ASGI
worker's one data socket (tests/asgi_mux_test.go).

Marker files go to $PROBE_STATE_DIR:
  /hold?n=N&name=NAME   NAME.held (the worker's pid) once N of them are in
                        flight at once; each answers once NAME.release exists.
  /stream?size=S&name=NAME
                        S bytes in 64 KiB pieces; NAME.waited once a send()
                        did not complete at once (it waited for the front),
                        NAME.done after the last.
  /hello                "hello", at once.
"""
import asyncio
import os
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')
HELD = {}


def mark(name, text=''):
    """Leave a marker file, whole when it appears (written, then renamed)."""
    if not STATE_DIR:
        return
    path = os.path.join(STATE_DIR, name)
    tmp = os.path.join(STATE_DIR, '.%s.%d.tmp' % (name, os.getpid()))
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


async def respond(send, body):
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': body})


async def app(scope, receive, send):
    if scope['type'] != 'http':
        return  # no lifespan
    q = {k: v[0] for k, v in parse_qs(scope['query_string'].decode('latin-1')).items()}
    path = scope['path']
    if path == '/hold':
        name, n = q['name'], int(q['n'])
        HELD[name] = HELD.get(name, 0) + 1
        if HELD[name] == n:
            mark(name + '.held', str(os.getpid()))
        while not os.path.exists(os.path.join(STATE_DIR, name + '.release')):
            await asyncio.sleep(0.01)
        return await respond(send, b'held')
    if path == '/stream':
        name, size = q['name'], int(q['size'])
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-length', str(size).encode())]})
        piece = b'x' * (64 << 10)
        sent = 0
        waited = False
        while sent < size:
            body = piece[:size - sent]
            sent += len(body)
            # The send's task runs its first step in the loop turn before
            # this one resumes: not done then means it waits for credit.
            t = asyncio.ensure_future(send({'type': 'http.response.body', 'body': body, 'more_body': sent < size}))
            await asyncio.sleep(0)
            if not t.done() and not waited:
                waited = True
                mark(name + '.waited', str(sent))
            await t
        mark(name + '.done')
        return
    return await respond(send, b'hello')
