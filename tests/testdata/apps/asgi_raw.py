"""A plain ASGI 3 application, standard library only (Python 3.8+), for
gowsgi's ASGI protocol tests: each path exercises one rule of the spec.

Marker files go to $PROBE_STATE_DIR: lifespan "startup" and "shutdown",
and NAME.disconnected / NAME.send-raised for /sse?name=NAME.
"""
import asyncio
import hashlib
import json
import os
import time
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')
SSE_RUNNING = [0]


def mark(name, text=''):
    """Leave a marker file, whole when it appears (written, then renamed)."""
    if STATE_DIR:
        path = os.path.join(STATE_DIR, name)
        tmp = os.path.join(STATE_DIR, '.%s.%d.tmp' % (name, os.getpid()))  # workers may mark one name at once
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, path)


def query(scope):
    return {k: v[0] for k, v in parse_qs(scope['query_string'].decode('latin-1')).items()}


async def respond(send, status, body, headers=()):
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'text/plain')] + list(headers)})
    await send({'type': 'http.response.body', 'body': body})


async def lifespan(scope, receive, send):
    if os.environ.get('ASGI_LIFESPAN_RETURN'):
        return  # returning at once means: no lifespan here
    while True:
        msg = await receive()
        if msg['type'] == 'lifespan.startup':
            if os.environ.get('ASGI_STARTUP_FAIL'):
                await send({'type': 'lifespan.startup.failed', 'message': 'cannot reach the database at db:5432'})
                return
            scope['state']['greeting'] = 'hello from lifespan'
            mark('startup', str(os.getpid()))
            await send({'type': 'lifespan.startup.complete'})
        elif msg['type'] == 'lifespan.shutdown':
            mark('shutdown.%d' % os.getpid())
            mark('shutdown', str(os.getpid()))
            if os.environ.get('ASGI_SHUTDOWN_FAIL'):
                await send({'type': 'lifespan.shutdown.failed', 'message': 'could not flush the queue'})
                return
            await send({'type': 'lifespan.shutdown.complete'})
            return


