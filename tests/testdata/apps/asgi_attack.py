"""An ASGI 3 application, standard library only (Python 3.8+), for the
hostile-traffic tests (tests/attack_asgi_test.go) and
bench/tools/asgi_attack.py: it counts, per worker process, the HTTP tasks
it started, those still running and the disconnects it saw, so that a
test can tell whether an attack made the app do work or leak tasks.

    /stats       {"pid", "started", "live", "disconnects", "cancelled"} (not counted)
    /hello       a small response
    /sleep?s=S   sleeps S seconds, then answers
    /noread      never calls receive(); answers after ?s=S (default 30)
    /sse         an event every ?every=S seconds (default 0.5) until the client goes
    /hold        starts no response and waits for http.disconnect
"""
import asyncio
import json
import os
from urllib.parse import parse_qs

STATS = {'started': 0, 'live': 0, 'disconnects': 0, 'cancelled': 0}


def query(scope):
    return {k: v[0] for k, v in parse_qs(scope['query_string'].decode('latin-1')).items()}


async def respond(send, status, body, ctype=b'text/plain'):
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', ctype)]})
    await send({'type': 'http.response.body', 'body': body})


async def wait_disconnect(receive):
    while True:
        msg = await receive()
        if msg['type'] == 'http.disconnect':
            STATS['disconnects'] += 1
            return


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
    path = scope['path']
    if path == '/stats':
        body = dict(STATS, pid=os.getpid())
        return await respond(send, 200, json.dumps(body).encode(), b'application/json')
    q = query(scope)
    STATS['started'] += 1
    STATS['live'] += 1
    try:
        if path == '/hello':
            return await respond(send, 200, b'hello\n')
        if path == '/sleep':
            await asyncio.sleep(float(q.get('s', '0.05')))
            return await respond(send, 200, b'slept\n')
        if path == '/noread':
            await asyncio.sleep(float(q.get('s', '30')))
            return await respond(send, 200, b'never read the body\n')
        if path == '/sse':
            every = float(q.get('every', '0.5'))
            gone = asyncio.ensure_future(wait_disconnect(receive))
            await send({'type': 'http.response.start', 'status': 200,
                        'headers': [(b'content-type', b'text/event-stream')]})
            i = 0
            while not gone.done():
                try:
                    await send({'type': 'http.response.body', 'body': b'data: %d\n\n' % i, 'more_body': True})
                except OSError:
                    break
                i += 1
                await asyncio.wait([gone], timeout=every)
            gone.cancel()
            return
        if path == '/hold':
            await wait_disconnect(receive)
            return
        return await respond(send, 404, b'not found\n')
    except asyncio.CancelledError:
        STATS['cancelled'] += 1
        raise
    finally:
        STATS['live'] -= 1
