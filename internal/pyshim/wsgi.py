"""gowsgi's WSGI side (PEP 3333): runs one request through a WSGI
application on a slot.

WSGISlot completes the environ the front sent (wsgi.input, the wsgi.*
keys), provides start_response (with exc_info) and write(), iterates the
application's result and calls its close(), and turns it into response
frames through wire.Slot: Whole for a body known at once, Start/Body/End
for a streamed one, File for a wsgi.file_wrapper over a regular file
(sent with sendfile(2) by the front), Error for an exception. It stops
producing once the declared Content-Length (or, for HEAD, the head) is
sent, and when the client is gone. Standard library only; Python 3.8+.
"""

import sys
import traceback
from io import BytesIO

from _gowsgi_wire import T_END, T_ERROR, T_START, T_WHOLE, Slot, _pack, error_payload, log

class FileWrapper:
    """wsgi.file_wrapper: iterates a file-like object in blocks."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class ClientGone(OSError):
    """Raised by write() when the client has disconnected."""


def base_environ(cfg):
    """The environ keys every request gets, from the worker's config."""
    base = {
        'wsgi.version': (1, 0),
        'wsgi.multithread': cfg['threads'] > 1,
        'wsgi.multiprocess': cfg['workers'] > 1,
        'wsgi.run_once': False,
        'wsgi.errors': sys.stderr,
        'wsgi.file_wrapper': FileWrapper,
        'wsgi.input_terminated': True,
    }
    if cfg.get('server_software'):
        base['SERVER_SOFTWARE'] = cfg['server_software']
    return base


def new_slots(socks, cfg, app, hooks):
    """A WSGISlot on each slot socket, serving app."""
    base = base_environ(cfg)
    return [WSGISlot(sock, app, base, hooks) for sock in socks]


def interface_changed(environ, start_response):
    """The answer to a request encoded for the app's previous interface."""
    start_response('503 Service Unavailable', [('Content-Type', 'text/plain; charset=utf-8'), ('Retry-After', '1')])
    return [b'The application is being reloaded.\n']


class WSGISlot(Slot):
    """A slot that runs a WSGI application."""

    def __init__(self, sock, app, base_environ, hooks=None):
        Slot.__init__(self, sock)
        self.app = app
        self.base = base_environ
        # pre_request/post_request hooks, when the config file has them.
        self.hooks = hooks if hooks is not None and hooks.requests else None

    def handle(self, rid, req):
        if isinstance(req, Exception):
            raise req  # the front sent what marshal cannot read
        environ, body = req
        app = self.app
        if type(environ) is not dict:
            # An ASGI scope's values (wire.ScopeFields): the front still took
            # the app for an ASGI one when it encoded this request, since a
            # reload with --interface auto has just turned it into a WSGI
            # one. Rare and brief: answered 503, never guessed at.
            environ, app = {'REQUEST_METHOD': environ[1], 'SCRIPT_NAME': '', 'PATH_INFO': environ[3].encode('utf-8').decode('latin-1'),
                            'QUERY_STRING': environ[5].decode('latin-1'), 'SERVER_PROTOCOL': 'HTTP/1.1'}, interface_changed
        environ.update(self.base)
        if body is None:
            with self.lock:
                fd = self.fds.popleft()
            environ['wsgi.input'] = open(fd, 'rb', closefd=True)
        else:
            environ['wsgi.input'] = BytesIO(body)
        head_only = environ.get('REQUEST_METHOD') == 'HEAD'
        hooks = self.hooks
        if hooks is not None:
            req = HookRequest(environ)
            hooks.call('pre_request', hooks.worker, req)
        state = None       # (status, headers) once start_response was called
        head_sent = False
        # The most body bytes worth producing: 0 for HEAD, else the
        # Content-Length the application declared (None: no limit). Once
        # that many were sent the iterable is not advanced any further.
        # UNKNOWN until a body that needs it comes (a list body does not).
        limit = None
        sent = 0           # body bytes sent, counted while limit is set

        def start_response(status, headers, exc_info=None):
            nonlocal state, limit
            if exc_info:
                try:
                    if head_sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif state is not None:
                raise AssertionError('start_response() called a second time without exc_info')
            state = (status, headers)
            limit = 0 if head_only else UNKNOWN
            return write

        def write(data):
            nonlocal head_sent, sent, limit
            if type(data) is not bytes:
                raise TypeError('write() argument must be bytes, not %s' % type(data).__name__)
            if state is None:
                raise AssertionError('write() called before start_response()')
            if limit is UNKNOWN:
                limit = declared_length(state[1])
            if limit is not None:
                if head_sent and sent >= limit:
                    return  # HEAD, or the declared length is complete
                data = data[:limit - sent]
                sent += len(data)
            if not head_sent:
                self.send_head(T_START, rid, state, data)
                head_sent = True
            elif data:
                if self.abort_requested(rid):
                    raise ClientGone('client disconnected')
                self.send_body(rid, data)

        result = None
        try:
            result = app(environ, start_response)
            if type(result) is FileWrapper and state is not None and not head_sent and self.send_file(rid, state, result.filelike):
                pass
            elif type(result) is list or type(result) is tuple:
                for data in result:
                    if type(data) is not bytes:
                        raise TypeError(body_type_error(data))
                if state is None:
                    raise AssertionError('the application returned without calling start_response()')
                data = result[0] if len(result) == 1 else b''.join(result)
                if head_sent:
                    if limit is not None:
                        data = data[:limit - sent]
                    if data:
                        self.send_body(rid, data)
                    self.finish((_pack(0, T_END, rid),), 0)
                else:
                    self.send_head(T_WHOLE, rid, state, data)
            else:
                # Nothing more is wanted when write() sent the whole declared length.
                items = () if head_sent and limit is not None and sent >= limit else result
                whole = False  # a Whole frame ended the response
                batch = None   # this response's held frames (Slot.hold_start)
                for data in items:
                    if type(data) is not bytes:
                        raise TypeError(body_type_error(data))
                    if not data:
                        continue
                    if state is None:
                        raise AssertionError('the application yielded body data before calling start_response()')
                    if limit is UNKNOWN:
                        limit = declared_length(state[1])
                    if limit is not None:
                        data = data[:limit - sent]
                        sent += len(data)
                    if not head_sent:
                        if limit is not None and sent >= limit:
                            # The first block is the whole body the app
                            # declared (or HEAD): one Whole frame says so.
                            self.send_head(T_WHOLE, rid, state, data)
                            whole = head_sent = True
                            break
                        # Held: blocks that are ready join it, and an
                        # iterable that ends now makes it a Whole frame.
                        batch = self.hold_start(rid, state, data)
                        head_sent = True
                    elif batch is None and self.abort_requested(rid):
                        break  # checked before each send, not each held block
                    else:
                        batch = self.hold_body(rid, data, batch)
                    if limit is not None and sent >= limit:
                        break  # HEAD, or the declared length is complete
                if head_sent:
                    if not whole and not (batch is not None and self.end_whole(batch)):
                        self.finish((_pack(0, T_END, rid),), 0)
                elif state is None:
                    raise AssertionError('the application returned without calling start_response()')
                else:
                    self.send_head(T_WHOLE, rid, state, b'')
        except ClientGone:
            self.finish((_pack(0, T_END, rid),), 0)
        except BaseException as e:
            # SystemExit, KeyboardInterrupt and GeneratorExit too: they end
            # this request, never the slot's thread.
            self.fail(rid, environ, e, head_sent)
            if not head_sent:
                state = ('500 Internal Server Error', [])  # what the client gets, for post_request
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                try:
                    close()
                except BaseException as e:
                    log('%s in close() of the response iterable for %s:\n%s' % (
                        type(e).__name__, request_line(environ), traceback.format_exc().rstrip()))
            inp = environ.get('wsgi.input')
            if body is None and inp is not None:
                inp.close()
            if hooks is not None:
                hooks.call('post_request', hooks.worker, req, environ, HookResponse(state))

    def fail(self, rid, environ, exc, head_sent):
        tb = traceback.format_exc()
        when = 'after the response started; aborting the connection' if head_sent else 'answering 500'
        what = type(exc).__name__
        if not isinstance(exc, Exception):
            what += ', which ends this request only: the worker keeps serving'
        log('error in the application for %s (%s): %s\n%s' % (request_line(environ), when, what, tb.rstrip()))
        msg = error_payload(exc)
        try:
            self.finish((_pack(len(msg), T_ERROR, rid), msg), len(msg))
        except OSError:
            pass