def jsonable(v):
    if isinstance(v, bytes):
        return v.decode('latin-1')
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    return v


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        if os.environ.get('ASGI_NO_LIFESPAN'):
            raise RuntimeError('this app does not do lifespan')
        return await lifespan(scope, receive, send)
    assert scope['type'] == 'http'
    path = scope['path']
    q = query(scope)

    if path == '/scope' or q.get('dump') == 'scope':  # any path with ?dump=scope
        body = json.dumps(jsonable({k: v for k, v in scope.items()})).encode()
        return await respond(send, 200, body, [(b'content-type', b'application/json')])

    if path == '/pid':
        return await respond(send, 200, str(os.getpid()).encode())

    if path == '/echo':
        h, n, chunks, biggest = hashlib.sha256(), 0, 0, 0
        while True:
            msg = await receive()
            assert msg['type'] == 'http.request', msg
            b = msg.get('body', b'')
            h.update(b)
            n += len(b)
            chunks += 1
            biggest = max(biggest, len(b))
            if not msg.get('more_body'):
                break
        body = json.dumps({'len': n, 'sha256': h.hexdigest(), 'chunks': chunks, 'max_chunk': biggest}).encode()
        return await respond(send, 200, body, [(b'content-type', b'application/json')])

    if path == '/stream':
        n = int(q.get('n', '3'))
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
        for i in range(n):
            await send({'type': 'http.response.body', 'body': b'chunk %d\n' % i, 'more_body': True})
        await send({'type': 'http.response.body', 'body': b''})
        return

    if path == '/big':
        size = int(q.get('size', str(10 << 20)))
        piece = b'x' * (1 << 20)
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-length', str(size).encode())]})
        left = size
        while left:
            b = piece[:min(left, len(piece))]
            left -= len(b)
            await send({'type': 'http.response.body', 'body': b, 'more_body': left > 0})
            mark(q.get('name', 'big') + '.progress', str(size - left))
        mark(q.get('name', 'big') + '.done')
        return

    if path == '/sse':
        name = q.get('name', 'sse')
        SSE_RUNNING[0] += 1
        try:
            assert (await receive())['type'] == 'http.request'  # the (empty) body
            gone = asyncio.ensure_future(receive())
            await send({'type': 'http.response.start', 'status': 200,
                        'headers': [(b'content-type', b'text/event-stream'), (b'x-pid', str(os.getpid()).encode())]})
            i = 0
            while not gone.done():
                await send({'type': 'http.response.body', 'body': b'data: tick %d\n\n' % i, 'more_body': True})
                i += 1
                await asyncio.wait([gone], timeout=0.02)
            if (await gone)['type'] == 'http.disconnect':
                mark(name + '.disconnected')
            try:
                await send({'type': 'http.response.body', 'body': b'data: after\n\n', 'more_body': True})
            except OSError:
                mark(name + '.send-raised')
        finally:
            SSE_RUNNING[0] -= 1
        return

    if path == '/block':
        if SSE_RUNNING[0]:
            return await respond(send, 409, b'this worker holds a stream; try again')
        mark('block.entered', str(os.getpid()))
        time.sleep(float(q.get('secs', '60')))  # blocks the event loop
        return await respond(send, 200, b'unblocked')

    if path == '/sleep':
        await asyncio.sleep(float(q.get('secs', '0.01')))
        return await respond(send, 200, b'slept')

    if path == '/pathsend':
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-type', b'application/octet-stream')]})
        await send({'type': 'http.response.pathsend', 'path': q['file']})
        return

    if path == '/headers':
        await send({'type': 'http.response.start', 'status': 201,
                    'headers': [(b'set-cookie', b'a=1'), (b'set-cookie', b'b=2'), (b'x-custom', b'yes')]})
        await send({'type': 'http.response.body', 'body': b'created'})
        return

    if path == '/head-shapes':
        # Header pairs of every shape the spec allows: hop-by-hop ones are
        # dropped by the server, the rest arrive byte for byte.
        kind = q.get('kind', 'ok')
        headers = {
            'ok': [(b'content-type', b'text/plain'), [b'X-List', bytearray(b'caf\xe9')], (b'connection', b'keep-alive'),
                   (b'Transfer-Encoding', b'chunked'), (b'keep-alive', b'timeout=1'), (b'x-last', b'1')],
            'generator': ((b'x-gen', str(i).encode()) for i in range(2)),
            'tuple': ((b'x-tuple', b'1'),),
            'str': [('content-type', b'text/plain')],
            'int': [(b'content-length', 2)],
            'crlf': [(b'x-bad', b'a\r\nX-Injected: 1')],
            'three': [(b'a', b'b', b'c')],
            'object': [(b'a', object())],
        }[kind]
        await send({'type': 'http.response.start', 'status': 200, 'headers': headers})
        await send({'type': 'http.response.body', 'body': b'shapes'})
        return

    if path == '/error-before':
        raise ValueError('boom before the response')

    if path == '/error-after':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'partial', 'more_body': True})
        raise ValueError('boom in the middle of the response')

    if path == '/no-response':
        return

    if path == '/start-only':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        return

    if path == '/partial':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'partial', 'more_body': True})
        return

    if path == '/double-start':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        return

    if path == '/after-complete':
        await respond(send, 200, b'done')
        try:
            await send({'type': 'http.response.body', 'body': b'more'})
        except RuntimeError:
            mark('after-complete.raised')
        return

    if path == '/too-long':
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-length', b'3')]})
        await send({'type': 'http.response.body', 'body': b'too long'})
        return

    if path == '/early':
        # Answers before reading the body the client sends.
        return await respond(send, 200, b'early')

    if path == '/read-after-response':
        await respond(send, 200, b'ok')
        msg = await receive()  # the body first
        assert msg['type'] == 'http.request', msg
        msg = await receive()
        mark('read-after-response', msg['type'])
        return

    if path == '/wait-disconnect':
        # Never answers: waits for the client to go (http.disconnect
        # before any response).
        msg = await receive()
        while msg['type'] == 'http.request' and msg.get('more_body'):
            msg = await receive()
        mark('wait-disconnect.entered')
        msg = await receive()
        mark('wait-disconnect.' + msg['type'])
        return

    if path == '/executor':
        loop = asyncio.get_event_loop()
        v = await loop.run_in_executor(None, lambda: time.sleep(0.05) or 'from a thread')
        return await respond(send, 200, v.encode())

    if path == '/barrier':
        await barrier(int(q['n']))
        return await respond(send, 200, b'together')

    if path == '/longpoll':
        # Waits for the disconnect (with start=1 after a first event), then
        # sleeps until cancelled: NAME.entered, NAME.http.disconnect and
        # NAME.cancelled mark each step.
        name = q['name']
        assert (await receive())['type'] == 'http.request'
        if q.get('start'):
            await send({'type': 'http.response.start', 'status': 200,
                        'headers': [(b'content-type', b'text/event-stream')]})
            await send({'type': 'http.response.body', 'body': b'data: first\n\n', 'more_body': True})
        mark(name + '.entered', str(os.getpid()))
        try:
            mark(name + '.' + (await receive())['type'])
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            mark(name + '.cancelled')
            raise
        return

    if path == '/slow':
        # Sleeps secs (with start=1 after its head and a first chunk);
        # NAME.cancelled marks a CancelledError.
        name = q.get('name', 'slow')
        if q.get('start'):
            await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
            await send({'type': 'http.response.body', 'body': b'begun\n', 'more_body': True})
        try:
            await asyncio.sleep(float(q.get('secs', '3600')))
        except asyncio.CancelledError:
            mark(name + '.cancelled', str(os.getpid()))
            raise
        await send({'type': 'http.response.start', 'status': 200, 'headers': []}) if not q.get('start') else None
        await send({'type': 'http.response.body', 'body': b'slept'})
        return

    if path == '/hold':
        # Holds the request until the test writes NAME.release.
        name = q['name']
        mark(name + '.entered', str(os.getpid()))
        while not os.path.exists(os.path.join(STATE_DIR, name + '.release')):
            await asyncio.sleep(0.01)
        return await respond(send, 200, b'released by ' + str(os.getpid()).encode())

    if path == '/state':
        return await respond(send, 200, scope.get('state', {}).get('greeting', 'no state').encode())

    if path == '/value':
        await respond(send, 200, b'value returned')
        return 42

    await respond(send, 404, b'not found: ' + path.encode())


BARRIER = {}


async def barrier(n):
    """Returns once n requests are waiting here at the same time."""
    import asyncio as _a
    ev = BARRIER.setdefault(n, [0, _a.Event()])
    ev[0] += 1
    if ev[0] >= n:
        ev[1].set()
    await ev[1].wait()
