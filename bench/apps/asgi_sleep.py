"""Raw ASGI: each request waits 10 ms in asyncio.sleep (stands in for a
database or API call made with an async driver), then a small body."""
import asyncio

from asgi_hello import lifespan

BODY = b'slept 10ms\n'
START = {'type': 'http.response.start', 'status': 200,
         'headers': [(b'content-type', b'text/plain'),
                     (b'content-length', str(len(BODY)).encode())]}
END = {'type': 'http.response.body', 'body': BODY}


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        return await lifespan(receive, send)
    await asyncio.sleep(0.010)
    await send(START)
    await send(END)
