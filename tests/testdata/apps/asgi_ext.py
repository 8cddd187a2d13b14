"""An ASGI 3 application, standard library only, for gowsgi's tests of the
response extensions http.response.trailers and http.response.early_hint.

/scope-ext      the scope's extensions, as JSON
/trailers       a body in two pieces, then trailers in two messages
                (x-checksum, then x-count); ?cl=1 adds a Content-Length,
                ?declare=1 a Trailer header naming both
/hints          two early hints (two links, then one), then 200 "ok\n"
/bad/NAME       an ASGI protocol violation or an invalid field; what send()
                raised goes to the marker file NAME in $PROBE_STATE_DIR
"""
import hashlib
import json
import os
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')
BODY = [b'first piece\n', b'second piece\n']


def mark(name, text=''):
    """Leave a marker file, whole when it appears (written, then renamed)."""
    if STATE_DIR:
        path = os.path.join(STATE_DIR, name)
        tmp = os.path.join(STATE_DIR, '.%s.%d.tmp' % (name, os.getpid()))  # workers may mark one name at once
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, path)


async def start(send, trailers=False, headers=()):
    await send({'type': 'http.response.start', 'status': 200, 'trailers': trailers,
                'headers': [(b'content-type', b'text/plain')] + list(headers)})


async def body(send, data=b'ok\n', more=False):
    await send({'type': 'http.response.body', 'body': data, 'more_body': more})


async def trailers(send, fields, more=False):
    await send({'type': 'http.response.trailers', 'headers': fields, 'more_trailers': more})


async def hint(send, *links):
    await send({'type': 'http.response.early_hint', 'links': list(links)})


async def with_trailers(scope, send):
    q = {k: v[0] for k, v in parse_qs(scope['query_string'].decode()).items()}
    headers = []
    if q.get('cl'):
        headers.append((b'content-length', str(sum(map(len, BODY))).encode()))
    if q.get('declare'):
        headers.append((b'trailer', b'x-checksum, x-count'))
    await start(send, True, headers)
    for piece in BODY:
        await body(send, piece, True)
    await body(send, b'', False)
    await trailers(send, [(b'x-checksum', hashlib.sha256(b''.join(BODY)).hexdigest().encode())], True)
    await trailers(send, [(b'x-count', b'2')])


# The violations: each runs until the send that breaks the rules.
async def trailers_unannounced(send):
    await start(send)
    await body(send)
    await trailers(send, [(b'x-a', b'1')])


async def trailers_before_end(send):
    await start(send, True)
    await body(send, b'part\n', True)
    await trailers(send, [(b'x-a', b'1')])


async def after_trailers(send):
    await start(send, True)
    await body(send)
    await trailers(send, [(b'x-a', b'1')])
    await body(send, b'more\n')


async def hint_after_start(send):
    await start(send)
    await hint(send, b'</a.css>; rel=preload; as=style')
    await body(send)


async def bad_trailer(send):
    await start(send, True)
    await body(send)
    await trailers(send, [(b'content-length', b'3')])


async def bad_hint(send):
    await hint(send, b'</a.css>; rel=preload\r\nSet-Cookie: x=1')
    await start(send)
    await body(send)


BAD = {
    'trailers-unannounced': trailers_unannounced,
    'trailers-before-end': trailers_before_end,
    'after-trailers': after_trailers,
    'hint-after-start': hint_after_start,
    'bad-trailer': bad_trailer,
    'bad-hint': bad_hint,
}


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            msg = await receive()
            if msg['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif msg['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    path = scope['path']
    if path == '/scope-ext':
        await start(send)
        await body(send, json.dumps(sorted(scope['extensions'])).encode())
    elif path == '/trailers':
        await with_trailers(scope, send)
    elif path == '/hints':
        await hint(send, b'</style.css>; rel=preload; as=style', b'</app.js>; rel=preload; as=script')
        await hint(send, b'</font.woff2>; rel=preload; as=font; crossorigin')
        await start(send)
        await body(send)
    elif path.startswith('/bad/'):
        name = path[5:]
        try:
            await BAD[name](send)
        except Exception as e:
            mark(name, '%s: %s' % (type(e).__name__, e))
            raise
        mark(name, 'no error')
    else:
        await start(send)
        await body(send, b'not found\n')
