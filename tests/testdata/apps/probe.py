"""A WSGI app whose routes each exercise one PEP 3333 rule, for the
integration tests. Query strings choose variants."""

import hashlib
import json
import os
import sys
import time
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '/tmp')


def q(environ, name, default=''):
    return parse_qs(environ.get('QUERY_STRING', '')).get(name, [default])[0]


def text(start_response, body, status='200 OK', extra=()):
    body = body.encode('utf-8') if isinstance(body, str) else body
    start_response(status, [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))] + list(extra))
    return [body]


def env_route(environ, start_response):
    out = {}
    for k, v in environ.items():
        if isinstance(v, (str, bool, int)) or v is None:
            out[k] = v
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = type(v).__name__
    out['_input_hasattrs'] = all(hasattr(environ['wsgi.input'], a) for a in ('read', 'readline', 'readlines', '__iter__'))
    out['_pid'] = os.getpid()
    body = json.dumps(out, sort_keys=True).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def echo_route(environ, start_response):
    inp = environ['wsgi.input']
    mode = q(environ, 'mode', 'read')
    if mode == 'read':
        data = inp.read()
        assert inp.read() == b'' and inp.read(10) == b''
    elif mode == 'readn':
        chunks = []
        while True:
            c = inp.read(int(q(environ, 'n', '7')))
            if not c:
                break
            chunks.append(c)
        data = b''.join(chunks)
    elif mode == 'readline':
        lines = []
        while True:
            line = inp.readline()
            if not line:
                break
            lines.append(line)
        data = b'|'.join(lines)
    elif mode == 'readlinen':
        data = b'|'.join(iter(lambda: inp.readline(4), b''))
    elif mode == 'readlines':
        data = b'|'.join(inp.readlines(int(q(environ, 'hint', '0')) or -1))
    elif mode == 'iter':
        data = b'|'.join(line for line in inp)
    else:
        data = b'?'
    info = {'len': len(data), 'sha1': hashlib.sha1(data).hexdigest(),
            'content_length': environ.get('CONTENT_LENGTH'), 'input_type': type(inp).__name__}
    if len(data) < 4096:
        info['data'] = data.decode('latin-1')
    return text(start_response, json.dumps(info), extra=[('Content-Type', 'application/json')][:0])


def status_route(environ, start_response):
    return text(start_response, 'custom status\n', status=q(environ, 's', '200 OK'))


def headers_route(environ, start_response):
    kind = q(environ, 'kind')
    bad = {
        'crlf': ('200 OK', [('X-Bad', 'a\r\nInjected: yes')]),
        'nonlatin': ('200 OK', [('X-Bad', 'euro \u20ac')]),
        'hop': ('200 OK', [('Connection', 'close')]),
        'te': ('200 OK', [('Transfer-Encoding', 'chunked')]),
        'status': ('200', []),
        'status1xx': ('100 Continue', []),
        'notlist': ('200 OK', (('X-A', 'b'),)),
        'int': ('200 OK', [('X-Int', 5)]),
        'badname': ('200 OK', [('X Bad', 'v')]),
        'cl': ('200 OK', [('Content-Length', 'abc')]),
        'statusbytes': (b'200 OK', []),
        'object': ('200 OK', [('X-Obj', object())]),
    }
    if kind in bad:
        status, headers = bad[kind]
        start_response(status, headers)
        return [b'should not be seen']
    # Valid: latin-1 value, case kept, several Set-Cookie.
    start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Latin', 'caf\xe9'),
                              ('x-lower-case', 'kept'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')])
    return [b'ok']


def write_route(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'written-1 ')
    write(b'written-2 ')
    return [b'returned']


def stream_route(environ, start_response):
    n = int(q(environ, 'n', '5'))
    delay = float(q(environ, 'delay', '0'))
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def gen():
        yield b''  # empty items must not trigger the head early or end the body
        for i in range(n):
            if delay:
                time.sleep(delay)
            yield ('chunk %d\n' % i).encode()
    return gen()


def cl_route(environ, start_response):
    declared, actual = int(q(environ, 'declared')), int(q(environ, 'actual'))
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(declared))])
    return [b'x' * actual]


def raise_before(environ, start_response):
    raise RuntimeError('boom before headers')


