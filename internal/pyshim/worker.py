"""gowsgi worker: runs a WSGI application for the gowsgi Go front.

Started by gowsgi as ``python -c <loader> <config-json>`` with this source on
fd 3, the control socket on fd 4 and one socket per slot from fd 5 on. Each
slot is served by one thread; frames on a slot socket are described in
internal/wire/wire.go; when the front pipelines requests on a slot, the
last frames of their responses may leave together (see Slot.finish). The
main thread reads the control socket: Revoke frames (see Slot.revoke), and
EOF, which asks for an exit. Standard library only; Python 3.8+.
"""

import io
import json
import marshal
import os
import select
import socket
import stat
import struct
import sys
import threading
import traceback
from collections import deque
from io import BytesIO
from time import perf_counter

HDR = struct.Struct('<IBI')
T_REQUEST, T_ABORT = ord('R'), ord('A')
T_START, T_WHOLE, T_BODY, T_END, T_ERROR, T_FILE = b'SWBEXF'
OFFSET_COUNT = struct.Struct('<QQ')
MAX_FRAME_BODY = 4 << 20  # larger body items are split, bounding the front's buffer per slot
T_READY, T_BOOT_FAILED = ord('Y'), ord('Z')
T_FORK, T_FORKED, T_EXITED = ord('K'), ord('k'), ord('x')
T_REVOKE, T_REVOKED = ord('V'), ord('v')
U32 = struct.Struct('<I')
ANC_SIZE = socket.CMSG_SPACE(4 * 4)
# Holding end frames (see Slot.finish): a response that ends while more
# requests are queued on its slot goes out with the next ones' frames, one
# send for several responses. A held response waits for the runs of the
# requests after it, so this pays only while runs are short. Nothing is
# held while a request takes more than HOLD_MAX_WAIT seconds on the slot
# (a moving average), and what is held goes out once the oldest of it has
# waited that long: a response then waits about HOLD_MAX_WAIT and one
# more request's run at most. At 200 us the send saved (a few us of worker
# CPU) is still a percent or two of a request's cost, and the wait is well
# inside what the front's pipelining accepts (it queues only behind slots
# answering within 1 ms); for slower requests the saving is noise and the
# wait is not.
HOLD_MAX_WAIT = 200e-6
# Should the request after held frames turn out slow, or hang, the worker's
# main thread sends them: it looks every HOLD_CHECK seconds while requests
# come (Slot.watched; see serve_control), so a finished response waits at
# most about that long, plus the GIL's switch interval when the slow
# request keeps the interpreter busy. Nothing is held while it does not look.
HOLD_CHECK = float(os.environ.get('GOWSGI_TEST_HOLD_CHECK') or 0.005)  # tests stretch it
HOLD_MAX_BYTES = 64 << 10  # more payload held than this goes out at once
HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
                        'te', 'trailers', 'transfer-encoding', 'upgrade'))

_loads, _dumps, _pack = marshal.loads, marshal.dumps, HDR.pack


def log(msg):
    sys.stderr.write('[gowsgi worker %d] %s\n' % (os.getpid(), msg))
    sys.stderr.flush()


# ---------------------------------------------------------------- app loading

class LoadError(Exception):
    """The target cannot be turned into a WSGI callable; str() is one line."""


def callables_of(module):
    """Names of the public callables a module defines (its own first)."""
    own, other = [], []
    for name, obj in sorted(vars(module).items()):
        if name.startswith('_') or not callable(obj) or isinstance(obj, type(sys)):
            continue
        (own if getattr(obj, '__module__', None) == module.__name__ else other).append(name)
    return own + other


