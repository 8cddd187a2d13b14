"""Responses whose heads the ASGI worker may reuse (asgi.py's _HEADS): one
headers list the app changes between responses, header pairs as tuples and
as lists, statuses that change while the headers do not, an invalid head
after a valid one with the same pairs, and a Content-Length that changes
with the pairs. Each answer must be its own."""

SHARED = [(b'content-type', b'text/plain'), (b'x-n', b'0')]
N = [0]


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            msg = await receive()
            if msg['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif msg['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    path = scope['path']
    qs = scope['query_string'].decode()
    body = b'ok'
    if path == '/shared':
        # the same list object, its second pair changed in place
        N[0] += 1
        SHARED[1] = (b'x-n', str(N[0]).encode())
        headers = SHARED
    elif path == '/status':
        headers = [(b'content-type', b'text/plain')]
        status = int(qs)
        await send({'type': 'http.response.start', 'status': status, 'headers': headers})
        await send({'type': 'http.response.body', 'body': body})
        return
    elif path == '/lists':
        headers = [[b'content-type', b'text/plain'], [b'x-kind', qs.encode()]]
    elif path == '/mixed':
        headers = [(b'content-type', b'text/plain'), [b'x-kind', qs.encode()]]
    elif path == '/length':
        body = b'x' * int(qs)
        headers = [(b'content-type', b'text/plain'), (b'content-length', qs.encode())]
    elif path == '/bad':
        # a status the worker refuses (1xx), with the pairs of a good one
        await send({'type': 'http.response.start', 'status': int(qs), 'headers': [(b'content-type', b'text/plain')]})
        await send({'type': 'http.response.body', 'body': body})
        return
    else:
        headers = [(b'content-type', b'text/plain')]
    await send({'type': 'http.response.start', 'status': 200, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body})
