# An ASGI app that never answers lifespan.startup, and never ends GET /'s
# response; the other requests are answered.
import asyncio


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await asyncio.Event().wait()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["method"] == "GET" and scope["path"] == "/":
        await asyncio.Event().wait()
    await send({"type": "http.response.body", "body": b"x"})