def load_app(target):
    """Import target (``module[:expr]`` or ``file.py[:expr]``) and return
    (callable, description). expr is a name, a dotted attribute path, or a
    factory call ``name(args)`` with literal arguments."""
    import ast
    import importlib
    import importlib.util

    if target.startswith('paste:'):
        return load_paste(target[len('paste:'):])
    spec, _, expr = target.partition(':')
    if spec.endswith('.py') or os.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise LoadError('file not found: %s' % spec)
        name = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))
        spec_obj = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec_obj)
        sys.modules[name] = module
        spec_obj.loader.exec_module(module)
        where = "%s (%s)" % (name, spec)
    else:
        try:
            module = importlib.import_module(spec)
        except ModuleNotFoundError as e:
            if e.name and (spec == e.name or spec.startswith(e.name + '.')):
                raise LoadError("no module named %r (looked in %s)" % (
                    e.name, ', '.join(p or '.' for p in sys.path)))
            raise
        where = spec

    if not expr:
        for candidate in ('app', 'application'):
            if callable(getattr(module, candidate, None)):
                return getattr(module, candidate), '%s:%s' % (spec, candidate)
        for candidate in ('app', 'application'):
            if hasattr(module, candidate):
                raise LoadError('%s:%s is a %s, not a callable' % (
                    spec, candidate, type(getattr(module, candidate)).__name__))
        raise LoadError("module %s has no callable 'app' or 'application'; callables it defines: %s" % (
            where, ', '.join(callables_of(module)) or 'none'))

    try:
        node = ast.parse(expr.strip(), mode='eval').body
    except SyntaxError:
        raise LoadError('cannot parse callable %r in %r' % (expr, target))
    call_args, call_kwargs = None, None
    if isinstance(node, ast.Call):
        try:
            call_args = [ast.literal_eval(a) for a in node.args]
            call_kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise LoadError('factory arguments in %r must be literals' % expr)
        node = node.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise LoadError('cannot parse callable %r in %r' % (expr, target))
    parts.append(node.id)
    obj = module
    for i, part in enumerate(reversed(parts)):
        if not hasattr(obj, part):
            if i == 0:
                raise LoadError("module %s has no attribute %r; callables it defines: %s" % (
                    where, part, ', '.join(callables_of(module)) or 'none'))
            raise LoadError('%r has no attribute %r' % ('.'.join(reversed(parts[-i:])), part))
        obj = getattr(obj, part)
    if call_args is not None:
        if not callable(obj):
            raise LoadError('factory %r in %s is not callable' % (expr, where))
        obj = obj(*call_args, **call_kwargs)
        if obj is None:
            raise LoadError('factory %r in %s returned None, not a WSGI callable' % (expr, where))
    if not callable(obj):
        raise LoadError('%s:%s is a %s, not a callable' % (spec, expr, type(obj).__name__))
    return obj, '%s:%s' % (spec, expr)


# ---------------------------------------------------------------- server hooks and titles

class HookCfg:
    """worker.cfg and server.cfg: the effective settings by gunicorn name."""

    def __init__(self, settings):
        self.__dict__.update(settings)
        self.settings = dict(settings)

    def __getattr__(self, name):
        raise AttributeError('No configuration setting for: %s' % name)


def hook_logger(level):
    """A logger like gunicorn's error log (info, warning, error, debug,
    exception, critical), writing to stderr in gunicorn's format."""
    import logging
    log = logging.getLogger('gunicorn.error')
    if not log.handlers:  # else --log-config configured it: leave it be
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter('[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s',
                                         '%Y-%m-%d %H:%M:%S %z'))
        log.addHandler(h)
        log.setLevel(getattr(logging, str(level).upper(), logging.INFO))
        log.propagate = False
    return log


class HookWorker:
    """What worker-side hooks get as ``worker``: pid, ppid, age (gowsgi's
    worker number), log, cfg, alive, booted."""

    def __init__(self, age, cfg, log):
        self.pid = os.getpid()
        self.ppid = os.getppid()
        self.age = age
        self.cfg = cfg
        self.log = log
        self.alive = True
        self.booted = False

    def __str__(self):
        return '<Worker %s>' % self.pid


class HookServer:
    """What worker-side hooks get as ``server`` (gunicorn's Arbiter, as far
    as a worker can see it): pid (gowsgi's), cfg, log, num_workers."""

    def __init__(self, pid, cfg, log):
        self.pid = pid
        self.cfg = cfg
        self.log = log
        self.num_workers = cfg.settings.get('workers')
        self.proc_name = cfg.settings.get('proc_name') or cfg.settings.get('default_proc_name')
        self.address = cfg.settings.get('bind') or []

    def __str__(self):
        return '<gowsgi master %s>' % self.pid


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


class Hooks:
    """The worker-side gunicorn server hooks of a config file: post_fork,
    post_worker_init, pre_request, post_request, worker_int, worker_abort,
    worker_exit. The file is executed once per process, as gunicorn (and
    gowsgi's config reader) executes it. A hook that raises is logged with
    its traceback, and the worker carries on."""

    def __init__(self, cfg):
        import types
        settings = cfg.get('settings') or {}
        self.fns = {}
        mod = load_config_module(cfg['hooks'])
        for name in cfg.get('hook_names') or ():
            fn = getattr(mod, name, None)
            if callable(fn) and not isinstance(fn, types.ModuleType):
                self.fns[name] = fn
        self.cfg = HookCfg(settings)
        self.log = hook_logger(settings.get('loglevel', 'info'))
        self.server = HookServer(cfg.get('master_pid'), self.cfg, self.log)
        self.worker = HookWorker(cfg.get('age'), self.cfg, self.log)
        self.requests = 'pre_request' in self.fns or 'post_request' in self.fns

    def call(self, name, *args):
        fn = self.fns.get(name)
        if fn is None:
            return
        try:
            fn(*args)
        except BaseException:
            self.log.error('Exception in %s hook:\n%s', name, traceback.format_exc().rstrip())

    def pre_request(self, environ):
        req = HookRequest(environ)
        self.call('pre_request', self.worker, req)
        return req

    def post_request(self, req, environ, state):
        self.call('post_request', self.worker, req, environ, HookResponse(state))

    def exiting(self):
        """worker_exit(server, worker), once."""
        if self.worker.alive:
            self.worker.alive = False
            self.call('worker_exit', self.server, self.worker)

    def install_signals(self):
        """worker_int on SIGINT and SIGQUIT, worker_abort on SIGABRT (sent by
        gowsgi when a request ran past --timeout, after the stack dump, if
        worker_abort or worker_exit is defined): the hook runs, then
        worker_exit, then the worker exits (0 after worker_int, 1 after
        worker_abort), as a gunicorn worker does."""
        import signal

        def ended(hook, code):
            def handler(signum, frame):
                self.call(hook, self.worker)
                self.exiting()
                for f in (sys.stdout, sys.stderr):
                    try:
                        f.flush()
                    except Exception:
                        pass
                os._exit(code)
            return handler

        if 'worker_int' in self.fns:
            signal.signal(signal.SIGINT, ended('worker_int', 0))
            signal.signal(signal.SIGQUIT, ended('worker_int', 0))
        if 'worker_abort' in self.fns or 'worker_exit' in self.fns:
            signal.signal(signal.SIGABRT, ended('worker_abort', 1))


