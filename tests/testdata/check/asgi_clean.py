# A clean ASGI app: lifespan with state, every request answered by the spec.
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = b"hello"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status = 404 if scope["path"].startswith("/gowsgi-check/") else 200
    out = scope["state"]["greeting"] + b" " + scope["path"].encode("utf-8") + b" " + body
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out[:3], "more_body": True})
    await send({"type": "http.response.body", "body": out[3:]})
