"""A raw ASGI WebSocket app that accepts and then never receives, for
bench/ws.sh's flood case: whatever the client sends must be held by the
server's bounded buffers and then by TCP flow control, not by memory."""
import asyncio

from asgi_hello import lifespan


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        return await lifespan(receive, send)
    if scope['type'] != 'websocket':
        await send({'type': 'http.response.start', 'status': 404, 'headers': []})
        await send({'type': 'http.response.body', 'body': b''})
        return
    await receive()  # websocket.connect
    await send({'type': 'websocket.accept'})
    await asyncio.sleep(3600)
