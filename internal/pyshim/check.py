"""gowsgi check: load a WSGI application as a gowsgi worker would and drive it
in-process through wsgiref.validate with a few requests; or an ASGI one, through
the lifespan protocol and the same requests, checking every message it sends.

Run by ``gowsgi check`` (internal/check) as the last module of a shim
bundle that holds the worker's (see internal/pyshim/pyshim.go), so the
application is loaded by worker.py's own load_app; argv[1] is the worker's
JSON config (target, chdir, pythonpath) plus "request_timeout", "interface"
and "load_only" (load the application, send it no request). Results go to
the process's original stdout as JSON lines:

    {"event": "load", ...}        the callable found, or why none was
    {"event": "begin", ...}       a request is about to run (so a hang can be named)
    {"event": "request", ...}     its status, content type, size, violations
    {"event": "done"}

Anything the application itself prints goes to stderr. Standard library only.
"""

import asyncio
import faulthandler
import inspect
import json
import os
import sys
import traceback
import warnings
import wsgiref.validate as validate
from io import BytesIO

from _gowsgi_asgi import asgi2_adapter, interface_of
from _gowsgi_worker import SHIM_FILE_PREFIX, LoadError, callables_of, load_app, prepare
from _gowsgi_wsgi import FileWrapper

VALIDATE_FILE = os.path.normcase(os.path.abspath(validate.__file__))
HOP_BY_HOP_HEADERS = ('connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
                      'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade')

# The requests, as a client would send them to gowsgi:
# (label, method, request target, content type, body parts).
REQUESTS = [
    ('GET /', 'GET', '/', None, None),
    ('HEAD /', 'HEAD', '/', None, None),
    ('POST / (form body)', 'POST', '/', 'application/x-www-form-urlencoded', [b'name=gowsgi&check=1']),
    # gowsgi de-chunks a chunked body before the application sees it and sets
    # CONTENT_LENGTH to its length; this is what the application gets.
    ('POST / (chunked body)', 'POST', '/', 'application/json', [b'{"check": ', b'"chunked", ', b'"n": 3}']),
    ('GET /gowsgi-check/missing-page', 'GET', '/gowsgi-check/missing-page', None, None),
    ('GET /caf%C3%A9 (non-ASCII path)', 'GET', '/caf%C3%A9', None, None),
]

_out = None          # the original stdout, for the JSON lines
_orig_cwd = None     # for printing paths relative to where gowsgi check ran
_app = None
_current = None      # the Recorder of the request being run


def emit(**record):
    _out.write(json.dumps(record) + '\n')
    _out.flush()


# ---------------------------------------------------------------- locations

def is_shim(filename):
    return (filename.startswith(SHIM_FILE_PREFIX) or filename.startswith('<frozen ') or filename == '<string>'
            or os.path.normcase(os.path.abspath(filename)) == VALIDATE_FILE)


def show_path(filename):
    if filename.startswith('<'):
        return filename
    full = os.path.abspath(filename)
    rel = os.path.relpath(full, _orig_cwd)
    return full if rel.startswith('..') else rel


def app_location():
    """Where the application callable is defined, when it is a function."""
    fn = _app
    if inspect.ismethod(fn):
        fn = fn.__func__
    code = getattr(fn, '__code__', None)
    if inspect.isfunction(fn) and code is not None and not is_shim(code.co_filename):
        return code.co_filename, code.co_firstlineno
    return None


def frames_location(frames):
    """The innermost (filename, line) in frames that is not gowsgi's or
    wsgiref.validate's own code; frames are (filename, lineno) pairs."""
    for filename, lineno in reversed(frames):
        if not is_shim(filename):
            return filename, lineno
    return None


