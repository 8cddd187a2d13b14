"""Raw ASGI: echoes the request body (the benchmark POSTs 64 KiB), read as
the server streams it in http.request chunks, with a Content-Length."""
from asgi_hello import lifespan


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        return await lifespan(receive, send)
    chunks = []
    while True:
        msg = await receive()
        if msg['type'] != 'http.request':
            return  # http.disconnect
        chunks.append(msg.get('body', b''))
        if not msg.get('more_body'):
            break
    body = b''.join(chunks)
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'application/octet-stream'),
                            (b'content-length', str(len(body)).encode())]})
    await send({'type': 'http.response.body', 'body': body})
