"""A WSGI app for the differential tests (gowsgi against gunicorn): the
default route echoes the CGI part of the environ and the request body as
JSON; the /r/... routes exercise the response-side rules of PEP 3333.

The echo is JSON with sort_keys, so the same request gives the same body on
every server (apart from server-specific keys, which are left out)."""

import json
import os
import sys
import time
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('DIFFAPP_STATE_DIR', '/tmp')

# The environ keys echoed: the CGI ones PEP 3333 defines, and every HTTP_*.
CGI_KEYS = ('REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'CONTENT_TYPE',
            'CONTENT_LENGTH', 'SERVER_PROTOCOL', 'SERVER_NAME', 'SERVER_PORT', 'wsgi.url_scheme')


def q(environ, name, default=''):
    return parse_qs(environ.get('QUERY_STRING', '')).get(name, [default])[0]


def read_body(environ):
    """Reads wsgi.input as a careful app does: CONTENT_LENGTH bytes when it
    is given, otherwise to the end only when wsgi.input_terminated says the
    server ends the stream."""
    inp = environ['wsgi.input']
    cl = environ.get('CONTENT_LENGTH', '')
    if cl:
        try:
            n = int(cl)
        except ValueError:
            return None, 'bad CONTENT_LENGTH %r' % cl
        return inp.read(n), None
    if environ.get('wsgi.input_terminated'):
        return inp.read(), None
    return b'', None


def echo(environ, start_response):
    body, err = read_body(environ)
    out = {}
    for k in CGI_KEYS:
        if k in environ:
            out[k] = environ[k]
    for k, v in environ.items():
        if k.startswith('HTTP_'):
            out[k] = v
    # Strings in the environ are latin-1 "bytes as str" (PEP 3333): report
    # their code points so any mangling shows.
    for k, v in list(out.items()):
        if isinstance(v, str) and any(ord(c) > 0x7e or ord(c) < 0x20 for c in v):
            out[k + '#codepoints'] = [ord(c) for c in v]
    out['_body'] = body.decode('latin-1') if body is not None else None
    out['_body_len'] = len(body) if body is not None else None
    out['_body_err'] = err
    if 'wsgi=1' in environ.get('QUERY_STRING', ''):
        w = {}
        for k in ('wsgi.version', 'wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once',
                  'wsgi.input_terminated', 'wsgi.url_scheme'):
            w[k] = list(environ[k]) if isinstance(environ.get(k), tuple) else environ.get(k, '<absent>')
        w['input_methods'] = all(callable(getattr(environ['wsgi.input'], m, None))
                                 for m in ('read', 'readline', 'readlines', '__iter__'))
        w['errors_methods'] = all(callable(getattr(environ['wsgi.errors'], m, None))
                                  for m in ('write', 'writelines', 'flush'))
        w['file_wrapper'] = callable(environ.get('wsgi.file_wrapper'))
        out['_wsgi'] = w
    out['_native_str'] = all(type(environ[k]) is str for k in CGI_KEYS if k in environ)
    data = json.dumps(out, sort_keys=True).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(data)))])
    return [data]


def reason(environ, start_response):
    start_response('299 Custom Reason Here', [('Content-Type', 'text/plain'), ('Content-Length', '2')])
    return [b'ok']


def write_route(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'one,')
    write(b'two,')
    return [b'three']


def empty_first(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def gen():
        yield b''
        yield b'after-empty'
    return gen()


def excinfo(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    try:
        raise ValueError('handled')
    except ValueError:
        start_response('500 Replaced', [('Content-Type', 'text/plain')], sys.exc_info())
    return [b'error page']


def head_route(environ, start_response):
    body = b'body-for-get'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]


def nobody(environ, start_response):
    status = {'204': '204 No Content', '304': '304 Not Modified'}[q(environ, 's', '204')]
    start_response(status, [('X-Status', status)])
    return [b'must not be sent']


def cl_route(environ, start_response):
    declared, actual = int(q(environ, 'declared')), int(q(environ, 'actual'))
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(declared))])
    return [b'x' * actual]


