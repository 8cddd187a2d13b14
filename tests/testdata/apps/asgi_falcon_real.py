"""A falcon.asgi app (Debian's python3-falcon 3.1) with what its users
reach for: media JSON both ways, server-sent events (resp.sse), an error
with a JSON body, a streamed upload, and routes behind a root path."""
import asyncio
import hashlib
import os

import falcon
import falcon.asgi

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name, text=''):
    if STATE_DIR:
        tmp = os.path.join(STATE_DIR, name + '.tmp')
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, os.path.join(STATE_DIR, name))


class Items:
    async def on_post(self, req, resp):
        doc = await req.get_media()
        resp.media = {'got': doc, 'content_type': req.content_type}
        resp.status = falcon.HTTP_201
        resp.location = '/items/1'

    async def on_get(self, req, resp):
        resp.media = {'path': req.path, 'root_path': req.root_path, 'uri': req.uri, 'scheme': req.scheme,
                      'remote_addr': req.remote_addr, 'q': req.get_param_as_list('q')}


class Missing:
    async def on_get(self, req, resp):
        raise falcon.HTTPNotFound(title='nope', description='no such thing')


class Events:
    async def on_get(self, req, resp):
        n = req.get_param_as_int('n') or 0
        name = req.get_param('name') or 'fsse'

        async def emitter():
            i = 0
            try:
                while n == 0 or i < n:
                    yield falcon.asgi.SSEvent(data=b'tick %d' % i, event='tick', event_id=str(i))
                    i += 1
                    await asyncio.sleep(0.02)
            finally:
                mark(name + '.closed', str(i))
        resp.sse = emitter()


class Upload:
    async def on_put(self, req, resp):
        h = hashlib.sha256()
        n = 0
        async for chunk in req.stream:
            h.update(chunk)
            n += len(chunk)
        resp.media = {'size': n, 'sha256': h.hexdigest()}


app = falcon.asgi.App()
app.add_route('/items', Items())
app.add_route('/missing', Missing())
app.add_route('/events', Events())
app.add_route('/upload', Upload())
