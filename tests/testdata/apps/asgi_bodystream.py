"""A plain ASGI 3 application (standard library only) for the tests of
streamed request bodies (tests/asgi_bodystream_test.go), run under gowsgi
and under uvicorn alike.

Marker files go to $PROBE_STATE_DIR (NAME from ?name=):
  NAME.first       the size of the first body piece the app received
  NAME.disconnect  receive() returned http.disconnect before the body ended
  NAME.received    the body's length, once the app read all of it
  NAME.holding     /hold is holding (it has not read anything)
/hold waits for NAME.release (written by the test) before it reads.
"""
import asyncio
import os
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name, text=''):
    """Leave a marker file, whole when it appears (written, then renamed)."""
    if STATE_DIR:
        path = os.path.join(STATE_DIR, name)
        tmp = os.path.join(STATE_DIR, '.%s.%d.tmp' % (name, os.getpid()))
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, path)


def exists(name):
    return bool(STATE_DIR) and os.path.exists(os.path.join(STATE_DIR, name))


async def respond(send, status, body):
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', str(len(body)).encode())]})
    await send({'type': 'http.response.body', 'body': body})


async def read_all(receive, name):
    """The whole body's length (the bytes are not kept), or None when the
    client went first (marked)."""
    total = 0
    first = True
    while True:
        msg = await receive()
        if msg['type'] == 'http.disconnect':
            mark(name + '.disconnect', str(total))
            return None
        body = msg.get('body', b'')
        if first:
            mark(name + '.first', str(len(body)))
            first = False
        total += len(body)
        if not msg.get('more_body'):
            mark(name + '.received', str(total))
            return total


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            msg = await receive()
            if msg['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif msg['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if scope['type'] != 'http':
        return
    q = {k: v[0] for k, v in parse_qs(scope['query_string'].decode('latin-1')).items()}
    name = q.get('name', 'req')
    path = scope['path']

    if path == '/echo':
        # Bidirectional: each piece goes back as soon as it came.
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/octet-stream')]})
        total = 0
        while True:
            msg = await receive()
            if msg['type'] == 'http.disconnect':
                mark(name + '.disconnect', str(total))
                return
            body = msg.get('body', b'')
            total += len(body)
            if body:
                await send({'type': 'http.response.body', 'body': body, 'more_body': True})
            if not msg.get('more_body'):
                mark(name + '.received', str(total))
                await send({'type': 'http.response.body', 'body': b''})
                return

    if path == '/count':
        # Reads the whole body, then answers its length.
        n = await read_all(receive, name)
        if n is None:
            return
        await respond(send, 200, str(n).encode())
        return

    if path == '/early':
        # Answers at once without reading the body (a 401, a 413).
        await respond(send, int(q.get('status', '401')), b'refused before the body\n')
        return

    if path == '/nobody':
        # uvicorn's test_100_continue_not_sent_when_body_not_consumed.
        await send({'type': 'http.response.start', 'status': 204, 'headers': []})
        await send({'type': 'http.response.body', 'body': b''})
        return

    if path == '/hold':
        # Reads nothing until the test releases it, then all of it.
        mark(name + '.holding')
        while not exists(name + '.release'):
            await asyncio.sleep(0.01)
        n = await read_all(receive, name)
        if n is None:
            return
        await respond(send, 200, str(n).encode())
        return

    await respond(send, 404, b'not found\n')
