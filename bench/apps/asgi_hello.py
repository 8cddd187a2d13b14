"""Raw ASGI JSON hello for bench/asgi.sh: a Content-Length, one body
message, no framework, so the server's own cost shows. Every ASGI bench app
answers the lifespan scope (hypercorn always sends it)."""
import json

BODY = json.dumps({'message': 'Hello, ASGI!'}).encode()
START = {'type': 'http.response.start', 'status': 200,
         'headers': [(b'content-type', b'application/json'),
                     (b'content-length', str(len(BODY)).encode())]}
END = {'type': 'http.response.body', 'body': BODY}


async def lifespan(receive, send):
    while True:
        msg = await receive()
        if msg['type'] == 'lifespan.startup':
            await send({'type': 'lifespan.startup.complete'})
        elif msg['type'] == 'lifespan.shutdown':
            await send({'type': 'lifespan.shutdown.complete'})
            return


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        return await lifespan(receive, send)
    await send(START)
    await send(END)
