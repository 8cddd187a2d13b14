"""A raw ASGI WebSocket echo for bench/ws.sh: every message back, as it
came (text or bytes). No framework, so the server's own cost shows."""


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            msg = await receive()
            if msg['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif msg['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if scope['type'] != 'websocket':
        await send({'type': 'http.response.start', 'status': 404, 'headers': []})
        await send({'type': 'http.response.body', 'body': b''})
        return
    await receive()  # websocket.connect
    await send({'type': 'websocket.accept'})
    while True:
        msg = await receive()
        if msg['type'] == 'websocket.disconnect':
            return
        if msg.get('text') is not None:
            await send({'type': 'websocket.send', 'text': msg['text']})
        else:
            await send({'type': 'websocket.send', 'bytes': msg['bytes']})