def live_stack(frame):
    frames = []
    while frame is not None:
        frames.append((frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    frames.reverse()
    return frames


# ---------------------------------------------------------------- recording

class Violation(AssertionError):
    """Raised into the application where a server would refuse to go on."""


class Recorder:
    def __init__(self, label):
        self.label = label
        self.violations = []
        self.warnings = []
        self.seen = set()

    def add(self, message, where=None, soft=False):
        if message in self.seen:
            return
        self.seen.add(message)
        item = {'request': self.label, 'message': message}
        if where:
            item['file'], item['line'] = show_path(where[0]), where[1]
        (self.warnings if soft else self.violations).append(item)


def short(value, n=60):
    r = repr(value)
    return r if len(r) <= n else r[:n - 3] + '...'


def translate(msg, vframe, loc):
    """Plain words for a wsgiref.validate complaint: (soft, text). vframe is
    the validate.py frame that complained; loc its locals, updated with those
    of the check that failed when that is one of ours (_check_string_type)."""
    fn = vframe.f_code.co_name if vframe is not None else ''
    msg = msg if isinstance(msg, str) else repr(msg)

    if not msg:
        line = ''
        if vframe is not None:
            import linecache
            line = linecache.getline(vframe.f_code.co_filename, vframe.f_lineno).strip()
        if fn == 'read' and 'len(args) == 1' in line:
            return True, ('wsgi.input.read() was called without a size; PEP 3333 asks for one '
                          '(gowsgi allows it: its wsgi.input ends at the end of the body)')
        if fn in ('readline', 'readlines') and 'len(args)' in line:
            return False, 'wsgi.input.%s() takes at most one argument' % fn
        if fn == 'write' and 'is str' in line:
            return False, 'wsgi.errors.write() needs a str, not %s' % type(loc.get('s')).__name__
        if fn == '__call__' and 'is bytes' in line:
            return False, ('the write() callable returned by start_response() needs bytes, not %s (%s)'
                           % (type(loc.get('s')).__name__, short(loc.get('s'))))
        if fn == 'check_headers' and 'len(item) == 2' in line:
            return False, 'each response header must be a (name, value) pair, not %s' % short(loc.get('item'))
        return False, 'wsgiref.validate: %s failed' % (line or fn or 'a check')

    if msg.startswith('Status must be of type str'):
        return False, "the status must be a str like '200 OK', not %s (%s)" % (
            type(loc.get('value')).__name__, short(loc.get('value')))
    if msg.startswith('Status codes must be three characters') or msg.startswith('gowsgi-check: status code'):
        return False, "the status %s must start with a three-digit code, like '200 OK'" % short(
            loc.get('status', msg.split(': ', 1)[-1]))
    if msg.startswith('Status code is invalid'):
        return False, 'the status %s has a code below 100' % short(loc.get('status'))
    if msg.startswith('Headers (') and 'must be of type list' in msg:
        return False, 'the response headers must be a list of (name, value) tuples, not a %s' % (
            type(loc.get('headers')).__name__)
    if msg.startswith('Individual headers'):
        item = loc.get('item')
        return False, 'each response header must be a (name, value) tuple, not a %s: %s' % (
            type(item).__name__, short(item))
    if msg.startswith('Header name must be of type str'):
        v = loc.get('value')
        return False, 'header name %s must be a str, not %s' % (short(v), type(v).__name__)
    if msg.startswith('Header value must be of type str'):
        v = loc.get('value')
        name = loc.get('name')
        return False, 'the value of header %s must be a str, not %s (%s)' % (
            short(name), type(v).__name__, short(v))
    if msg.startswith('The Status header cannot be used'):
        return False, "a 'Status' header is not allowed: the status is start_response()'s first argument"
    if (msg.startswith('Header names may not contain') or msg.startswith('Bad header name')
            or msg.startswith('Names may not end in')):
        return False, '%s is not a valid header name (use letters, digits and dashes)' % short(loc.get('name'))
    if msg.startswith('Bad header value'):
        bad = bad_char(loc.get('value', ''))
        return False, 'the value of header %s contains the control character %s (CR or LF would allow header injection)' % (
            short(loc.get('name')), short(bad))
    if msg.startswith('Content-Type header found in a'):
        return True, 'a %s response has no body, so it should not have a Content-Type header' % msg.split()[5]
    if msg.startswith('No Content-Type header found'):
        return True, 'the %s response has no Content-Type header; clients will have to guess' % short(
            loc.get('status'))
    if msg.startswith('exc_info ('):
        e = loc.get('exc_info')
        return False, ('start_response() got exc_info=%s, a %s; pass sys.exc_info() (a 3-tuple) from inside '
                       'an except block' % (short(e), type(e).__name__))
    if msg.startswith('Invalid number of arguments'):
        return False, ('start_response() takes (status, headers) or (status, headers, exc_info); it got %d arguments'
                       % len(loc.get('args', ())))
    if msg.startswith('No keyword arguments allowed') and fn == 'start_response_wrapper':
        return False, 'start_response() was called with keyword arguments (%s); PEP 3333 passes them by position' % (
            ', '.join(sorted(loc.get('kw', {}))))
    if msg.startswith('The application must return an iterator'):
        return False, 'the application returned %s instead of an iterable of bytes (return [] for an empty body)' % short(
            loc.get('iterator'))
    if msg.startswith('You should not return a string'):
        it = loc.get('iterator')
        return False, ('the application returned a %s object, not a list of bytes: a server would send it one '
                       'item at a time; return [body] instead' % type(it).__name__)
    if msg.startswith('Iterator yielded non-bytestring'):
        v = loc.get('v')
        return False, ('the response body must be bytes, but the application produced a %s: %s; encode it, '
                       "e.g. text.encode('utf-8')" % (type(v).__name__, short(v)))
    if msg.startswith('The application returns and we started iterating'):
        return False, 'the application returned a body without calling start_response()'
    if msg.startswith('input.close() must not be called'):
        return False, 'the application closed wsgi.input; only the server may close it'
    if msg.startswith('errors.close() must not be called'):
        return False, 'the application closed wsgi.errors; only the server may close it'
    return False, 'wsgiref.validate: ' + msg


def bad_char(value):
    for c in value:
        if c < ' ' and c != '\t' or c == '\x7f':
            return c
    return ''


def violation_at(frame, msg):
    """Record a wsgiref.validate complaint raised at frame (inside validate.py)."""
    vframe = frame
    while vframe is not None and os.path.normcase(os.path.abspath(vframe.f_code.co_filename)) != VALIDATE_FILE:
        vframe = vframe.f_back
    loc = dict(vframe.f_locals) if vframe is not None else {}
    if frame is not vframe:
        loc.update(frame.f_locals)
    soft, text = translate(msg, vframe, loc)
    where = frames_location(live_stack(frame))
    if where is None and vframe is not None:
        # A body item: point at the generator's yield when there is one.
        it = vframe.f_locals.get('self')
        gen = getattr(it, 'original_iterator', None)
        gframe = getattr(gen, 'gi_frame', None)
        if gframe is not None and not is_shim(gframe.f_code.co_filename):
            where = (gframe.f_code.co_filename, gframe.f_lineno)
    if where is None:
        where = app_location()
    if _current is not None:
        _current.add(text, where, soft)
    return soft, text


def _assert(cond, *args):
    if cond:
        return
    msg = args[0] if args else ''
    if isinstance(msg, str) and msg.startswith('Iterator garbage collected'):
        return  # our own bookkeeping; every iterable is closed below
    soft, text = violation_at(sys._getframe(1), msg)
    if not soft:
        raise Violation(text)


def _check_string_type(value, title):
    if type(value) is str:
        return value
    _assert(False, '{0} must be of type str (got {1})'.format(title, repr(value)))


_orig_check_status = validate.check_status


def _check_status(status):
    try:
        return _orig_check_status(status)
    except (ValueError, IndexError):
        # int() of a status that does not start with digits.
        _assert(False, 'gowsgi-check: status code in %r' % (status,))


validate.assert_ = _assert
validate.check_string_type = _check_string_type
validate.check_status = _check_status


# ---------------------------------------------------------------- gowsgi's own rules

def gowsgi_head_problems(status, headers):
    """What gowsgi's front refuses in a response head (it answers 500 then):
    the same rules as internal/front/head.go."""
    problems = []
    if type(status) is str:
        if len(status) < 4 or status[3] != ' ' or not status[:3].isdigit():
            problems.append("the status %s must be a three-digit code, a space and a reason phrase, like '200 OK'"
                            % short(status))
        elif int(status[:3]) < 200:
            problems.append('the status %s is informational (1xx); it cannot be the final response' % short(status))
        elif bad_char(status):
            problems.append('the status %s contains the control character %s' % (short(status), short(bad_char(status))))
        else:
            try:
                status.encode('latin-1')
            except UnicodeEncodeError:
                problems.append('the status %s has characters outside latin-1 (PEP 3333 requires latin-1)' % short(status))
    if type(headers) is not list:
        return problems
    lengths = 0
    for h in headers:
        if type(h) is not tuple or len(h) != 2 or type(h[0]) is not str or type(h[1]) is not str:
            continue  # wsgiref.validate reports these
        name, value = h
        if name.lower() in HOP_BY_HOP_HEADERS:
            problems.append('the %s header is hop-by-hop: it describes the connection, which PEP 3333 leaves '
                            'to the server' % short(name))
        try:
            value.encode('latin-1')
        except UnicodeEncodeError:
            problems.append('the value of header %s has characters outside latin-1 (%s); PEP 3333 requires '
                            'latin-1, so encode it (e.g. RFC 8187 or percent-encoding)' % (short(name), short(value)))
        if bad_char(value):
            problems.append('the value of header %s contains the control character %s' % (
                short(name), short(bad_char(value))))
        if name.lower() == 'content-length':
            lengths += 1
            if not value.isdigit():
                problems.append('Content-Length %s is not a number' % short(value))
    if lengths > 1:
        problems.append('there is more than one Content-Length header')
    return problems


# ---------------------------------------------------------------- running requests

def unquote_to_latin1(path):
    """Percent-decode a path to bytes and return them as a latin-1 str, as
    PEP 3333 wants PATH_INFO (and as gowsgi builds it)."""
    from urllib.parse import unquote_to_bytes
    return unquote_to_bytes(path).decode('latin-1')


def make_environ(method, target, ctype, parts):
    path, _, query = target.partition('?')
    environ = {
        'REQUEST_METHOD': method,
        'SCRIPT_NAME': '',
        'PATH_INFO': unquote_to_latin1(path),
        'QUERY_STRING': query,
        'REQUEST_URI': target,
        'RAW_URI': target,
        'SERVER_PROTOCOL': 'HTTP/1.1',
        'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '8000',
        'REMOTE_ADDR': '127.0.0.1',
        'REMOTE_PORT': '54321',
        'HTTP_HOST': '127.0.0.1:8000',
        'HTTP_USER_AGENT': 'gowsgi-check',
        'HTTP_ACCEPT': '*/*',
        'wsgi.version': (1, 0),
        'wsgi.url_scheme': 'http',
        'wsgi.multithread': False,
        'wsgi.multiprocess': False,
        'wsgi.run_once': False,
        'wsgi.errors': sys.stderr,
        'wsgi.file_wrapper': FileWrapper,
        'wsgi.input_terminated': True,
    }
    body = b''.join(parts or [])
    if parts is not None:
        environ['CONTENT_LENGTH'] = str(len(body))
    if ctype:
        environ['CONTENT_TYPE'] = ctype
    environ['wsgi.input'] = BytesIO(body)
    return environ


def trimmed_traceback(exc):
    """The traceback of exc without gowsgi's and wsgiref.validate's frames."""
    frames = [traceback.FrameSummary(show_path(f.filename), f.lineno, f.name, line=f.line)
              for f in traceback.extract_tb(exc.__traceback__) if not is_shim(f.filename)]
    text = ''
    if frames:
        text = 'Traceback (most recent call last):\n' + ''.join(traceback.format_list(frames))
    return text + ''.join(traceback.format_exception_only(type(exc), exc))


def tb_location(exc):
    return frames_location([(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)])


def run_request(label, method, target, ctype, parts):
    global _current
    rec = _current = Recorder(label)
    state = {'status': None, 'headers': None, 'sent': False, 'started': False}
    body = []

    def start_response(status, headers, exc_info=None):
        # The server's start_response, as gowsgi's worker implements it.
        if exc_info:
            if type(exc_info) is tuple and len(exc_info) == 3 and exc_info[1] is None:
                rec.add('start_response() got exc_info=(None, None, None): sys.exc_info() was called '
                        'outside an except block', frames_location(live_stack(sys._getframe(1))))
            try:
                if state['sent']:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif state['started']:
            rec.add('start_response() was called a second time without exc_info; only an error handler may '
                    'call it again, passing sys.exc_info()', frames_location(live_stack(sys._getframe(1))))
            raise Violation('start_response() called a second time without exc_info')
        where = frames_location(live_stack(sys._getframe(1)))
        for p in gowsgi_head_problems(status, headers):
            rec.add(p + '; gowsgi answers 500', where)
        state.update(status=status, headers=headers, started=True)
        return write

    def write(data):
        # Only start_response() hands this out, so the head is known.
        if data:
            state['sent'] = True
            body.append(data)

    environ = make_environ(method, target, ctype, parts)
    error = None
    result = None
    lint = validate.validator(_app)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            result = lint(environ, start_response)
            for chunk in result:
                if chunk:
                    state['sent'] = True
                    body.append(chunk)
        except Violation:
            pass  # recorded where it was raised
        except Exception as e:
            where = tb_location(e) or app_location()
            when = ('after the response started (gowsgi would cut the connection)' if state['sent']
                    else '(gowsgi would answer 500 Internal Server Error)')
            rec.add('the application raised %s: %s %s' % (type(e).__name__, str(e)[:200], when), where)
            error = {'type': type(e).__name__, 'message': str(e)[:500], 'traceback': trimmed_traceback(e)}
        finally:
            if result is not None:
                try:
                    result.close()
                except Violation:
                    pass
                except Exception as e:
                    rec.add('close() of the response iterable raised %s: %s' % (type(e).__name__, e), tb_location(e))
        for w in caught:
            if not issubclass(w.category, validate.WSGIWarning):
                continue
            text = str(w.message)
            if text.startswith('The status string'):
                continue  # gowsgi_head_problems reports it, as an error
            rec.add('wsgiref.validate: ' + text, (w.filename, w.lineno) if not is_shim(w.filename) else None, soft=True)

    if error is None and not state['started'] and not rec.violations:
        rec.add('the application returned without calling start_response()', app_location())

    size = sum(len(b) for b in body if type(b) is bytes)
    status, headers = state['status'], state['headers']
    if error is None and type(status) is str and status[:1] == '5':
        rec.add('the application answered %s: it failed on this request (its output may say why)' % status,
                soft=True)
    ctype_out = None
    if type(headers) is list:
        for h in headers:
            if type(h) is tuple and len(h) == 2 and type(h[0]) is str and h[0].lower() == 'content-type':
                ctype_out = h[1] if type(h[1]) is str else repr(h[1])
            if (type(h) is tuple and len(h) == 2 and type(h[0]) is str and h[0].lower() == 'content-length'
                    and type(h[1]) is str and h[1].isdigit() and error is None and method != 'HEAD'
                    and type(status) is str and status[:3] not in ('204', '304')
                    and int(h[1]) != size):
                rec.add('Content-Length says %s bytes but the body has %d' % (h[1], size), app_location())
    _current = None
    emit(event='request', request=label, method=method, uri=target,
         status=status if type(status) is str else (None if status is None else repr(status)),
         content_type=ctype_out, size=size, error=error,
         violations=rec.violations, warnings=rec.warnings)



# ---------------------------------------------------------------- ASGI
#
# An ASGI application (a coroutine function, or an object whose __call__ is
# one, or any callable with --interface asgi: ASGI 2's double callable) is
# judged against asgiref's spec in the same way: the lifespan protocol, the
# same requests, and every message it sends.

def asgi_app(app, interface):
    """The application as an ASGI 3 callable and its kind ('ASGI 3' or
    'ASGI 2'), or (None, None) for WSGI: the worker's own rule
    (asgi.interface_of) decides, under gowsgi's --interface."""
    kind = interface_of(app, interface)
    if kind == 'asgi3':
        return app, 'ASGI 3'
    if kind == 'asgi2':
        return asgi2_adapter(app), 'ASGI 2'
    return None, None


def http_status_text(status):
    import http
    try:
        return '%d %s' % (status, http.HTTPStatus(status).phrase)
    except ValueError:
        return str(status)


def send_where():
    """Where the application called send(): the innermost frame of its own."""
    return frames_location(live_stack(sys._getframe(2)))


class Lifespan:
    """The lifespan scope of one application, run alongside its requests."""

    def __init__(self, app, timeout):
        self.app, self.timeout = app, timeout
        self.state = {}
        self.supported = False
        self.inbox = None
        self.answers = []   # the lifespan.* messages the app sent
        self.answered = None
        self.task = None

    async def send(self, message):
        rec = _current
        where = send_where()
        if not isinstance(message, dict):
            rec.add('lifespan: send() needs a dict message, not %s' % type(message).__name__, where)
            raise Violation('send() needs a dict')
        t = message.get('type')
        phase = 'startup' if len(self.answers) == 0 else 'shutdown'
        if t not in ('lifespan.%s.complete' % phase, 'lifespan.%s.failed' % phase):
            rec.add('lifespan: the application sent %s while gowsgi waited for lifespan.%s.complete or .failed'
                    % (short(t), phase), where)
            raise Violation('unexpected lifespan message')
        if t.endswith('.failed') and 'message' in message and not isinstance(message['message'], str):
            rec.add('lifespan: the message of %s must be a str, not %s' % (t, type(message['message']).__name__), where)
        self.answers.append(message)
        self.answered.set()

    async def receive(self):
        return await self.inbox.get()

    async def run_phase(self, rec, phase):
        """Send lifespan.<phase> and wait for the answer, or for the app to end."""
        global _current
        _current = rec
        self.answered = asyncio.Event()
        if self.task is None:
            self.inbox = asyncio.Queue()
            scope = {'type': 'lifespan', 'asgi': {'version': '3.0', 'spec_version': '2.0'}, 'state': self.state}
            self.task = asyncio.ensure_future(self.app(scope, self.receive, self.send))
        self.inbox.put_nowait({'type': 'lifespan.' + phase})
        waiter = asyncio.ensure_future(self.answered.wait())
        try:
            await asyncio.wait([self.task, waiter], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            gave_up(rec, rec.label, self.timeout, 'no answer to lifespan.' + phase)
            return 'no answer'
        finally:
            waiter.cancel()
        if self.answered.is_set():
            answer = self.answers[-1]
            if answer['type'].endswith('.failed'):
                rec.add('lifespan.%s.failed: %s (gowsgi\'s workers would %s)' % (
                    phase, answer.get('message') or 'no message',
                    'not start' if phase == 'startup' else 'report it as they stop'), app_location())
                return phase + '.failed'
            return phase + '.complete'
        exc = self.task.exception() if not self.task.cancelled() else None
        if isinstance(exc, Violation):
            return 'no answer'
        if phase == 'shutdown':
            rec.add('the application ended the lifespan scope without answering lifespan.shutdown', app_location(), soft=True)
            return 'no answer'
        if exc is not None:
            rec.add('the application raised %s on the lifespan scope: it does not support lifespan; gowsgi carries on '
                    'without it (--lifespan auto), and would not start with --lifespan on' % type(exc).__name__,
                    tb_location(exc) or app_location(), soft=True)
            return 'not supported (raised %s)' % type(exc).__name__
        rec.add('the application returned from the lifespan scope without answering lifespan.startup: gowsgi carries '
                'on without lifespan (--lifespan auto)', app_location(), soft=True)
        return 'not supported'

    async def stop(self):
        if self.task is not None and not self.task.done():
            self.task.cancel()
            try:
                await self.task
            except BaseException:
                pass


def emit_lifespan(label, outcome, rec):
    emit(event='request', request=label, method='', uri='', status=outcome, content_type=None, size=0, error=None,
         violations=rec.violations, warnings=rec.warnings)


def asgi_headers(method, ctype, body):
    headers = [(b'host', b'127.0.0.1:8000'), (b'user-agent', b'gowsgi-check'), (b'accept', b'*/*')]
    if body is not None:
        headers.append((b'content-length', str(len(body)).encode()))
    if ctype:
        headers.append((b'content-type', ctype.encode('latin-1')))
    return headers


def check_response_headers(rec, headers, where):
    """The headers of http.response.start: an iterable of [bytes, bytes]."""
    try:
        items = list(headers)
    except TypeError:
        rec.add('the headers of http.response.start must be an iterable of [name, value] pairs, not %s'
                % type(headers).__name__, where)
        return []
    out = []
    for h in items:
        try:
            name, value = h
        except (TypeError, ValueError):
            rec.add('each response header must be a [name, value] pair, not %s' % short(h), where)
            continue
        if type(name) is not bytes or type(value) is not bytes:
            bad = name if type(name) is not bytes else value
            rec.add('header names and values must be bytes, not %s (%s); encode them, e.g. b"content-type"'
                    % (type(bad).__name__, short(bad)), where)
            continue
        if name.lower() != name:
            rec.add('the header name %s is not lower-case, as ASGI asks' % short(name), where, soft=True)
        if bad_char(value.decode('latin-1')):
            rec.add('the value of header %s contains a control character (CR or LF would allow header injection); '
                    'gowsgi answers 500' % short(name), where)
        out.append((name.lower(), value))
    return out


async def asgi_request(app, label, method, target, ctype, parts, state):
    global _current
    rec = _current = Recorder(label)
    from urllib.parse import unquote
    path, _, query = target.partition('?')
    body = b''.join(parts) if parts is not None else None
    scope = {
        'type': 'http', 'asgi': {'version': '3.0', 'spec_version': '2.4'}, 'http_version': '1.1',
        'method': method, 'scheme': 'http', 'path': unquote(path), 'raw_path': path.encode('latin-1'),
        'query_string': query.encode('latin-1'), 'root_path': '', 'headers': asgi_headers(method, ctype, body),
        'client': ('127.0.0.1', 54321), 'server': ('127.0.0.1', 8000), 'state': dict(state),
        'extensions': {'http.response.pathsend': {}, 'http.response.early_hint': {}, 'http.response.trailers': {}},
    }
    chunks = list(parts) if parts else [b'']
    inbox = [{'type': 'http.request', 'body': c, 'more_body': i < len(chunks) - 1} for i, c in enumerate(chunks)]
    st = {'started': False, 'ended': False, 'status': None, 'headers': [], 'size': 0, 'trailers': False,
          'body_done': False}
    ended = asyncio.Event()

    async def receive():
        if inbox:
            return inbox.pop(0)
        await ended.wait()  # the client goes once it has the whole response
        return {'type': 'http.disconnect'}

    async def send(message):
        where = send_where()
        if not isinstance(message, dict):
            rec.add('send() needs a dict message, not %s (%s)' % (type(message).__name__, short(message)), where)
            raise Violation('send() needs a dict')
        t = message.get('type')
        if t == 'http.response.trailers' and not st['trailers']:
            rec.add("http.response.trailers was sent, but http.response.start did not say 'trailers': True", where)
            raise Violation('trailers not announced')
        if st['ended']:
            rec.add('the application sent %s after the response ended (its last http.response.body had '
                    'more_body=False); send() raises an OSError under gowsgi' % short(t), where)
            raise Violation('a message after the response ended')
        if t == 'http.response.start':
            if st['started']:
                rec.add('a second http.response.start: the response had started with status %s' % st['status'], where)
                raise Violation('a second http.response.start')
            status = message.get('status')
            if type(status) is not int:
                rec.add('the status of http.response.start must be an int like 200, not %s (%s)'
                        % (type(status).__name__, short(status)), where)
                raise Violation('status not an int')
            if not 200 <= status <= 599:
                rec.add('the status %d cannot be a final response (200 to 599); send 1xx hints as '
                        'http.response.early_hint' % status, where)
                raise Violation('bad status')
            if not isinstance(message.get('trailers', False), bool):
                rec.add('trailers in http.response.start must be a bool', where)
            st.update(started=True, trailers=bool(message.get('trailers', False)), status=http_status_text(status),
                      headers=check_response_headers(rec, message.get('headers', []), where))
        elif t == 'http.response.body':
            if not st['started']:
                rec.add('http.response.body was sent before http.response.start', where)
                raise Violation('a body before the start')
            if st['body_done']:
                rec.add('http.response.body was sent after the body ended (more_body=False); the response '
                        'announced trailers, so http.response.trailers comes next', where)
                raise Violation('a body after the body ended')
            data = message.get('body', b'')
            if type(data) is not bytes:
                rec.add('the body of http.response.body must be bytes, not %s (%s); encode it, e.g. '
                        "text.encode('utf-8')" % (type(data).__name__, short(data)), where)
                raise Violation('a body that is not bytes')
            more = message.get('more_body', False)
            if not isinstance(more, bool):
                rec.add('more_body must be a bool, not %s' % type(more).__name__, where)
            st['size'] += len(data)
            if not more and st['trailers']:
                st['body_done'] = True  # http.response.trailers ends the response
            elif not more:
                st['ended'] = True
                ended.set()
        elif t == 'http.response.pathsend':
            p = message.get('path')
            if not st['started']:
                rec.add('http.response.pathsend was sent before http.response.start', where)
                raise Violation('pathsend before the start')
            if type(p) is not str or not os.path.isabs(p) or not os.path.isfile(p):
                rec.add('the path of http.response.pathsend must be the absolute path of a file, not %s' % short(p), where)
                raise Violation('bad pathsend')
            if st['trailers']:
                rec.add('http.response.pathsend was sent in a response that announced trailers; gowsgi '
                        'refuses it (send the file with http.response.body)', where)
                raise Violation('pathsend with trailers')
            st['size'] += os.path.getsize(p)
            st['ended'] = True
            ended.set()
        elif t == 'http.response.early_hint':
            links = message.get('links')
            if st['started']:
                rec.add('http.response.early_hint was sent after http.response.start', where)
            elif not isinstance(links, (list, tuple)) or any(type(x) is not bytes for x in links):
                rec.add('the links of http.response.early_hint must be a list of bytes, not %s' % short(links), where)
        elif t == 'http.response.trailers':
            if not st['body_done']:
                rec.add('http.response.trailers was sent before the body ended (an http.response.body with '
                        'more_body=False)', where)
                raise Violation('trailers before the body ended')
            check_response_headers(rec, message.get('headers', []), where)
            if not message.get('more_trailers', False):
                st['ended'] = True
                ended.set()
        elif t == 'http.response.zerocopy':
            rec.add('the application sent %s, an extension the scope did not advertise' % t, where)
            raise Violation('an extension not advertised')
        else:
            rec.add('send() got a message of type %s; an HTTP response is http.response.start, then '
                    'http.response.body messages' % short(t), where)
            raise Violation('unknown message')

    error = None
    with warnings.catch_warnings(record=True):
        try:
            await app(scope, receive, send)
        except Violation:
            pass
        except asyncio.CancelledError:
            gave_up(rec, label, _asgi_timeout, 'no complete response' if st['started'] else 'no response')
        except Exception as e:
            when = ('after the response started (gowsgi would end the response there)' if st['started']
                    else '(gowsgi would answer 500 Internal Server Error)')
            rec.add('the application raised %s: %s %s' % (type(e).__name__, str(e)[:200], when), tb_location(e) or app_location())
            error = {'type': type(e).__name__, 'message': str(e)[:500], 'traceback': trimmed_traceback(e)}
    if error is None and not rec.violations:
        if not st['started']:
            rec.add('the application returned without sending http.response.start (gowsgi answers 500)', app_location())
        elif st['body_done'] and not st['ended']:
            rec.add("the application returned without the http.response.trailers its http.response.start announced "
                    "('trailers': True), or with more_trailers=True on the last", app_location())
        elif not st['ended']:
            rec.add('the application returned before the response ended: its last http.response.body had '
                    'more_body=True, or it sent none', app_location())
    status = st['status']
    if error is None and status is not None and status[:1] == '5':
        rec.add('the application answered %s: it failed on this request (its output may say why)' % status, soft=True)
    ctype_out = None
    for name, value in st['headers']:
        if name == b'content-type':
            ctype_out = value.decode('latin-1')
        if (name == b'content-length' and value.isdigit() and error is None and st['ended'] and method != 'HEAD'
                and status[:3] not in ('204', '304') and int(value) != st['size']):
            rec.add('content-length says %s bytes but the body has %d' % (value.decode(), st['size']), app_location())
    _current = None
    emit(event='request', request=label, method=method, uri=target, status=status, content_type=ctype_out,
         size=st['size'], error=error, violations=rec.violations, warnings=rec.warnings)


ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))


def awaiting_at(task):
    """Where the application's code in task is waiting: its innermost frame
    that is neither gowsgi's nor asyncio's."""
    coro = task.get_coro()
    frames = []
    while coro is not None:
        f = getattr(coro, 'cr_frame', None) or getattr(coro, 'gi_frame', None)
        if f is not None and not os.path.abspath(f.f_code.co_filename).startswith(ASYNCIO_DIR):
            frames.append((f.f_code.co_filename, f.f_lineno))
        coro = getattr(coro, 'cr_await', None) or getattr(coro, 'gi_yieldfrom', None)
    return frames_location(frames)


# label -> where the application waited when a step ran out of time.
_gave_up = {}
_asgi_timeout = 0.0


def run_asgi(app, timeout):
    """The lifespan startup, every request, the lifespan shutdown; each
    step bounded by timeout (a task that does not answer in time is
    cancelled, and where it waited reported), and an event loop blocked
    twice that long by faulthandler."""
    global _asgi_timeout
    _asgi_timeout = timeout

    async def step(label, coro, inner=None):
        emit(event='begin', request=label)
        if timeout > 0:
            faulthandler.dump_traceback_later(2 * timeout + 1, exit=True)
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait([task], timeout=timeout if timeout > 0 else None)
        faulthandler.cancel_dump_traceback_later()
        if task not in done:
            _gave_up[label] = awaiting_at(inner() if inner else task)
            task.cancel()
            await asyncio.wait([task])
        return task.result()

    async def session():
        lifespan = Lifespan(app, timeout)
        rec = Recorder('lifespan startup')
        outcome = await step('lifespan startup', lifespan.run_phase(rec, 'startup'), lambda: lifespan.task)
        emit_lifespan('lifespan startup', outcome, rec)
        supported = outcome == 'startup.complete'
        for label, method, target, ctype, parts in REQUESTS:
            await step(label, asgi_request(app, label, method, target, ctype, parts, lifespan.state if supported else {}))
        if supported:
            rec = Recorder('lifespan shutdown')
            outcome = await step('lifespan shutdown', lifespan.run_phase(rec, 'shutdown'), lambda: lifespan.task)
            emit_lifespan('lifespan shutdown', outcome, rec)
        await lifespan.stop()

    asyncio.run(session())


def gave_up(rec, label, timeout, what):
    """Record that label got no answer in time."""
    rec.add('%s within %gs: the check gave up waiting (the application was waiting there)' % (what, timeout),
            _gave_up.get(label) or app_location())

# ---------------------------------------------------------------- loading

def looks_like_wsgi(obj):
    """Whether obj can be called as obj(environ, start_response)."""
    if not callable(obj) or inspect.isclass(obj) and obj.__module__ in ('builtins',):
        return False
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    required = [p for p in sig.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    positional = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
    return len(required) <= 2 and (len(positional) >= 2 or varargs)


def suggestion(target):
    """TARGET with a callable that exists, when the name given is wrong."""
    spec, _, _ = target.partition(':')
    if spec.endswith('.py') or os.sep in spec:
        name = os.path.splitext(os.path.basename(spec))[0]
    else:
        name = spec
    module = sys.modules.get(name)
    if module is None:
        return None
    for cand in callables_of(module):
        obj = getattr(module, cand, None)
        if inspect.isroutine(obj) or inspect.isclass(obj):
            own = getattr(obj, '__module__', None) == module.__name__
        else:
            own = True  # an instance, such as a framework's application object
        if own and looks_like_wsgi(obj):
            return '%s:%s' % (spec, cand)
    return None


def describe(app):
    kind = type(app).__name__
    if inspect.isfunction(app):
        kind = 'generator function' if inspect.isgeneratorfunction(app) else 'function'
        if inspect.iscoroutinefunction(app):
            kind = 'coroutine function'
    elif inspect.ismethod(app):
        kind = 'method'
    elif inspect.isclass(app):
        kind = 'class'
    else:
        kind = '%s.%s instance' % (type(app).__module__, type(app).__qualname__)
    where = app_location()
    return kind, ('%s:%d' % (show_path(where[0]), where[1])) if where else None


def main():
    global _out, _orig_cwd, _app
    cfg = json.loads(sys.argv[1])
    _out = os.fdopen(os.dup(1), 'w', encoding='utf-8')
    os.dup2(2, 1)  # the application's own output goes to stderr
    _orig_cwd = os.getcwd()

    prepare(cfg)  # worker.py's, so the app loads exactly as under gowsgi

    info = {'python': sys.executable, 'python_version': sys.version.split()[0]}
    try:
        app, desc = load_app(cfg['target'])
    except LoadError as e:
        emit(event='load', ok=False, error=str(e), suggestion=suggestion(cfg['target']), **info)
        return
    except BaseException as e:
        emit(event='load', ok=False, error='importing the application raised %s: %s' % (type(e).__name__, e),
             traceback=trimmed_traceback(e), **info)
        return
    _app = app
    kind, where = describe(app)
    app3, interface = asgi_app(app, cfg.get('interface') or 'auto')
    emit(event='load', ok=True, callable=desc, type=kind, defined_at=where, interface=interface or 'WSGI', **info)

    timeout = float(cfg.get('request_timeout') or 0)
    if cfg.get('load_only'):
        emit(event='done')
        return
    if app3 is not None:
        run_asgi(app3, timeout)
        emit(event='done')
        return
    for label, method, target, ctype, parts in REQUESTS:
        emit(event='begin', request=label)
        if timeout > 0:
            # A request that hangs: show where, then exit.
            faulthandler.dump_traceback_later(timeout, exit=True)
        run_request(label, method, target, ctype, parts)
        faulthandler.cancel_dump_traceback_later()
    emit(event='done')