def load_config_module(location):
    """Execute a gunicorn config file (or import python:module) as module
    __config__, the way gunicorn and internal/config/loadconf.py do; what it
    prints goes to stderr."""
    import importlib
    import importlib.machinery
    import importlib.util
    if location.startswith('python:'):
        return importlib.import_module(location[len('python:'):])
    filename = location[len('file:'):] if location.startswith('file:') else location
    here = os.path.dirname(os.path.abspath(filename))
    if here not in sys.path:
        sys.path.insert(1, here)
    name = '__config__'
    if os.path.splitext(filename)[1] in ('.py', '.pyc'):
        spec = importlib.util.spec_from_file_location(name, filename)
    else:
        loader = importlib.machinery.SourceFileLoader(name, filename)
        spec = importlib.util.spec_from_file_location(name, filename, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.stdout = out
    return mod


def set_title(title, comm):
    """Name this process for ps and top: the command line becomes title
    (written over argv's memory through /proc/self/mem, as setproctitle
    does; Python has copied argv already) and comm becomes comm (prctl
    PR_SET_NAME, 15 bytes). Silently skipped where either is unavailable."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, comm.encode('utf-8', 'replace')[:15] + b'\0', 0, 0, 0)
    except Exception:
        pass
    try:
        with open('/proc/self/stat', 'rb') as f:
            stat = f.read()
        fields = stat[stat.rindex(b')') + 2:].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end
        data = title.encode('utf-8', 'replace')[:end - start - 1]
        with open('/proc/self/mem', 'r+b', buffering=0) as mem:
            mem.seek(start)
            mem.write(data + b'\0' * (end - start - len(data)))
    except Exception:
        pass


def name_process(cfg, role):
    """"gowsgi: worker [NAME]" (or "preload"), NAME being --proc-name or
    the app, as gunicorn's "gunicorn: worker [NAME]"."""
    name = cfg.get('proc_name') or cfg['target']
    set_title('gowsgi: %s [%s]' % (role, name), cfg.get('proc_name') or 'gowsgi-' + role)


PASTE_GLOBAL = []  # KEY=VALUE pairs (--paste-global), set by main


def load_paste(path):
    """A PasteDeploy .ini app (gunicorn's --paste): logging configured from
    the file when it has a [loggers] section, then paste.deploy.loadapp."""
    import configparser
    try:
        from paste.deploy import loadapp
    except ImportError:
        raise LoadError('--paste %s needs PasteDeploy, which %s cannot import (pip install PasteDeploy, or apt-get install python3-pastedeploy)'
                        % (path, sys.executable))
    if not os.path.isfile(path):
        raise LoadError('file not found: %s' % path)
    global_conf = {}
    for item in PASTE_GLOBAL:
        k, _, v = item.partition('=')
        global_conf[k.strip()] = v.strip()
    here = os.path.dirname(os.path.abspath(path))
    parser = configparser.ConfigParser()
    parser.read([path])
    if parser.has_section('loggers'):
        import logging.config
        defaults = {'__file__': os.path.abspath(path), 'here': here}
        defaults.update(global_conf)
        logging.config.fileConfig(path, defaults, disable_existing_loggers=False)
    app = loadapp('config:%s' % os.path.abspath(path), relative_to=here, global_conf=global_conf)
    return app, 'paste:%s' % path


# ---------------------------------------------------------------- wsgi objects

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


# ---------------------------------------------------------------- slots

class Slot:
    """One worker thread's end of the wire: reads request frames, runs the
    application, writes response frames.

    While the front has more requests queued on the slot, the frame that
    ends a response is held and goes out with the next frames (see finish):
    a burst of short requests costs one send, not one per request. Frames
    always leave in the order they were made."""

    watched = True  # the main thread looks for frames held too long

    def __init__(self, sock, app, base_environ, hooks=None):
        self.sock = sock
        self.app = app
        self.base = base_environ
        # pre_request/post_request hooks, when the config file has them.
        self.hooks = hooks if hooks is not None and hooks.requests else None
        self.buf = bytearray(1 << 16)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.fds = deque()
        self.queue = deque()
        self.aborted = set()
        # lock guards buf, queue, fds and aborted against the main thread,
        # which drains the socket to answer a Revoke (see revoke). The slot's
        # thread holds it while it waits for frames, with reading set, so an
        # idle slot costs one acquire and release per request.
        self.lock = threading.Lock()
        self.reading = False
        # End frames not sent yet (see finish), their size, when the
        # request of the oldest began, when the current one began, and a
        # moving average of how long a request takes here (perf_counter
        # seconds). Only the slot's thread uses them.
        self.held = []
        self.held_size = 0
        self.wlock = threading.Lock()  # the socket's writes and held
        self.held_at = 0.0
        self.began = perf_counter()  # a new worker counts as busy (Slot.watched)
        self.cost = 0.0

    # Reading. Frames are taken off the socket as they come, several at a
    # time when the front pipelines requests; Abort frames are noted at once
    # so a running response can see them, the rest queue in order.

    def _fill(self, flags=0):
        """Read more bytes into the buffer and parse them; False at EOF."""
        if self.start == self.end:
            self.start = self.end = 0
        n, anc, _, _ = self.sock.recvmsg_into([self.view[self.end:]], ANC_SIZE, flags)
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                self.fds.extend(struct.unpack('%di' % (len(data) // 4), data[:len(data) - len(data) % 4]))
        self.end += n
        self._parse()
        return n > 0

    def _parse(self):
        buf, start, end = self.buf, self.start, self.end
        while end - start >= 9:
            n, t, rid = HDR.unpack_from(buf, start)
            if end - start < 9 + n:
                break
            if t == T_ABORT:
                self.aborted.add(rid)
            elif t == T_REQUEST:
                # Decoded here, straight from the buffer: a body is copied
                # once, into the bytes the application gets.
                try:
                    req = _loads(self.view[start + 9:start + 9 + n])
                except Exception as e:
                    req = e  # raised when the request's turn comes
                self.queue.append((t, rid, req))
            else:
                self.queue.append((t, rid, bytes(self.view[start + 9:start + 9 + n])))
            start += 9 + n
        self.start = start
        # Make room for the rest of a partial frame.
        avail = end - start
        need = 9 + HDR.unpack_from(buf, start)[0] if avail >= 9 else 9
        if need > len(buf):
            nbuf = bytearray(max(need, 1 << 16))
            nbuf[:avail] = self.view[start:end]
            self.buf, self.view = nbuf, memoryview(nbuf)
            self.start, self.end = 0, avail
        elif need > len(buf) - start:
            buf[:avail] = self.view[start:end]
            self.start, self.end = 0, avail

    def next_frame(self):
        """The next request-side frame as (type, id, payload), a request's
        payload decoded to (environ, body), or None when
        the front closed the socket. Held frames go out before it waits."""
        while True:
            if self.held and not self.queue:
                self.flush()  # outside the lock, which revoke needs meanwhile
            with self.lock:
                if self.queue:
                    return self.queue.popleft()
                if self.held:
                    continue  # revoke emptied the queue after the check above
                self.reading = True
                try:
                    more = self._fill()
                finally:
                    self.reading = False
                if not more:
                    return None

    def abort_requested(self, rid):
        """Whether the front has asked to abort request rid. Never blocks."""
        with self.lock:
            if rid not in self.aborted:
                try:
                    if not self._fill(socket.MSG_DONTWAIT):
                        self.aborted.add(rid)  # the front is gone
                except BlockingIOError:
                    pass
            return rid in self.aborted

    def revoke(self, first):
        """Called by the main thread for a Revoke frame: take every queued,
        not yet started request with id >= first off this slot and return
        their ids in order. Returns [] when the slot's thread is waiting for
        frames: its queue is empty, so whatever the front sent will start
        here. A request whose body travels as a descriptor is never revoked."""
        if self.reading:
            return []
        # The slot's thread holds the lock while it waits for frames; a
        # timed acquire lets that be told apart from a short critical section.
        while not self.lock.acquire(timeout=0.001):
            if self.reading:
                return []
        try:
            # Parse every frame the front has sent so far.
            while True:
                try:
                    if not self._fill(socket.MSG_DONTWAIT):
                        break  # the front closed the socket
                except BlockingIOError:
                    break
            keep, gone = deque(), []
            for f in self.queue:
                t, rid, req = f
                if t == T_REQUEST and rid >= first and not (type(req) is tuple and req[1] is None):
                    gone.append(rid)
                else:
                    keep.append(f)
            if gone:
                self.queue = keep
            return gone
        finally:
            self.lock.release()

    # Writing.

    def send(self, parts):
        """Write one frame now, after the held ones."""
        with self.wlock:
            self._send(parts)

    def _send(self, parts):
        """send, with wlock held. Small frames are joined (cheaper than
        sendmsg's iovec set-up); large ones go out with sendmsg, without a
        copy."""
        if self.held:
            self.held += parts
            parts, self.held, self.held_size = self.held, [], 0
        if len(parts) == 1:
            self.sock.sendall(parts[0])
            return
        total = sum(map(len, parts))
        if total <= 16384:
            self.sock.sendall(b''.join(parts))
            return
        sent = self.sock.sendmsg(parts)
        if sent < total:
            self.sock.sendall(b''.join(parts)[sent:])

    def finish(self, parts, size):
        """Write a frame that ends a response (Whole, End, Error; its
        payload is size bytes). While another request is queued on the
        slot, requests here are short and nothing held has waited long
        (HOLD_MAX_WAIT), it is held instead: it goes out with the next frame
        sent, at the latest before the slot waits for frames (next_frame).
        Streamed Start and Body frames, and File frames, are never held.

        Should the request that follows turn out slow (a cold path after a
        run of fast ones), or hang, the main thread sends what is held
        (flush_stale), so a response waits about HOLD_CHECK at most. One
        slow request also stops the holding here until the average is
        short again (some 20 requests after a 20 ms one)."""
        with self.wlock:
            if not self.held:
                self.held_at = self.began
            if (Slot.watched and self.queue and self.cost < HOLD_MAX_WAIT
                    and self.began - self.held_at < HOLD_MAX_WAIT):
                self.held += parts
                self.held_size += size
                if self.held_size <= HOLD_MAX_BYTES:
                    return
                parts = ()
            self._send(parts)

    def flush(self):
        """Send the held frames."""
        with self.wlock:
            self._flush()

    def _flush(self):
        """flush, with wlock held. When the send fails the front has closed
        its end: the frames are dropped, as a failed send in handle drops
        its frame, and the slot's next read or write finds the stream gone."""
        if self.held:
            try:
                self._send(())
            except OSError:
                pass

    def flush_stale(self, now):
        """Called by the main thread every HOLD_CHECK seconds: send what was
        held for a request that began HOLD_CHECK or more ago. The request
        after it turned out slow (or hangs), and a finished response must
        not wait for it. Skipped while the slot's thread is sending, which
        sends what is held anyway."""
        if self.held and now - self.held_at >= HOLD_CHECK and self.wlock.acquire(False):
            try:
                self._flush()
            finally:
                self.wlock.release()

    def send_head(self, ftype, rid, state, data):
        status, headers = state
        try:
            head = _dumps((status, headers), 2)
        except ValueError:
            raise TypeError(describe_bad_head(status, headers)) from None
        if len(data) <= MAX_FRAME_BODY:
            n = len(head) + len(data)
            if ftype == T_WHOLE:
                self.finish((_pack(n, ftype, rid), head, data), n)
            else:
                self.send((_pack(n, ftype, rid), head, data))
            return
        data = memoryview(data)
        self.send((_pack(len(head) + MAX_FRAME_BODY, T_START, rid), head, data[:MAX_FRAME_BODY]))
        self.send_body(rid, data[MAX_FRAME_BODY:])
        if ftype == T_WHOLE:
            self.finish((_pack(0, T_END, rid),), 0)

    def send_body(self, rid, data):
        """Send body bytes, in frames of at most MAX_FRAME_BODY so the front
        never needs more than that in memory for one slot."""
        if len(data) <= MAX_FRAME_BODY:
            self.send((_pack(len(data), T_BODY, rid), data))
            return
        data = memoryview(data)
        for i in range(0, len(data), MAX_FRAME_BODY):
            part = data[i:i + MAX_FRAME_BODY]
            self.send((_pack(len(part), T_BODY, rid), part))

    def send_file(self, rid, state, wrapper):
        """Hand a wsgi.file_wrapper's regular file to the front, which
        sends it with sendfile(2): one File frame with the head, the offset
        and length, and the descriptor. False when the object has no real
        file behind it; the caller then iterates it."""
        f = wrapper.filelike
        try:
            fd = f.fileno()
            st = os.fstat(fd)
            offset = f.tell() if hasattr(f, 'tell') else os.lseek(fd, 0, os.SEEK_CUR)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False
        if not stat.S_ISREG(st.st_mode) or offset > st.st_size:
            return False
        status, headers = state
        try:
            head = _dumps((status, headers), 2)
        except ValueError:
            raise TypeError(describe_bad_head(status, headers)) from None
        tail = OFFSET_COUNT.pack(offset, st.st_size - offset)
        hdr = _pack(len(head) + len(tail), T_FILE, rid)
        with self.wlock:
            if self.held:  # the descriptor travels with this send alone
                self._send(())
            self.sock.sendmsg([hdr, head, tail], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', fd))])
        return True

    # Serving.

    def serve(self):
        try:
            while True:
                f = self.next_frame()
                if f is None:
                    return
                t, rid, payload = f
                if t == T_REQUEST:
                    # An abort always follows the start of its response, so
                    # any noted now are for finished requests.
                    self.aborted.clear()
                    self.began = began = perf_counter()
                    self.handle(rid, payload)
                    self.cost += (perf_counter() - began - self.cost) / 8
        finally:
            self.flush()  # nothing held is lost, however the thread ends

    def handle(self, rid, req):
        if isinstance(req, Exception):
            raise req  # the front sent what marshal cannot read
        environ, body = req
        environ.update(self.base)
        if body is None:
            with self.lock:
                fd = self.fds.popleft()
            environ['wsgi.input'] = open(fd, 'rb', closefd=True)
        else:
            environ['wsgi.input'] = BytesIO(body)
        head_only = environ.get('REQUEST_METHOD') == 'HEAD'
        hooks = self.hooks
        req = hooks.pre_request(environ) if hooks is not None else None
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
            result = self.app(environ, start_response)
            if type(result) is FileWrapper and state is not None and not head_sent and self.send_file(rid, state, result):
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
                        self.send_head(T_START, rid, state, data)
                        head_sent = True
                    elif self.abort_requested(rid):
                        break
                    else:
                        self.send_body(rid, data)
                    if limit is not None and sent >= limit:
                        break  # HEAD, or the declared length is complete
                if head_sent:
                    if not whole:
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
                hooks.post_request(req, environ, state)

    def fail(self, rid, environ, exc, head_sent):
        tb = traceback.format_exc()
        when = 'after the response started; aborting the connection' if head_sent else 'answering 500'
        what = type(exc).__name__
        if not isinstance(exc, Exception):
            what += ', which ends this request only: the worker keeps serving'
        log('error in the application for %s (%s): %s\n%s' % (request_line(environ), when, what, tb.rstrip()))
        try:
            text = str(exc)
        except BaseException:
            text = '(unprintable)'
        msg = ('%s: %s' % (type(exc).__name__, text)).encode('utf-8', 'replace')
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


def describe_bad_head(status, headers):
    """A plain-words reason why marshal could not encode the head."""
    if type(status) is not str:
        return 'status must be str, not %s' % type(status).__name__
    if type(headers) is not list:
        return 'response headers must be a list, not %s' % type(headers).__name__
    for i, h in enumerate(headers):
        if type(h) is not tuple or len(h) != 2:
            return 'response header %d must be a (name, value) tuple, not %r' % (i, h)
        for part in h:
            if type(part) is not str:
                return 'response header %r: %r is of type %s, not str' % (h[0], part, type(part).__name__)
    return 'response head cannot be encoded'


# ---------------------------------------------------------------- main

def app_files():
    """Source files of the modules loaded so far that belong to the
    application rather than to Python or its installed packages: what a
    development reloader should watch."""
    import sysconfig
    skip = {os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    for name in ('stdlib', 'platstdlib', 'purelib', 'platlib'):
        try:
            skip.add(os.path.realpath(sysconfig.get_paths()[name]))
        except KeyError:
            pass
    files = set()
    for module in list(sys.modules.values()):
        f = getattr(module, '__file__', None)
        if not f or not f.endswith('.py'):
            continue
        f = os.path.realpath(f)
        if any(f.startswith(s + os.sep) for s in skip) or 'site-packages' in f or 'dist-packages' in f:
            continue
        files.add(f)
    return sorted(files)


def prepare(cfg):
    """Set up the interpreter as the app expects: --pythonpath entries and
    the working directory on sys.path, --chdir, and argv naming the app."""
    for p in reversed(cfg.get('pythonpath') or []):
        sys.path.insert(0, os.path.abspath(p))
    if cfg.get('chdir'):
        os.chdir(cfg['chdir'])
    if '' not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    sys.argv = [cfg['target']]


def apply_logconfig(cfg):
    """gunicorn's logconfig_dict, logconfig_json and logconfig (--log-config):
    configure the app's Python logging before the app is imported, the
    first one given, in gunicorn's order."""
    d, j, f = cfg.get('logconfig_dict'), cfg.get('logconfig_json'), cfg.get('logconfig')
    if not (d or j or f):
        return
    import logging.config
    if j and not d:
        with open(j) as fh:
            d = json.load(fh)
    if d:
        d = dict(d)
        d.setdefault('version', 1)
        d.setdefault('disable_existing_loggers', False)
        logging.config.dictConfig(d)
    else:
        logging.config.fileConfig(f, disable_existing_loggers=False)


def app_traceback(exc):
    """The traceback of exc without gowsgi's and importlib's own frames, so
    a failed import reads as it would under `python app.py`."""
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if f.filename != 'gowsgi-worker.py' and not f.filename.startswith('<frozen importlib')])
    return ''.join(te.format())


def send_frame(sock, ftype, payload, fid=0):
    sock.sendall(_pack(len(payload), ftype, fid) + payload)


# ---------------------------------------------------------------- preload

MAX_FORK_FDS = 253  # SCM_MAX_FD: a control socket and up to 252 slots


def reserve_fds(n):
    """Hold descriptors 5 .. 4+n with /dev/null while the template imports
    the app: a forked worker puts its slot sockets there, which must not
    replace a file or connection the app opened at import time."""
    null = os.open(os.devnull, os.O_RDONLY)
    for fd in range(5, 5 + n):
        if fd != null:
            os.dup2(null, fd, inheritable=False)
    if not 5 <= null < 5 + n:
        os.close(null)


def reap(control):
    """Report every child that has ended (Exited) with its raw wait status."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send_frame(control, T_EXITED, _dumps({'pid': pid, 'status': status}, 2))


def fork_worker(control, fds):
    """Fork a worker that gets fds; in the template, report its pid
    (Forked) and return None; in the child, return fds."""
    # Output the app buffered at import time must not be written once per child.
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    try:
        pid = os.fork()
    except OSError as e:
        pid, err = -1, e
    if pid == 0:
        return fds
    for fd in fds:
        os.close(fd)
    if pid < 0:
        send_frame(control, T_FORKED, _dumps({'error': str(err)}, 2))
    else:
        send_frame(control, T_FORKED, _dumps({'pid': pid}, 2))
    return None


def become_worker(control, wake, fds):
    """In a forked child: drop the template's control socket, wake-up pipe
    and SIGCHLD handling, and move the descriptors gowsgi sent to 4, 5, ...
    where a worker started by exec has them. Returns the control socket."""
    import fcntl
    import signal

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in wake:
        os.close(fd)
    control.close()
    top = max(fds + [4 + len(fds)]) + 1
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, top) for fd in fds]
    for fd in fds:
        os.close(fd)
    for i, fd in enumerate(moved):
        os.dup2(fd, 4 + i)  # replaces the placeholder of reserve_fds
        os.close(fd)
    return socket.socket(fileno=4)


FORKED_AGE = [None]  # in a forked worker: its number, from the Fork frame


def run_template(control, ready):
    """--preload: the app is loaded. Fork a worker for each Fork frame on the
    control socket, answer Forked with its pid, and report each child that
    ends (Exited). Stays single-threaded, so every fork copies a consistent
    process. Returns only in a forked child, with that child's control
    socket; the template exits when gowsgi closes the control socket."""
    import gc
    import select
    import signal

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    # What the app built at import time moves to the permanent generation:
    # the workers' cyclic GC never walks it, so never copies its pages.
    gc.freeze()
    send_frame(control, T_READY, _dumps(ready, 2))

    buf, fds, child = bytearray(), [], None
    anc_size = socket.CMSG_SPACE(4 * MAX_FORK_FDS)
    try:
        while child is None:
            reap(control)
            r = select.select([control, wake_r], [], [])[0]
            if wake_r in r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if control not in r:
                continue
            data, anc, flags, _ = control.recvmsg(1 << 16, anc_size)
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.extend(struct.unpack('%di' % (len(cdata) // 4), cdata[:len(cdata) - len(cdata) % 4]))
            if not data:
                break  # gowsgi asks the template to exit
            if flags & socket.MSG_CTRUNC:
                log('preload template: descriptors of a fork request were lost; exiting')
                sys.exit(5)
            buf += data
            while child is None and len(buf) >= 9:
                n, ftype, _ = HDR.unpack_from(buf)
                if len(buf) < 9 + n:
                    break
                payload = bytes(buf[9:9 + n])
                del buf[:9 + n]
                if ftype != T_FORK:
                    log('preload template: unexpected frame %r; exiting' % chr(ftype))
                    sys.exit(5)
                req = json.loads(payload)
                want = req['fds']
                mine, fds = fds[:want], fds[want:]
                child = fork_worker(control, mine)
                if child is not None:
                    FORKED_AGE[0] = req.get('age')
    except (BrokenPipeError, ConnectionResetError):
        pass  # gowsgi is gone
    if child is None:
        sys.exit(0)
    return become_worker(control, (wake_r, wake_w), child)


def main():
    import signal
    import faulthandler

    cfg = json.loads(sys.argv[1])
    # The settings for the hooks' worker.cfg: in the environment, not in
    # argv (see pyshim.SettingsEnv), and not for the app.
    settings = os.environ.pop('GOWSGI_HOOK_SETTINGS', None)
    if settings:
        cfg['settings'] = json.loads(settings)
    control = socket.socket(fileno=4)
    template = cfg.get('mode') == 'template'
    if template:
        reserve_fds(cfg['threads'])
    # Ctrl-C in a terminal reaches the whole process group; the front decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    prepare(cfg)
    PASTE_GLOBAL[:] = cfg.get('paste_global') or []
    name_process(cfg, 'preload' if template else 'worker')
    hooks = None
    try:
        apply_logconfig(cfg)
        if cfg.get('hooks'):
            hooks = Hooks(cfg)
            if not template:
                # An exec'd worker is "forked" now; the app is loaded next,
                # as in a gunicorn worker without preload_app.
                hooks.call('post_fork', hooks.server, hooks.worker)
        app, desc = load_app(cfg['target'])
    except LoadError as e:
        send_frame(control, T_BOOT_FAILED, str(e).encode('utf-8', 'replace'))
        sys.exit(3)
    except BaseException as e:
        send_frame(control, T_BOOT_FAILED, app_traceback(e).encode('utf-8', 'replace'))
        sys.exit(3)

    if template:
        control = run_template(control, {'pid': os.getpid(), 'python': sys.version.split()[0], 'app': desc,
                                         'files': '\n'.join(app_files())})
        # From here on this is a worker forked from the template.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        name_process(cfg, 'worker')
        if hooks is not None:
            hooks.worker.pid, hooks.worker.ppid, hooks.worker.age = os.getpid(), os.getppid(), FORKED_AGE[0]
            hooks.call('post_fork', hooks.server, hooks.worker)
    if hooks is not None:
        hooks.install_signals()
        hooks.call('post_worker_init', hooks.worker)
        hooks.worker.booted = True

    kind = interface_of(app, cfg.get('interface') or 'auto')  # asgi.py
    if kind != 'wsgi':
        serve_asgi(cfg, control, app, kind, desc, hooks)  # never returns

    threads = cfg['threads']
    base = {
        'wsgi.version': (1, 0),
        'wsgi.multithread': threads > 1,
        'wsgi.multiprocess': cfg['workers'] > 1,
        'wsgi.run_once': False,
        'wsgi.errors': sys.stderr,
        'wsgi.file_wrapper': FileWrapper,
        'wsgi.input_terminated': True,
    }
    if cfg.get('server_software'):
        base['SERVER_SOFTWARE'] = cfg['server_software']
    slots = []
    for i in range(threads):
        sock = socket.socket(fileno=5 + i)
        slots.append(Slot(sock, app, base, hooks))

    def run(slot):
        try:
            slot.serve()
        except BaseException:
            # A slot that stopped serving must not linger: exiting makes the
            # front replace the whole worker.
            log('slot failed; exiting:\n' + traceback.format_exc())
            os._exit(4)

    for slot in slots:
        threading.Thread(target=run, args=(slot,), daemon=True, name='gowsgi-slot').start()

    ready = {'pid': os.getpid(), 'python': sys.version.split()[0], 'app': desc,
             'files': '\n'.join(app_files()), 'interface': 'wsgi'}
    send_frame(control, T_READY, _dumps(ready, 2))
    serve_control(control, slots)
    if hooks is not None:
        hooks.exiting()
    sys.exit(0)


def serve_control(control, slots):
    """Answer the front's control frames until it closes the control
    socket, which asks for an exit once it has drained this worker's slots.
    Only this thread writes the control socket after Ready. Between frames
    it sends what the slots held too long (Slot.flush_stale): every
    HOLD_CHECK seconds while a request began in the last second, else it
    looks once a second and nothing is held."""
    buf = bytearray()
    try:
        while True:
            if not select.select([control], [], [], HOLD_CHECK if Slot.watched else 1.0)[0]:
                now = perf_counter()
                for slot in slots:
                    slot.flush_stale(now)
                Slot.watched = now - max(slot.began for slot in slots) < 1.0
                continue
            data = control.recv(1 << 16)
            if not data:
                return
            buf += data
            while len(buf) >= 9:
                n, ftype, fid = HDR.unpack_from(buf)
                if len(buf) < 9 + n:
                    break
                payload = bytes(buf[9:9 + n])
                del buf[:9 + n]
                if ftype == T_REVOKE and n == 4 and fid < len(slots):
                    first = U32.unpack(payload)[0]
                    gone = slots[fid].revoke(first)
                    send_frame(control, T_REVOKED, _dumps((first, gone), 2), fid)
                else:
                    log('ignoring a control frame %r for slot %d with %d bytes' % (chr(ftype), fid, n))
    except OSError:
        pass


if __name__ == '__main__':
    main()