def request_line(environ):
    return '%s %s' % (environ.get('REQUEST_METHOD', '?'), environ.get('REQUEST_URI', '?'))


UNKNOWN = object()  # a limit not worked out yet


def declared_length(headers):
    """The Content-Length the application declared, as an int; None when it
    declared none or one that is not a plain number (the front refuses
    those). Malformed headers are reported when the head is sent."""
    try:
        for name, value in headers:
            if len(name) == 14 and name.lower() == 'content-length':
                if value.isdigit() and value.isascii():
                    return int(value)
                return None
    except Exception:
        pass
    return None


def body_type_error(data):
    return 'response body items must be bytes, not %s (%.60r)' % (type(data).__name__, data)


class HookRequest:
    """pre_request's and post_request's ``req``, built from the environ as
    gunicorn's Request reads: method, uri, path, query, version, scheme,
    headers as (NAME, value) pairs with upper-cased names."""

    def __init__(self, environ):
        self.method = environ.get('REQUEST_METHOD')
        self.uri = environ.get('RAW_URI') or environ.get('REQUEST_URI')
        self.path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
        self.query = environ.get('QUERY_STRING', '')
        self.fragment = ''
        proto = environ.get('SERVER_PROTOCOL', 'HTTP/1.1')
        try:
            self.version = tuple(int(x) for x in proto.split('/', 1)[1].split('.'))
        except (IndexError, ValueError):
            self.version = (1, 1)
        self.scheme = environ.get('wsgi.url_scheme', 'http')
        headers = []
        for k, v in environ.items():
            if k.startswith('HTTP_'):
                headers.append((k[5:].replace('_', '-'), v))
            elif k in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
                headers.append((k.replace('_', '-'), v))
        self.headers = headers
        self.body = environ.get('wsgi.input')


class HookResponse:
    """post_request's ``resp``: status ("200 OK"), status_code, headers."""

    def __init__(self, state):
        self.status, self.headers = state if state is not None else (None, [])
        try:
            self.status_code = int(str(self.status).split(None, 1)[0])
        except (ValueError, IndexError):
            self.status_code = None
