# An ASGI app that breaks the spec a different way on each request
# (lifespan: raises, as Django's ASGI handler does).
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise ValueError("Django can only handle ASGI/HTTP connections, not %s." % scope["type"])
    path, method = scope["path"], scope["method"]
    if method == "GET" and path == "/":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})  # a second start
    elif method == "HEAD":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        await send({"type": "http.response.body", "body": b"more"})  # after the end
    elif method == "POST" and scope["headers"][-1][1] == b"application/x-www-form-urlencoded":
        return  # no start at all
    elif method == "POST":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": "a str body"})  # not bytes
    elif path.startswith("/gowsgi-check/"):
        await send({"type": "http.response.start", "status": "404", "headers": []})  # a str status
    else:
        await send({"type": "http.response.start", "status": 200, "headers": [("content-type", "text/plain")]})  # str headers
        await send({"type": "http.response.body", "body": b"x"})
