# An ASGI app that uses the response extensions http.response.trailers and
# http.response.early_hint, rightly on GET / and the chunked POST, and
# breaking their rules on the other requests.
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")], "trailers": True}
    if method == "GET" and path == "/":
        await send({"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload; as=style"]})
        await send(start)
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")], "more_trailers": True})
        await send({"type": "http.response.trailers", "headers": [(b"x-n", b"2")]})
    elif method == "HEAD":
        await send(dict(start, trailers=False))
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.trailers", "headers": []})  # not announced
    elif method == "POST" and scope["headers"][-1][1] == b"application/x-www-form-urlencoded":
        await send(start)
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.trailers", "headers": []})  # before the body's end
    elif method == "POST":
        await send(start)
        await send({"type": "http.response.body", "body": b"x"})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})
    elif path.startswith("/gowsgi-check/"):
        await send(dict(start, status=404))
        await send({"type": "http.response.body", "body": b"missing"})
        # returns without its trailers
    else:
        await send(start)
        await send({"type": "http.response.body", "body": b"x"})
        await send({"type": "http.response.body", "body": b"y"})  # a body after the body's end