def stream(environ, start_response):
    n = int(q(environ, 'n', '3'))
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def gen():
        for i in range(n):
            time.sleep(0.02)
            yield ('chunk %d\n' % i).encode()
    return gen()


def nonlatin(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Bad', 'euro \u20ac')])
    return [b'should not be seen']


def latin(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Latin', 'caf\xe9'), ('Content-Length', '2')])
    return [b'ok']


class Tracked:
    def __init__(self, name):
        self.name = name

    def __iter__(self):
        yield b'tracked'

    def close(self):
        with open(os.path.join(STATE_DIR, self.name), 'w') as f:
            f.write('closed')


def tracked(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return Tracked(q(environ, 'name', 'diffapp-closed'))


def nolength(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'a', b'b', b'c']


def status_route(environ, start_response):
    start_response(q(environ, 'v', '200 OK'), [('Content-Type', 'text/plain')])
    return [b'status-body']


HEADER_SETS = {
    'conn-close': [('Connection', 'close')],
    'keep-alive': [('Keep-Alive', 'timeout=5')],
    'te': [('Transfer-Encoding', 'chunked')],
    'upgrade': [('Upgrade', 'websocket')],
    'date': [('Date', 'Mon, 01 Jan 2001 00:00:00 GMT'), ('Server', 'app-server')],
    'lower': [('x-lower', 'v'), ('content-type', 'text/plain')],
    'trailing-space': [('X-Sp', 'v  ')],
    'empty-value': [('X-Empty', '')],
    'two-cl-same': [('Content-Length', '11'), ('Content-Length', '11')],
    'cl-zero': [('Content-Length', '0')],
    'cl-space': [('Content-Length', ' 11')],
    'set-cookies': [('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')],
}


def hdr_route(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')] + HEADER_SETS[q(environ, 'kind')])
    return [b'header-body']


def items_route(environ, start_response):
    kind = q(environ, 'kind')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    if kind == 'bytearray':
        return [bytearray(b'ba'), b'-', memoryview(b'mv')]
    if kind == 'str':
        return ['a str']
    if kind == 'none':
        return None
    if kind == 'tuple':
        return (b'tu', b'ple')
    if kind == 'empty':
        return []
    if kind == 'raise-mid':
        def gen():
            yield b'first'
            raise RuntimeError('mid-body failure')
        return gen()
    return [b'?']


def late_start(environ, start_response):
    # start_response is called from inside the iterable, on first next().
    def gen():
        start_response('200 OK', [('Content-Type', 'text/plain')])
        yield b'late-start'
    return gen()


def read_partial(environ, start_response):
    # Reads only part of the body; the server must discard the rest before
    # the next request on the connection.
    environ['wsgi.input'].read(int(q(environ, 'n', '2')))
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '7')])
    return [b'partial']


def readline_route(environ, start_response):
    inp = environ['wsgi.input']
    lines = []
    while True:
        line = inp.readline()
        if not line:
            break
        lines.append(line.decode('latin-1'))
    data = json.dumps(lines).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(data)))])
    return [data]


ROUTES = {
    '/r/status': status_route, '/r/hdr': hdr_route, '/r/items': items_route, '/r/late-start': late_start,
    '/r/read-partial': read_partial, '/r/readline': readline_route,
    '/r/reason': reason, '/r/write': write_route, '/r/empty-first': empty_first,
    '/r/excinfo': excinfo, '/r/head': head_route, '/r/nobody': nobody, '/r/cl': cl_route,
    '/r/stream': stream, '/r/nonlatin': nonlatin, '/r/latin': latin, '/r/tracked': tracked,
    '/r/nolength': nolength,
}


def app(environ, start_response):
    route = ROUTES.get(environ.get('PATH_INFO', ''))
    if route is None:
        return echo(environ, start_response)
    return route(environ, start_response)


application = app
