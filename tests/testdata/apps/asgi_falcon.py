"""A falcon.asgi application (Debian's python3-falcon) for gowsgi's ASGI
tests."""
import falcon
import falcon.asgi


class Things:
    async def on_get(self, req, resp, name):
        resp.media = {'framework': 'falcon.asgi', 'name': name, 'q': req.get_param('q')}

    async def on_post(self, req, resp, name):
        data = await req.stream.read()
        resp.content_type = 'application/octet-stream'
        resp.data = data


class Stream:
    async def on_get(self, req, resp):
        async def gen():
            for i in range(3):
                yield b'falcon %d\n' % i
        resp.content_type = 'text/plain'
        resp.stream = gen()


app = falcon.asgi.App()
app.add_route('/things/{name}', Things())
app.add_route('/stream', Stream())