def raise_after(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'partial'
    raise RuntimeError('boom after headers')


def excinfo_route(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    try:
        raise ValueError('handled')
    except ValueError:
        start_response('500 Oops', [('Content-Type', 'text/plain')], sys.exc_info())
    return [b'error page']


def excinfo_late(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'already sent')
    try:
        raise ValueError('too late')
    except ValueError:
        start_response('500 Oops', [('Content-Type', 'text/plain')], sys.exc_info())
    return [b'unreachable']


def nonbytes_route(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return ['a str, not bytes']


class Tracked:
    """An iterable whose close() leaves a marker file."""

    def __init__(self, name, chunks, delay):
        self.name, self.chunks, self.delay = name, chunks, delay
        self.closed = False

    def __iter__(self):
        i = 0
        while self.chunks < 0 or i < self.chunks:
            if self.delay:
                time.sleep(self.delay)
            yield b'x' * 1024
            i += 1

    def close(self):
        with open(os.path.join(STATE_DIR, self.name), 'w') as f:
            f.write('closed')


def tracked_route(environ, start_response):
    """chunks=-1 yields forever; cl=N declares a Content-Length of N."""
    headers = [('Content-Type', 'text/plain')]
    if q(environ, 'cl'):
        headers.append(('Content-Length', q(environ, 'cl')))
    start_response('200 OK', headers)
    return Tracked(q(environ, 'name', 'closed'), int(q(environ, 'chunks', '3')), float(q(environ, 'delay', '0')))


def crash_route(environ, start_response):
    if q(environ, 'sig') == 'SEGV':
        import ctypes
        ctypes.string_at(0)  # a real segmentation fault, as a C extension would
    if q(environ, 'after'):
        start_response('200 OK', [('Content-Type', 'text/plain')])

        def gen():
            # A block past what the worker holds back to join with the
            # next (wire.py): it goes out with the head at once, so the
            # crash comes after the response has started.
            yield b'before crash\n' * 8192
            sys.stderr.flush()
            os._exit(7)
        return gen()
    os._exit(7)


def garbage_route(environ, start_response):
    """Writes a malformed frame on this thread's slot socket (fd 5 with
    --threads 1): gowsgi must kill this worker, not crash itself."""
    os.write(5, b'\xff\xff\xff\x7fQ\x00\x00\x00\x00')
    return text(start_response, 'never relayed')


HOARD = []


def hog_route(environ, start_response):
    """Grows this worker's memory by mb MiB and keeps it."""
    HOARD.append(bytearray(int(q(environ, 'mb', '64')) << 20))
    return text(start_response, 'hoarding %d MiB' % (sum(map(len, HOARD)) >> 20))


def errors_route(environ, start_response):
    environ['wsgi.errors'].write('message to wsgi.errors\n')
    environ['wsgi.errors'].writelines(['line two\n'])
    environ['wsgi.errors'].flush()
    return text(start_response, 'logged')


def filewrapper_route(environ, start_response):
    path = q(environ, 'path')
    if q(environ, 'bytesio'):
        import io
        f = io.BytesIO(open(path, 'rb').read())  # no real file: iterated
    else:
        f = open(path, 'rb')
        f.seek(int(q(environ, 'seek', '0')))
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    return environ['wsgi.file_wrapper'](f, 4096)


def mark(name, suffix):
    """Leaves STATE_DIR/name.suffix, written whole (rename) so a test that
    sees the file sees its content."""
    path = os.path.join(STATE_DIR, name + suffix)
    with open(path + '.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename(path + '.tmp', path)


def sleep_route(environ, start_response):
    """s=SECONDS; mark=NAME leaves STATE_DIR/NAME.entered on entry."""
    if q(environ, 'mark'):
        mark(q(environ, 'mark'), '.entered')
    time.sleep(float(q(environ, 's', '1')))
    return text(start_response, 'slept')


def block_route(environ, start_response):
    """Writes STATE_DIR/NAME.entered, then holds its thread until the test
    creates STATE_DIR/NAME.release (or ALL.release), for at most 120 s: a
    slow request whose end the test decides. Answers "released NAME"."""
    name = q(environ, 'name', 'block')
    release = os.path.join(STATE_DIR, name + '.release')
    everything = os.path.join(STATE_DIR, 'ALL.release')
    deadline = time.monotonic() + 120

    def released():
        return os.path.exists(release) or os.path.exists(everything)
    beat = float(q(environ, 'beat', '0'))
    if beat:
        # beat=S: answer at once and send a '.' every S seconds while held,
        # so the request is never silent.
        start_response('200 OK', [('Content-Type', 'text/plain')])
        mark(name, '.entered')

        def beats():
            last = time.monotonic()
            while not released() and time.monotonic() < deadline:
                if time.monotonic() - last >= beat:
                    last = time.monotonic()
                    yield b'.'
                time.sleep(0.005)
            yield ('released %s' % name).encode()
        return beats()
    mark(name, '.entered')
    while not released():
        if time.monotonic() > deadline:
            return text(start_response, 'never released %s\n' % name, status='500 Internal Server Error')
        time.sleep(0.005)
    return text(start_response, 'released %s' % name)


def raise_base_route(environ, start_response):
    """BaseException subclasses out of the app: kind=systemexit raises
    SystemExit, keyboard KeyboardInterrupt, exit calls sys.exit(3), close
    returns an iterable whose close() raises SystemExit."""
    kind = q(environ, 'kind')
    if kind == 'systemexit':
        raise SystemExit('app raised SystemExit')
    if kind == 'keyboard':
        raise KeyboardInterrupt
    if kind == 'exit':
        sys.exit(3)
    if kind == 'close':
        class ExitOnClose:
            def __iter__(self):
                yield b'body before a close() that exits'

            def close(self):
                raise SystemExit('close() raised SystemExit')
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return ExitOnClose()
    return text(start_response, 'unknown kind\n', status='400 Bad Request')


def rss_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


LEAK = []


def leak_route(environ, start_response):
    """Allocates mb_per_s MiB a second (in tenths) for secs seconds and keeps
    it; after every step it writes the highest VmRSS it has seen, in MiB, to
    STATE_DIR/NAME.peak: what a worker over --max-memory reached before it
    was stopped."""
    rate, secs = float(q(environ, 'mb_per_s', '300')), float(q(environ, 'secs', '4'))
    name = q(environ, 'name', 'leak')
    path = os.path.join(STATE_DIR, name + '.peak')
    step = int(rate * (1 << 20) / 10)
    peak = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        LEAK.append(b'\x01' * step)  # filled, so every page is resident
        peak = max(peak, rss_kib() >> 10)
        with open(path + '.tmp', 'w') as f:
            f.write(str(peak))
        os.rename(path + '.tmp', path)
        time.sleep(0.1)
    return text(start_response, 'leaked %d MiB, peak %d MiB' % (sum(map(len, LEAK)) >> 20, peak))


def nobody_route(environ, start_response):
    status = q(environ, 's', '204 No Content')
    start_response(status, [('X-Status', status)])
    return [b'must not be sent']


def big_route(environ, start_response):
    n = int(q(environ, 'n', str(1 << 20)))
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    block = b'0123456789abcdef' * 4096
    sent = 0
    while sent < n:
        part = block[:n - sent]
        sent += len(part)
        yield part


def bigone_route(environ, start_response):
    """One big body item: the worker splits it into frames."""
    n = int(q(environ, 'n', str(1 << 20)))
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    return [bytes(range(256)) * (n // 256)]


def rand_route(environ, start_response):
    """n bytes of random hex text: it compresses, but not to nothing."""
    n = int(q(environ, 'n', '65536'))
    return text(start_response, os.urandom(n // 2).hex())


def pylog_route(environ, start_response):
    """Log through Python's logging (for --log-config / logconfig_dict) and
    print (for --capture-output)."""
    import logging
    logging.getLogger(q(environ, 'name', 'probe')).warning(q(environ, 'msg', 'probe log'))
    print(q(environ, 'print', 'probe print'))
    sys.stderr.write(q(environ, 'stderr', 'probe stderr') + '\n')
    return text(start_response, 'logged\n')


ROUTES = {
    '/env': env_route, '/echo': echo_route, '/status': status_route, '/headers': headers_route,
    '/write': write_route, '/stream': stream_route, '/cl': cl_route, '/raise-before': raise_before,
    '/raise-after': raise_after, '/excinfo': excinfo_route, '/excinfo-late': excinfo_late,
    '/nonbytes': nonbytes_route, '/tracked': tracked_route, '/crash': crash_route,
    '/errors': errors_route, '/hog': hog_route, '/garbage': garbage_route, '/filewrapper': filewrapper_route, '/sleep': sleep_route,
    '/nobody': nobody_route, '/big': big_route, '/bigone': bigone_route, '/block': block_route,
    '/raise-base': raise_base_route, '/leak': leak_route, '/pylog': pylog_route, '/rand': rand_route,
}


def app(environ, start_response):
    path = environ['PATH_INFO']
    route = ROUTES.get('/' + path.split('/')[1] if path.count('/') else path)
    if route is None:
        return text(start_response, 'hello from probe\n' if environ['PATH_INFO'] == '/' else 'not found\n',
                    status='200 OK' if environ['PATH_INFO'] == '/' else '404 Not Found')
    return route(environ, start_response)


def create_app(greeting='factory'):
    """A factory, for module:create_app() targets."""
    def factory_app(environ, start_response):
        return text(start_response, '%s pid=%d\n' % (greeting, os.getpid()))
    return factory_app


def validated():
    """The probe behind wsgiref.validate, for module:validated() targets."""
    from wsgiref.validate import validator

    def strict_app(environ, start_response):
        inp = environ['wsgi.input']
        data = inp.read(int(environ.get('CONTENT_LENGTH') or 0))
        body = b'method=%s len=%d' % (environ['REQUEST_METHOD'].encode(), len(data))
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
        return [body]
    return validator(strict_app)
