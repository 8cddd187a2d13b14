"""gowsgi worker, ASGI side: serves an ASGI 3 (or adapted ASGI 2)
application on one asyncio event loop (uvloop when it imports and --loop
allows) for every slot of the worker.

worker.py's main() loads the app, asks interface_of which interface it
speaks, and hands an ASGI app to serve().

The wire is worker.py's (internal/wire/wire.go): each slot carries one
request at a time (the front never pipelines onto an ASGI slot); a
request frame's environ is turned into the HTTP scope; an Abort frame
means the client has gone (http.disconnect); responses leave as
Start/Body/End, Whole, File (http.response.pathsend) or Error frames. All
slots share the worker's one data socket (fd 5), each slot's frames
wrapped in M frames (Mux): one read takes what the front sent for every
slot, and the frames written in one loop turn leave in one sendmsg.
Credit (N frames) bounds what a slot may have in flight, as a socket per
slot used to: send() waits while the front has not consumed the window of
a slot's bytes. The control socket carries heartbeats while the loop runs,
and EOF, which asks for a graceful exit: in-flight requests finish, then
the lifespan shutdown runs.
"""

import os
import socket
import stat
import struct
import sys
import traceback
from collections import deque

from _gowsgi_wire import (HDR, OFFSET_COUNT, T_ABORT, T_BODY, T_BOOT_FAILED, T_END,
                          T_ERROR, T_FILE, T_READY, T_REQUEST, T_START, T_WHOLE, U32, _dumps, _loads, _pack, error_payload, log,
                          received_fds, send_frame, take_frames)
from _gowsgi_wsgi import ClientGone, HookRequest, HookResponse, request_line

ASGI_BODY_CHUNK = 64 << 10  # the largest http.request piece (of a spooled or a streamed body)
ASGI_READ_SIZE = 256 << 10  # the most one read of the data socket takes
T_HEARTBEAT = ord('H')
T_MUX, T_CREDIT = ord('M'), ord('N')  # the data socket's frames: a slot's frames; credit
T_BODY_WANTED = ord('G')  # the data socket: the app asked for its streamed body (see HTTPRequest.receive)
# Flow control on the data socket (internal/wire/wire.go: MuxFloor,
# MuxWindow, WSWindow): each request starts with its slot's window at
# MUX_FLOOR and nothing unacknowledged; a frame goes when it fits what is
# left of the window, or when less than a quarter of it is unacknowledged;
# the front grows the window (N with a second field), up to MUX_WINDOW,
# while its client keeps up. A WebSocket's messages are acknowledged as the
# app receives them, each costing at least WS_MIN_COST (every message, so
# that the front's floor of one message per WebSocket always gets its
# acknowledgement).
MUX_FLOOR = 64 << 10
MUX_WINDOW = 512 << 10
# The body bytes that go with the head in a whole response's one frame (a
# streamed response's first frame carries what the others do), and the
# largest body frame (at most half the slot's window: see
# ASlot.frame_body). What a slot holds in the front is bounded by its
# window, or one whole response's frame (wire.MuxFloor's doc).
ASGI_FIRST_BODY = MUX_FLOOR
ASGI_FRAME_BODY = MUX_WINDOW // 2
WS_WINDOW = 1 << 20
WS_MIN_COST = WS_WINDOW // 16
WS_ACK_AT = WS_MIN_COST
_MUX_FRAME = struct.Struct('<IBIIBI')  # an M frame's header and its one inner frame's
_CREDIT = struct.Struct('<IBII')  # an N frame (its optional second field, growth, is the front's)
MUX_ANC_SIZE = socket.CMSG_SPACE(4 * 16)  # the descriptors one read takes
MUX_JOIN_MAX = 16 << 10  # frames up to this are copied into the output buffer; larger ones go as parts
MUX_IOV = 512  # buffers per sendmsg, well under IOV_MAX
T_GOAWAY = ord('Q')  # control: how long in-flight requests get before they are told "going away"
GOAWAY_SHUTDOWN, GOAWAY_RESTART = 0, 1  # its reasons (a WebSocket closes with 1001 or 1012)
ASGI_VERSION = {'version': '3.0', 'spec_version': '2.4'}
# The HTTP scope's extensions, besides tls (which depends on the
# connection); each request gets a copy of the dict (the empty dicts in it
# are shared: the spec gives them no content).
ASGI_HTTP_EXTENSIONS = {'http.response.pathsend': {}, 'http.response.trailers': {}, 'http.response.early_hint': {}}
# Response frames of those extensions (internal/wire/wire.go): an interim
# head (103 Early Hints), a start whose response ends with trailers, and
# the trailers.
T_INTERIM, T_START_TRAILERS, T_TRAILERS = b'IPL'
_U16 = struct.Struct('<H')
ASGI_HOP_BY_HOP = frozenset((b'connection', b'keep-alive', b'proxy-authenticate', b'proxy-authorization',
                             b'te', b'trailer', b'trailers', b'transfer-encoding', b'upgrade'))
# How long in-flight requests get, once gowsgi asked the worker to stop,
# before they are told "going away" and the lifespan shutdown runs, when
# no GoAway frame said how long (gowsgi sends one; it kills a worker that
# takes longer than the grace plus its own bound).
ASGI_STOP_GRACE = 5.0
# Bounds on the steps after the grace: the apps' own ending on
# http.disconnect, the cancelled tasks' cleanup, and the lifespan
# shutdown. All fit inside gowsgi's kill bound (10 s).
ASGI_CANCEL_BOUND = 2.0
ASGI_DISCONNECT_WAIT = 0.5  # told "going away", before the cancel
ASGI_SHUTDOWN_BOUND = 5.0
# How long past its bound (--timeout) a lifespan startup that blocks the
# event loop is reported from a watchdog thread (one that awaits is
# cancelled at the bound itself).
STARTUP_BLOCKED_MARGIN = 1.0
# How long before the boot's bound ends a startup is given up on: the
# blocked-loop watchdog (STARTUP_BLOCKED_MARGIN later) still reports before
# the front kills the worker.
STARTUP_REPORT_MARGIN = 2.0


_EAGER_TASKS = sys.version_info >= (3, 12)  # asyncio.Task(..., eager_start=True)
from asyncio import Task as _Task
# A request's task name (before 3.12 a Task without one formats "Task-N"
# in its constructor, ~2% of a hello request's instructions).
_TASK_NAME = 'gowsgi-request'


class ASGIProtocolError(RuntimeError):
    """The application broke the ASGI protocol; str() says how."""


class LifespanFailed(Exception):
    """The application's lifespan startup failed; str() says why."""


def _is_coroutine_function(obj):
    """inspect's answer, or the marker asgiref's and Django's
    markcoroutinefunction put on plain functions before Python 3.12 (only
    on functions and methods: an object whose __getattr__ answers
    anything must not pass for one)."""
    import inspect
    if obj is None:
        return False
    if inspect.iscoroutinefunction(obj):
        return True
    return (inspect.isfunction(obj) or inspect.ismethod(obj)) and getattr(obj, '_is_coroutine', None) is not None


def interface_of(app, interface):
    """'asgi3', 'asgi2' or 'wsgi' for app under --interface (auto, wsgi,
    asgi). ASGI is a coroutine function, or an object whose __call__ is
    one; ASGI 2 is a class whose instances have an async __call__(receive,
    send); WSGI is everything else. Forced asgi takes any callable, as
    ASGI 3 unless it is a class."""
    import inspect
    if interface == 'wsgi':
        return 'wsgi'
    # asgiref's markers, looked up statically: never through __getattr__.
    if inspect.getattr_static(app, '_asgi_double_callable', False) is True:
        return 'asgi2'
    if inspect.getattr_static(app, '_asgi_single_callable', False) is True:
        return 'asgi3'
    if inspect.isclass(app):
        if _is_coroutine_function(getattr(app, '__call__', None)):
            return 'asgi2'
        return 'asgi2' if interface == 'asgi' else 'wsgi'
    if _is_coroutine_function(app) or _is_coroutine_function(getattr(app, '__call__', None)):
        return 'asgi3'
    return 'asgi3' if interface == 'asgi' else 'wsgi'


def asgi2_adapter(cls):
    """An ASGI 3 callable for an ASGI 2 double callable."""
    async def app(scope, receive, send):
        instance = cls(scope)
        await instance(receive, send)
    return app


def new_event_loop(choice):
    """The worker's event loop: uvloop's when it imports and choice is
    auto or uvloop (an error when uvloop was asked for and is missing),
    else asyncio's."""
    import asyncio
    if choice in ('auto', 'uvloop', '', None):
        try:
            import uvloop
        except ImportError:
            if choice == 'uvloop':
                raise ValueError('--loop uvloop: %s cannot import uvloop (pip install uvloop)' % sys.executable)
        else:
            return uvloop.new_event_loop(), 'uvloop'
    elif choice != 'asyncio':
        raise ValueError('--loop %r: expected auto, asyncio or uvloop' % choice)
    return asyncio.new_event_loop(), 'asyncio'


def serve(cfg, control, app, kind, ready, hooks):
    """Serve an ASGI application until gowsgi closes the control socket,
    then exit. Runs the lifespan startup before Ready (ready is its dict,
    to which the interface and loop are added; a failure is a boot
    failure) and its shutdown after the last request."""
    import asyncio
    if kind == 'asgi2':
        app = asgi2_adapter(app)
    try:
        loop, loop_name = new_event_loop(cfg.get('loop') or 'auto')
    except ValueError as e:
        send_frame(control, T_BOOT_FAILED, str(e).encode('utf-8', 'replace'))
        sys.exit(3)
    asyncio.set_event_loop(loop)
    # The first slot socket carries every slot (the mux); the others a
    # worker started for WSGI's shape got are closed (the front closes its
    # ends once Ready says asgi).
    nslots = cfg.get('slots') or cfg['threads']
    for fd in range(6, 5 + nslots):
        try:
            os.close(fd)
        except OSError:
            pass

    global ROOT_IN_PATH
    ROOT_IN_PATH = root_in_path()
    worker = ASGIWorker(loop, app, cfg, control, socket.socket(fileno=5), hooks)
    lifespan = Lifespan(app, cfg.get('lifespan') or 'auto', worker.state)
    try:
        lifespan.start_within(loop, control, cfg.get('startup_timeout') or 0, cfg.get('boot_t0'))
    except LifespanFailed as e:
        send_frame(control, T_BOOT_FAILED, str(e).encode('utf-8', 'replace'))
        sys.exit(3)

    ready.update(interface='asgi', loop=loop_name)
    send_frame(control, T_READY, _dumps(ready, 2))
    try:
        loop.run_until_complete(worker.serve())
        loop.run_until_complete(lifespan.shutdown(ASGI_SHUTDOWN_BOUND))
    finally:
        if hooks is not None:
            hooks.exiting()
    sys.exit(0)


# ---------------------------------------------------------------- lifespan

def startup_timeout_line(bound):
    """The last line of a startup's boot failure past the boot's bound: the
    one gowsgi logs alone when it retries a worker."""
    return ('lifespan startup did not complete within the boot time of %gs '
            '(--boot-timeout, or --timeout when longer: raise it)' % bound)


class Lifespan:
    """The lifespan protocol (asgiref's lifespan.rst) around one worker.
    mode 'off' skips it; 'auto' carries on without it when the app raises
    before its startup completes (Django does: it serves HTTP only); 'on'
    makes that a boot failure. startup.failed always is one, with the
    app's message. state is the scope's state dict, shared (copied
    shallowly) into every request's scope."""

    def __init__(self, app, mode, state):
        self.app = app
        self.mode = mode
        self.state = state
        self.task = None
        self.started = None        # future: startup answered (or the app ended)
        self.stopped = None        # future: shutdown answered (or the app ended)
        self.failed = None         # startup.failed's message
        self.error = None          # the exception the app raised
        self.startup_done = False  # startup.complete received
        self.ended = False
        self.timed_out = False     # the startup ran past its bound and was cancelled
        self.abandoned = False     # the shutdown ran past its bound and was cancelled
        self.shutdown_failed = None  # shutdown.failed's message

    async def startup(self, bound=0, total=0):
        import asyncio
        if self.mode == 'off':
            return
        loop = asyncio.get_event_loop()
        self.inbox = asyncio.Queue()
        self.started, self.stopped = loop.create_future(), loop.create_future()
        self.task = loop.create_task(self.main())
        await self.inbox.put({'type': 'lifespan.startup'})
        if bound:
            await asyncio.wait([self.started], timeout=bound)
            if not self.started.done():
                self.timed_out = True
                self.task.cancel()
                await asyncio.wait([self.task], timeout=ASGI_CANCEL_BOUND)
                if self.failed is not None:  # the app caught the cancellation and said where (Starlette does)
                    where = self.failed
                elif isinstance(self.error, BaseException):
                    where = ''.join(traceback.format_exception(type(self.error), self.error, self.error.__traceback__))
                else:
                    where = '(the application did not say)'
                raise LifespanFailed('lifespan startup did not complete within the boot time; it was cancelled here:\n%s\n%s'
                                     % (where.rstrip('\n'), startup_timeout_line(total or bound)))
        await self.started
        if self.failed is not None:
            raise LifespanFailed('lifespan startup failed: %s' % (self.failed or '(no message)'))
        if self.error is not None and self.mode == 'on':
            raise LifespanFailed('lifespan startup failed (--lifespan on): the application raised:\n%s' % ''.join(
                traceback.format_exception(type(self.error), self.error, self.error.__traceback__)))

    def start_within(self, loop, control, total, t0=None):
        """Run the startup on loop within what is left of the boot's total
        seconds (--boot-timeout, or --timeout when longer; counted from t0,
        the worker's start; 0 = no bound), ending a moment before the front
        would kill the worker: past it, a LifespanFailed that says where the
        startup waited (the app's task is cancelled, so its traceback shows
        the await that hung). A startup that blocks the event loop (time.sleep in async
        code) cannot be cancelled: a watchdog thread reports the main
        thread's stack as the boot failure a moment later and ends the
        process (uvicorn would wait forever)."""
        import asyncio
        if not total or self.mode == 'off':
            loop.run_until_complete(self.startup())
            return
        import time
        spent = time.monotonic() - t0 if t0 is not None else 0
        bound = max(total - spent - STARTUP_REPORT_MARGIN, 0.5)
        import threading
        decided = threading.Lock()  # taken by whoever answers: Ready, or the watchdog
        main = threading.get_ident()

        def watchdog():
            if not decided.acquire(blocking=False):
                return
            frame = sys._current_frames().get(main)
            where = ''.join(traceback.format_stack(frame)) if frame is not None else '(unknown)\n'
            msg = ('lifespan startup did not complete within the boot time: the event loop is blocked here '
                   '(most recent call last):\n%s%s' % (where, startup_timeout_line(total)))
            try:
                send_frame(control, T_BOOT_FAILED, msg.encode('utf-8', 'replace'))
            finally:
                os._exit(3)
        timer = threading.Timer(bound + STARTUP_BLOCKED_MARGIN, watchdog)
        timer.daemon = True
        timer.start()
        try:
            loop.run_until_complete(self.startup(bound, total))
        finally:
            timer.cancel()
        if not decided.acquire(blocking=False):
            threading.Event().wait()  # the watchdog answers and ends the process

    async def shutdown(self, bound):
        """Send lifespan.shutdown and wait for the answer, bound seconds at
        most: an app that has not answered by then has its task cancelled,
        and the log says where it waited (the cancellation's traceback).
        An app that failed (shutdown.failed, or an exception) is logged
        once, with its message."""
        import asyncio
        if self.task is None or self.ended or not self.startup_done:
            return
        await self.inbox.put({'type': 'lifespan.shutdown'})
        await asyncio.wait([self.stopped], timeout=bound)
        if self.stopped.done():
            return
        self.abandoned = True
        self.task.cancel()
        await asyncio.wait([self.task], timeout=ASGI_CANCEL_BOUND)
        if self.shutdown_failed is not None:  # the app caught the cancellation and said where (Starlette does)
            where = self.shutdown_failed
        elif isinstance(self.error, BaseException):
            where = ''.join(traceback.format_exception(type(self.error), self.error, self.error.__traceback__))
        else:
            where = '(the application did not end when cancelled)'
        log('lifespan shutdown did not complete within %gs; it was cancelled here:\n%s' % (bound, where.rstrip('\n')))

    async def main(self):
        scope = {'type': 'lifespan', 'asgi': ASGI_VERSION, 'state': self.state}
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as e:
            self.error = e
            if self.failed is not None or self.timed_out or self.abandoned or self.shutdown_failed is not None:
                pass  # startup.failed, shutdown.failed or the cancellation said why; it is reported once
            elif not self.startup_done and self.mode == 'auto':
                log("the application does not support the ASGI lifespan protocol (%s: %s); carrying on without it"
                    % (type(e).__name__, e))
            else:
                log('error in the lifespan protocol:\n%s' % ''.join(
                    traceback.format_exception(type(e), e, e.__traceback__)).rstrip())
        finally:
            self.ended = True
            for f in (self.started, self.stopped):
                if not f.done():
                    f.set_result(None)

    async def receive(self):
        return await self.inbox.get()

    async def send(self, message):
        t = message['type']
        if t == 'lifespan.startup.complete':
            self.startup_done = True
            self.started.done() or self.started.set_result(None)
        elif t == 'lifespan.startup.failed':
            self.failed = str(message.get('message', ''))
            self.started.done() or self.started.set_result(None)
        elif t == 'lifespan.shutdown.complete':
            self.stopped.done() or self.stopped.set_result(None)
        elif t == 'lifespan.shutdown.failed':
            self.shutdown_failed = str(message.get('message', ''))
            if not self.abandoned:
                log('lifespan shutdown failed: %s' % self.shutdown_failed)
            self.stopped.done() or self.stopped.set_result(None)
        else:
            raise RuntimeError('unexpected ASGI message %r in the lifespan protocol' % t)


# ---------------------------------------------------------------- the worker

class ASGIWorker:
    """The event loop's side of a worker: the data socket (Mux) and an
    ASlot per slot index the front has used, the control socket
    (heartbeats out; EOF asks for an exit), the running request tasks."""

    def __init__(self, loop, app, cfg, control, sock, hooks):
        self.loop = loop
        self.app = app
        self.control = control
        self.mux = Mux(self, sock)
        self.slots = {}  # index: ASlot, made on its first frame (new_slot)
        # Requests whose response has ended on the wire while their app
        # runs on (Starlette's BackgroundTasks run after the last body
        # message): their slot serves the next request meanwhile (ASlot.next).
        self.after = set()
        self.hooks = hooks if hooks is not None and hooks.requests else None
        self.state = {}  # the lifespan state
        self.heartbeat = cfg.get('heartbeat') or 0
        self.beat_due = None  # when the next heartbeat callback should run
        self.request_timeout = cfg.get('request_timeout') or 0
        self.scratch = memoryview(bytearray(ASGI_READ_SIZE))  # see Mux.readable
        self.ctl_buf = bytearray()
        self.stopping = None
        self.grace = ASGI_STOP_GRACE    # a GoAway frame's grace, in seconds
        self.reason = GOAWAY_SHUTDOWN  # and its reason

    async def serve(self):
        loop = self.loop
        self.stopping = loop.create_future()
        self.mux.start()
        self.control.setblocking(False)
        loop.add_reader(self.control.fileno(), self.control_readable)
        if self.heartbeat:
            self.beat()
        await self.stopping
        loop.remove_reader(self.control.fileno())
        # Requests still running get the grace, then are told "going away".
        tasks = self.running()
        if tasks:
            import asyncio
            done, pending = await asyncio.wait(tasks, timeout=self.grace)
            if pending:
                self.go_away()
                # An app waiting in receive() sees http.disconnect and may
                # end by itself; the rest get CancelledError.
                done, pending = await asyncio.wait(pending, timeout=ASGI_DISCONNECT_WAIT)
                for t in pending:
                    t.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=ASGI_CANCEL_BOUND)

    def running(self):
        """The tasks of the requests running now: a slot's request holds
        its task until it ends (no set of tasks is kept per request)."""
        tasks = {slot.req.task for slot in self.slots.values() if slot.req is not None and slot.req.task is not None}
        tasks.update(req.task for req in self.after if req.task is not None)
        return tasks

    def go_away(self):
        """Tell every request still running that the server is going away:
        its going_away(reason) (an HTTP request's receive() says
        http.disconnect; a WebSocket closes with 1001 for a shutdown, 1012
        for a restart). Their tasks are cancelled next (serve)."""
        for slot in self.slots.values():
            req = slot.req
            if req is not None:
                req.going_away(self.reason)
        for req in list(self.after):
            req.going_away(self.reason)

    def new_slot(self, index):
        slot = self.slots[index] = ASlot(self, index)
        return slot

    def beat(self):
        """Tell gowsgi the loop runs, and how late this callback ran (the
        loop's lag); again in heartbeat seconds."""
        now = self.loop.time()
        due, self.beat_due = self.beat_due, now + self.heartbeat
        lag = max(now - due, 0.0) if due is not None else 0.0
        try:
            self.control.send(_pack(4, T_HEARTBEAT, 0) + U32.pack(min(int(lag * 1e6), 0xffffffff)))
        except (BlockingIOError, InterruptedError):
            pass  # the front is slow to read: the next one will do
        except OSError:
            # The front closed the control socket. Its reader may never
            # say so: a close that leaves a heartbeat unread resets the
            # socket (an error, not an EOF), and uvloop stops watching a
            # descriptor in error without calling its reader.
            self.control_gone()
            return
        self.loop.call_later(self.heartbeat, self.beat)

    def control_readable(self):
        try:
            data = self.control.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            self.control_gone()
            return
        # Only GoAway is expected after Ready (Revoke frames, which have
        # no meaning here, are dropped).
        self.ctl_buf += data
        for ftype, fid, payload in take_frames(self.ctl_buf):
            if ftype == T_GOAWAY and len(payload) >= 4:
                self.grace = U32.unpack_from(payload)[0] / 1000.0
                self.reason = fid


    def control_gone(self):
        """The front closed the control socket: the worker stops (serve)."""
        if not self.stopping.done():
            self.stopping.set_result(None)


class Mux:
    """The worker's one data socket: every slot's frames, in M frames, and
    credit (N). One reader callback takes what the front sent for every
    slot; what the slots write in one loop turn is sent by one flush."""

    __slots__ = ('worker', 'loop', 'sock', 'fileno', 'buf', 'fds', 'out', 'scheduled', 'blocked', 'closed', 'active',
                 'parsing')

    def __init__(self, worker, sock):
        self.worker = worker
        self.loop = worker.loop
        self.sock = sock
        self.fileno = sock.fileno()
        self.buf = bytearray()  # a partial frame, waiting for the rest
        self.fds = deque()      # descriptors received, not yet taken by their frame
        self.out = []           # what to send, in order: buffers, and (frame, fd) for a frame carrying a descriptor
        self.scheduled = False  # a flush is due
        self.blocked = False    # the socket is full: the flush waits for it (add_writer)
        self.closed = False     # the front has gone: nothing more is read or sent
        self.active = 0         # requests running (ASlot.next, ASlot.done)
        self.parsing = False    # readable is acting on frames (requests may run and write meanwhile)

    def start(self):
        self.sock.setblocking(False)
        self.loop.add_reader(self.fileno, self.readable)

    def readable(self):
        """Read what the front sent into the worker's scratch buffer and act
        on its whole frames; a partial frame waits in self.buf."""
        scratch = self.worker.scratch
        try:
            n, anc, flags, _ = self.sock.recvmsg_into([scratch], MUX_ANC_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n, anc = 0, ()
        if anc:
            self.fds.extend(received_fds(anc))
        if not n:
            self.gone()
            return
        buf = self.buf
        self.parsing = True
        try:
            if buf:
                buf += scratch[:n]
                used = self.frames(memoryview(buf), len(buf))
                del buf[:used]
            else:
                used = self.frames(scratch, n)
                if used < n:
                    self.buf = bytearray(scratch[used:n])
        finally:
            self.parsing = False
            if self.out:
                self.schedule()  # credit taken meanwhile (push_credit), after the tasks it woke

    def frames(self, view, end):
        """Act on the whole frames in view[:end]; returns the bytes used.
        Every inner frame is parsed here, in stream order, so the one that
        needs a descriptor takes the head of self.fds."""
        start = 0
        slots = self.worker.slots
        while end - start >= 9:
            n, t, index = HDR.unpack_from(view, start)
            if end - start < 9 + n:
                break
            slot = slots.get(index) or self.worker.new_slot(index)
            if t == T_MUX:
                slot.frames(view, start + 9, start + 9 + n)
                if slot.queue and (slot.req is None or slot.req.wire_done):
                    slot.next()
            elif t == T_CREDIT:
                slot.credit(U32.unpack_from(view, start + 9)[0], U32.unpack_from(view, start + 13)[0] if n >= 8 else 0)
            start += 9 + n
        return start

    def push(self, index, data, size):
        """Queue data (bytes or a list of parts: whole frames of slot
        index, size bytes) in an M frame, for this loop turn's flush."""
        if self.closed:
            raise ClientGone('the front closed the data socket')
        out = self.out
        if type(data) is list:
            out.append(_pack(size, T_MUX, index))
            out.extend(data)
        elif size <= MUX_JOIN_MAX:
            if out and type(out[-1]) is bytearray:
                last = out[-1]
                last += _pack(size, T_MUX, index)
                last += data
            else:
                out.append(bytearray(_pack(size, T_MUX, index)) + data)
        else:
            out.append(_pack(size, T_MUX, index))
            out.append(data)
        self.due()

    def push_fd(self, index, frame, fd):
        """Queue frame (one whole frame of slot index) in an M frame that
        carries a dup of descriptor fd, in a sendmsg of its own."""
        if self.closed:
            raise ClientGone('the front closed the data socket')
        self.out.append((_pack(len(frame), T_MUX, index) + frame, os.dup(fd)))
        self.due()

    def push_credit(self, index, n):
        """Queue an N frame: n bytes of slot index's WebSocket messages
        taken. It goes with the next flush: the app's next send, or the
        next loop turn. One taken while readable acts on what it read is
        flushed after all the tasks that read woke (readable schedules
        it), with their sends: scheduled here, the flush would run between
        them and split their batch in two."""
        if self.closed:
            return
        frame = _CREDIT.pack(4, T_CREDIT, index, n)
        out = self.out
        if out and type(out[-1]) is bytearray:
            out[-1] += frame
        else:
            out.append(bytearray(frame))
        if not self.parsing:
            self.schedule()

    def push_wanted(self, index, rid):
        """Queue a G frame: the app of request rid on slot index asked for
        its streamed body (its first receive()); the front reads the body
        from its client from then on (and sends 100 Continue if the
        client waits for one)."""
        if self.closed:
            return
        frame = _CREDIT.pack(4, T_BODY_WANTED, index, rid)
        out = self.out
        if out and type(out[-1]) is bytearray:
            out[-1] += frame
        else:
            out.append(bytearray(frame))
        self.due()

    def due(self):
        """Have what was queued sent: by one flush at the next loop turn,
        for everything the requests running now write meanwhile; at once
        when one request runs alone, which has nothing to batch with (a
        loop turn more per round trip cost a WebSocket echo at one
        connection ~14 us of the worker's CPU, a quarter). Not while
        readable acts on what it read: with eager tasks (3.12+) each
        request of the batch may run to its end there, alone."""
        if self.active <= 1 and not self.parsing:
            self.flush()
        elif not self.scheduled:  # schedule(), inline: once a batch, checked once a response
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def schedule(self):
        """Have the next loop turn flush what is queued (once)."""
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self):
        """Send what is queued, in order: a sendmsg for the buffers up to a
        frame that carries a descriptor, which goes in one of its own. What
        the socket does not take waits for it to drain (add_writer)."""
        self.scheduled = False
        if self.blocked or self.closed:
            return
        out, sock = self.out, self.sock
        while out:
            first = out[0]
            if type(first) is tuple:
                frame, fd = first
                try:
                    n = sock.sendmsg([frame], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', fd))])
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    self.gone()
                    return
                os.close(fd)
                if n < len(frame):
                    out[0] = memoryview(frame)[n:]
                    break
                del out[0]
                continue
            parts = []
            for p in out:
                if type(p) is tuple or len(parts) == MUX_IOV:
                    break
                parts.append(p)
            try:
                n = sock.sendmsg(parts) if len(parts) > 1 else sock.send(parts[0])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.gone()
                return
            k = 0
            for p in parts:
                if n < len(p):
                    break
                n -= len(p)
                k += 1
            del out[:k]
            if k < len(parts):
                if n:
                    out[0] = memoryview(out[0])[n:]
                break
        if out:
            self.blocked = True
            self.loop.add_writer(self.fileno, self.writable)

    def writable(self):
        self.blocked = False
        self.loop.remove_writer(self.fileno)
        self.flush()

    def gone(self):
        """The front closed the data socket (it is stopping, or gave up on
        this worker): every request is gone, and every write fails."""
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.fileno)
        if self.blocked:
            self.blocked = False
            self.loop.remove_writer(self.fileno)
        for p in self.out:
            if type(p) is tuple:
                os.close(p[1])
        self.out = []
        for slot in list(self.worker.slots.values()):
            if slot.req is not None:
                slot.req.gone()
            for r in slot.queue:
                r.gone()
            slot.wake_all()


class ASlot:
    """One slot of the data socket: parses the front's frames for it and
    runs its request, one at a time; its writes go through send_now and
    send, within its credit."""

    __slots__ = ('worker', 'mux', 'index', 'req', 'queue', 'unacked', 'window', 'waiters', 'ws_taken')

    def __init__(self, worker, index):
        self.worker = worker
        self.mux = worker.mux
        self.index = index
        self.req = None       # the HTTPRequest running here
        # Lists, not deques: they hold at most a request or a writer or two,
        # and a deque costs 624 bytes empty, 1.3 MiB for 1,000 slots.
        self.queue = []       # requests sent behind it (the front does not, today)
        self.unacked = 0      # bytes sent and not yet acknowledged by the front
        self.window = MUX_FLOOR  # what may be unacknowledged: MUX_FLOOR, grown by the front
        self.waiters = []     # [future, size] of writers waiting for credit, in order
        self.ws_taken = 0     # WebSocket message cost received (or dropped) and not yet acknowledged

    def fits(self, size):
        """Whether size bytes of frames may go now: they fit what is left
        of the window, or less than a quarter of it is unacknowledged (a
        frame larger than the window goes all but alone)."""
        return self.unacked + size <= self.window or self.unacked < self.window >> 2

    def frame_body(self):
        """The most body bytes a frame after the head carries now."""
        return min(ASGI_FRAME_BODY, self.window >> 1)

    def send_now(self, data):
        """Queue data (bytes or a list of parts; whole frames) if the slot
        may send now; returns whether it did."""
        size = len(data) if type(data) is not list else sum(map(len, data))
        unacked = self.unacked
        if self.waiters or unacked + size > self.window and unacked >= self.window >> 2:  # fits(), inline
            return False
        self.mux.push(self.index, data, size)
        self.unacked += size
        return True

    def put(self, ftype, rid, head, body):
        """send_now for one frame made here (ftype, rid; its payload head
        and body), without joining it first: whether it went. Its header
        (the M frame's and its own, one struct), head and body are copied
        once into the mux's output buffer (a large one goes as parts)."""
        n = len(head) + len(body)
        unacked = self.unacked
        if self.waiters or unacked + 9 + n > self.window and unacked >= self.window >> 2:  # fits(), inline
            return False
        mux = self.mux
        if mux.closed:
            raise ClientGone('the front closed the data socket')
        out = mux.out
        hdr = _MUX_FRAME.pack(9 + n, T_MUX, self.index, n, ftype, rid)
        if n > MUX_JOIN_MAX:
            out.append(hdr)
            if head:
                out.append(head)
            out.append(body)
        elif out and type(out[-1]) is bytearray:
            last = out[-1]
            last += hdr
            last += head
            last += body
        else:
            last = bytearray(hdr)
            last += head
            last += body
            out.append(last)
        self.unacked = unacked + 9 + n
        mux.due()
        return True

    async def send(self, data):
        """send_now, waiting for credit (the front consumes the slot's bytes
        at its client's pace: the backpressure of a streamed response)."""
        if not self.send_now(data):
            size = len(data) if type(data) is not list else sum(map(len, data))
            await self.wait_credit(size)
            self.mux.push(self.index, data, size)
            self.unacked += size
            self.wake()

    async def send_fd(self, frame, fd):
        """send for one frame that carries descriptor fd."""
        if self.waiters or not self.fits(len(frame)):
            await self.wait_credit(len(frame))
        self.mux.push_fd(self.index, frame, fd)
        self.unacked += len(frame)
        self.wake()

    async def wait_credit(self, size):
        """Wait for this writer's turn among the slot's waiting writers and
        for credit for size bytes."""
        w = [self.worker.loop.create_future(), size]
        self.waiters.append(w)
        try:
            await w[0]
        except BaseException:
            self.waiters.remove(w)
            self.wake()  # its turn passes to the next
            raise
        self.waiters.remove(w)
        if self.mux.closed:
            raise ClientGone('the front closed the data socket')

    def wake(self):
        """Wake the first waiting writer when its frames may go."""
        if self.waiters:
            f, size = self.waiters[0]
            if not f.done() and (self.fits(size) or self.mux.closed):
                f.set_result(None)

    def wake_all(self):
        for f, _ in self.waiters:
            if not f.done():
                f.set_result(None)

    def credit(self, n, grow):
        """The front consumed n more of this slot's bytes, and grew its
        window by grow."""
        self.unacked -= n
        self.window += grow
        self.wake()

    def ws_took(self, n):
        """A WebSocket message of n bytes was received by the app, or
        dropped: it is acknowledged once WS_ACK_AT are due."""
        self.ws_taken += max(9 + n, WS_MIN_COST)
        if self.ws_taken >= WS_ACK_AT:
            self.mux.push_credit(self.index, self.ws_taken)
            self.ws_taken = 0

    def frames(self, view, start, end):
        """Act on the frames in view[start:end], whole ones (an M frame's
        payload)."""
        while end - start >= 9:
            n, t, rid = HDR.unpack_from(view, start)
            if t == T_REQUEST:
                fd = None
                try:
                    # An HTTP request comes as its scope's values (the
                    # front's appendScope); a WebSocket as a CGI environ.
                    environ, body = _loads(view[start + 9:start + 9 + n])
                    if body is None:
                        fd = self.mux.fds.popleft()
                except Exception as e:
                    environ, body = e, None
                ws = type(environ) is dict and 'gowsgi.websocket' in environ
                req = (WebSocketRequest if ws else HTTPRequest)(self, rid, environ, body, fd)
                if self.req is None and not self.queue:
                    self.start(req)
                else:
                    self.queue.append(req)
            elif t in WS_FRAMES_IN and type(self.req) is WebSocketRequest and self.req.rid == rid:
                self.req.frame(t, view[start + 9:start + 9 + n])  # see the WebSocket section
            elif t == T_WS_TEXT or t == T_WS_BINARY:
                self.ws_took(n)  # for a WebSocket that has ended: dropped
            elif t == T_BODY or t == T_END:
                self.body_frame(t, rid, view, start + 9, n)
            elif t == T_ABORT:
                if self.req is not None and self.req.rid == rid:
                    self.req.gone()
                for r in self.queue:
                    if r.rid == rid:
                        r.gone()  # dropped unstarted when its turn comes
            start += 9 + n

    def body_frame(self, t, rid, view, start, n):
        """A piece (B) or the end (E) of the streamed body of request rid
        (see HTTPRequest.receive). One for a request that has ended is
        dropped, and a piece acknowledged, as a WebSocket's messages are."""
        req = self.req
        if req is None or req.rid != rid:
            req = None
            for r in self.queue:
                if r.rid == rid:
                    req = r
                    break
        if type(req) is HTTPRequest and req.stream is not None:
            req.body_frame(t, view[start:start + n])
        elif t == T_BODY:
            self.ws_took(n)

    def next(self):
        old = self.req
        if old is not None:
            # Its response has ended on the wire (the front sends the next
            # request only then) and its app runs on, a background task
            # after the response: the next request does not wait for it,
            # as under uvicorn; the old one writes nothing more here.
            self.worker.after.add(old)
            self.mux.active -= 1
        self.start(self.queue.pop(0))

    def start(self, req):
        """Run req, the slot's request now."""
        self.req = req
        # Each request starts with the window at its floor and nothing
        # unacknowledged: the front read every frame of the one before
        # (and forgot what it did not acknowledge) before it sent this one.
        self.unacked, self.window = 0, MUX_FLOOR
        self.mux.active += 1
        # The task is held by self.req (see ASGIWorker.running). Where
        # asyncio has eager tasks (3.12+), the request's first step runs
        # now, in its own task and context, instead of a loop turn later:
        # a request that never waits (a hello) ends here.
        loop = self.worker.loop
        if _EAGER_TASKS:
            req.task = _Task(req.run(), loop=loop, eager_start=True)
        elif loop.get_task_factory() is None:
            req.task = _Task(req.run(), loop=loop, name=_TASK_NAME)
        else:
            req.task = loop.create_task(req.run())

    def done(self, req):
        if self.req is req:
            self.req = None
            self.mux.active -= 1
            if self.queue:
                self.next()
        else:
            self.worker.after.discard(req)


# ---------------------------------------------------------------- requests

_STATUS_LINES = {}
# Heads made before, by (status code, header pairs): HTTPRequest.send
# (remember_head).
_HEADS = {}
_HEADS_MAX = 256
_heads_on = True   # whether send looks in _HEADS (remember_head)
_heads_missed = 0  # heads made since _HEADS filled up


def remember_head(key, head):
    """Keep a head HTTPRequest.send made for key. An app whose responses
    differ (a cookie, an ETag, a length) fills _HEADS, then misses as
    often as it holds: then this worker stops looking (a key and a lookup
    per response would cost more than the hits save) and heads are made
    as before."""
    global _heads_on, _heads_missed
    if len(_HEADS) < _HEADS_MAX:
        _HEADS[key] = head
        return
    _heads_missed += 1
    if _heads_missed >= _HEADS_MAX:
        _heads_on = False
        _HEADS.clear()


def status_line(code):
    """'200 OK' for 200: the front takes WSGI's status strings."""
    s = _STATUS_LINES.get(code) if type(code) is int else None
    if s is None:
        if type(code) is not int and isinstance(code, int) and not isinstance(code, bool):
            code = int(code)  # an IntEnum: http.HTTPStatus.OK
            s = _STATUS_LINES.get(code)
            if s is not None:
                return s
        if type(code) is not int or not 100 <= code <= 999:
            raise TypeError('http.response.start status must be an int from 100 to 999, not %r' % (code,))
        import http
        try:
            reason = http.HTTPStatus(code).phrase
        except ValueError:
            reason = 'Unknown'
        s = _STATUS_LINES[code] = '%d %s' % (code, reason)
    return s


def asgi_headers(headers):
    """ASGI response headers (iterable of [name, value] byte strings) as
    the (str, str) latin-1 pairs of the wire; hop-by-hop ones are dropped
    (the front owns the connection), and the Content-Length, if any."""
    out, length = [], None
    for item in headers:
        name, value = item
        if type(name) is not bytes or type(value) is not bytes:
            if not isinstance(name, (bytes, bytearray)) or not isinstance(value, (bytes, bytearray)):
                raise TypeError('ASGI response header names and values must be bytes, not %r' % (item,))
            name, value = bytes(name), bytes(value)
        low = name.lower()
        if low in ASGI_HOP_BY_HOP:
            continue
        if low == b'content-length' and value.isdigit():
            length = int(value)
        out.append((name.decode('latin-1'), value.decode('latin-1')))
    return out, length


# Whether scope['path'] and raw_path begin with root_path (root_in_path),
# decided once the app is imported (serve).
ROOT_IN_PATH = True


def root_in_path():
    """Whether the app takes root_path as part of path, as asgiref's
    www.rst has it now (PATH_INFO is path less root_path) and uvicorn
    since 0.26; else path and raw_path stay the request-target's, as
    uvicorn before 0.26 and hypercorn give them. Frameworks written
    before that convention route on path as it comes: Starlette without
    starlette._utils.get_route_path (before 0.33; Debian's 0.26 and the
    FastAPI on it), Falcon and Channels' URLRouter; each of them 404s on
    every route behind --root-path otherwise. Frameworks that take both
    (Django, Starlette since 0.33) strip root_path when path begins with
    it, so this keeps them right too; Quart routes on path less
    root_path, so it keeps the spec's path."""
    mods = sys.modules
    if 'starlette' in mods:
        try:
            from starlette import _utils
        except Exception:
            _utils = None
        if not hasattr(_utils, 'get_route_path'):
            return False
    return not any(name in mods for name in ('falcon', 'channels'))


def prefix_root(scope):
    """Put root_path before the scope's path and raw_path (the front sends
    the request-target's), unless path begins with it already."""
    root, path = scope['root_path'], scope['path']
    if not (path.startswith(root) and path[len(root):len(root) + 1] in ('', '/')):
        scope['path'] = root + path
        scope['raw_path'] = root.encode('utf-8') + scope['raw_path']


_HTTP_VERSIONS = {'HTTP/1.1': '1.1', 'HTTP/1.0': '1.0', 'HTTP/2.0': '2', 'HTTP/2': '2'}


def _text(s):
    """A path from the environ (latin-1 "bytes as str") as the scope's
    text: its bytes decoded as UTF-8, as uvicorn's unquote does."""
    return s if s.isascii() else s.encode('latin-1').decode('utf-8', 'replace')


def http_scope(environ, state):
    """The ASGI HTTP scope of a request, from the CGI environ the front
    sent (gowsgi.headers, when present, has the raw header list), with
    gowsgi.request_id when the front gave the request an ID."""
    get = environ.get
    proto = get('SERVER_PROTOCOL', 'HTTP/1.1')
    script = get('SCRIPT_NAME', '')
    raw_uri = get('RAW_URI') or get('REQUEST_URI') or ''
    raw = get('gowsgi.headers')
    if raw is not None:
        parts = iter(raw.encode('latin-1').split(b'\0') if raw else ())
        headers = [(name.lower(), value) for name, value in zip(parts, parts)]
    else:
        headers = []
        for k, v in environ.items():
            if k.startswith('HTTP_'):
                headers.append((k[5:].replace('_', '-').lower().encode('latin-1'), v.encode('latin-1')))
            elif k in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
                headers.append((k.replace('_', '-').lower().encode('latin-1'), v.encode('latin-1')))
    client = server = None
    addr = get('REMOTE_ADDR')
    if addr:
        port = get('REMOTE_PORT')
        client = (addr, int(port) if port and port.isdigit() else 0)
    name = get('gowsgi.server_host')
    if name:
        # The listening address (front.scopeServer), not SERVER_NAME, the Host's.
        port = get('gowsgi.server_port')
        server = (_text(name), int(port) if port else None)
    tls = get('gowsgi.tls')
    scope = {
        'type': 'http',
        'asgi': ASGI_VERSION,
        'http_version': _HTTP_VERSIONS.get(proto) or proto[5:],
        'method': get('REQUEST_METHOD', 'GET'),
        'scheme': get('wsgi.url_scheme', 'http'),
        'path': _text(script + get('PATH_INFO', '')),
        'raw_path': raw_uri.partition('?')[0].encode('latin-1'),
        'query_string': get('QUERY_STRING', '').encode('latin-1'),
        'root_path': _text(script),
        'headers': headers,
        'client': client,
        'server': server,
        'state': dict(state),
        'extensions': dict(ASGI_HTTP_EXTENSIONS) if tls is None else
                      dict(ASGI_HTTP_EXTENSIONS, tls=tls_extension(tls, environ)),
    }
    rid = get('gowsgi.request_id')
    if rid:
        # The ID gowsgi answers with (X-Request-ID), as WSGI's environ has it.
        scope['gowsgi.request_id'] = rid
    return scope


def scope_of(fields, state):
    """The ASGI HTTP scope of a request from the values the front sent
    (wire.ScopeFields, in that order: front.appendScope): the keys, and
    what lives in the worker, are added here as constants, which costs
    the worker less than a dict's keys read by marshal."""
    http_version, method, scheme, path, raw_path, query_string, root_path, headers, client, server, tls, rid = fields
    scope = {'type': 'http', 'asgi': ASGI_VERSION, 'http_version': http_version, 'method': method, 'scheme': scheme,
             'path': path, 'raw_path': raw_path, 'query_string': query_string, 'root_path': root_path,
             'headers': headers, 'client': client, 'server': server, 'state': dict(state) if state else {},
             'extensions': ASGI_HTTP_EXTENSIONS.copy() if tls is None else dict(ASGI_HTTP_EXTENSIONS, tls=tls)}
    if rid is not None:
        # The ID gowsgi answers with (X-Request-ID), as WSGI's environ has it.
        scope['gowsgi.request_id'] = rid
    return scope


def tls_extension(tls, environ):
    """The scope's tls extension (asgiref's tls.rst) from what the front
    says about the connection's TLS session."""
    version, _, cipher = tls.partition(',')
    chain = environ.get('gowsgi.tls_client_chain', '')
    end = '-----END CERTIFICATE-----\n'
    return {
        'server_cert': None,
        'client_cert_chain': [c + end for c in chain.split(end) if c.strip()],
        'client_cert_name': environ.get('SSL_CLIENT_S_DN'),
        'client_cert_error': None,
        'tls_version': int(version),
        'cipher_suite': int(cipher),
    }


class HTTPRequest:
    """One HTTP request on an ASlot: the app's receive() and send(), and
    the frames they turn into."""

    # Slots, not a __dict__: a read of the data socket may start a
    # thousand requests at once, and each dict of 25 items costs ~1 KiB
    # (an ASGI worker's RSS after 1,000 requests at once: see RESULTS.md).
    __slots__ = ('slot', 'rid', 'environ', 'body', 'fd', 'pos', 'size', 'body_done', 'disconnected',
                 'disconnect_waiter', 'head', 'length', 'sent', 'head_sent', 'complete', 'wire_done', 'head_only',
                 'status', 'headers', 'going', 'task', 'timed_out', 'trailers', 'trailers_done', 'head_alone',
                 'stream', 'stream_end', 'asked')

    def __init__(self, slot, rid, environ, body, fd):
        self.slot = slot
        self.rid = rid
        self.environ = environ
        self.body = body      # bytes, or None when the body is in fd
        self.fd = fd
        self.pos = 0          # bytes of the body file given to the app
        self.size = None      # the body file's size
        self.body_done = False
        self.disconnected = False
        self.disconnect_waiter = None  # future receive() waits on
        self.head = None      # the marshalled (status, headers)
        self.length = None    # the Content-Length the app declared
        self.sent = 0         # body bytes sent
        self.head_sent = False  # the response began on the wire
        self.complete = False   # the app sent its last body message
        self.wire_done = False  # the response ended on the wire (W, E, F or X)
        self.head_only = False
        self.status = None
        self.headers = []
        self.going = False      # the worker is going away (GoAway's grace ran out)
        self.task = None        # the task running it (for --request-timeout)
        self.timed_out = False  # --request-timeout cancelled it
        self.trailers = None    # the trailer fields so far, once the start said trailers: True
        self.trailers_done = False  # the last http.response.trailers came
        self.head_alone = False  # flush_head sent the head, and no body has followed yet
        # A streamed body (the R's body was True): the pieces come in B
        # frames, then an E (see receive).
        self.stream = None      # the pieces come and not yet received, while the body streams
        self.stream_end = False  # the E came: the body is complete
        self.asked = False      # the app asked for the body (the G went)
        if body is True:
            self.body, self.stream = None, deque()

    def going_away(self, reason):
        """The worker stops and this request outlived the grace: receive()
        says http.disconnect and send() raises; the task is cancelled next.
        A request with no response yet gets 503."""
        if not self.disconnected:
            self.going = True
        self.gone()

    def gone(self):
        """The client went away (Abort), or the front closed the slot."""
        self.disconnected = True
        f = self.disconnect_waiter
        if f is not None and not f.done():
            f.set_result(None)

    async def run(self):
        w = self.slot.worker
        environ = self.environ
        hooks, hreq = w.hooks, None
        deadline = None
        try:
            if self.disconnected:
                await self.end_quietly()  # canceled before it started
                return
            if type(environ) is tuple:
                # The scope's values from the front; the scope is also what
                # request_line and cgi_environ read from now on.
                scope = self.environ = scope_of(environ, w.state)
                if ROOT_IN_PATH and scope['root_path']:
                    prefix_root(scope)
            elif isinstance(environ, Exception):
                raise environ  # the front sent what marshal cannot read
            else:
                # A CGI environ, still: the front encodes a request as the
                # pool's workers speak when it arrives (Pool.ASGI), and with
                # --interface auto a reload that turns a WSGI app into an
                # ASGI one switches that when the first new worker is ready;
                # a request encoded before then and still queued reaches a
                # new ASGI worker as an environ. (Its scope has no server.)
                scope = http_scope(environ, w.state)
            self.head_only = scope['method'] == 'HEAD'
            if w.request_timeout:
                deadline = w.loop.call_later(w.request_timeout, self.expire)
            if hooks is not None:
                environ = self.cgi_environ()
                hreq = HookRequest(environ)
                hooks.call('pre_request', hooks.worker, hreq)
            result = await w.app(scope, self.receive, self.send)
            if result is not None:
                log('the ASGI application returned %.60r for %s; it should return None' % (
                    result, self.request_line()))
            if not self.wire_done:
                if self.timed_out:
                    await self.end_timed_out()
                elif self.going:
                    await self.end_going_away()
                elif self.disconnected:
                    await self.end_quietly()
                else:
                    raise ASGIProtocolError('the ASGI application returned without %s the response' % (
                        'starting' if self.head is None else 'completing'))
        except BaseException as e:
            if self.timed_out and isinstance(e, (OSError, asyncio_cancelled())):
                await self.end_timed_out()
            elif self.going and isinstance(e, (OSError, asyncio_cancelled())):
                await self.end_going_away()
            elif self.disconnected and isinstance(e, (OSError, asyncio_cancelled())):
                await self.end_quietly()
            else:
                if not self.head_sent:
                    self.status, self.headers = '500 Internal Server Error', []  # what the client gets
                await self.fail(e)
        finally:
            if deadline is not None:
                deadline.cancel()
            if self.fd is not None:
                try:
                    os.close(self.fd)
                except OSError:
                    pass
                self.fd = None
            self.disconnected = True  # receive() now says http.disconnect (gone(), inline)
            if self.stream is not None:
                self.drop_stream()
            f = self.disconnect_waiter
            if f is not None and not f.done():
                f.set_result(None)
            self.slot.done(self)
            if hreq is not None:
                hooks.call('post_request', hooks.worker, hreq, environ, HookResponse((self.status, self.str_headers())))

    def str_headers(self):
        """The response headers as (str, str) latin-1 pairs, as gunicorn's
        post_request hook reads them; whatever the app gave, even headers
        the front refused."""
        def text(b):
            return bytes(b).decode('latin-1') if isinstance(b, (bytes, bytearray, memoryview)) else str(b)
        try:
            return [(text(item[0]), text(item[1])) for item in self.headers]
        except Exception:
            return []

    def request_line(self):
        """'GET /path?q' for log lines, from the scope or the environ."""
        d = self.environ
        if type(d) is tuple:
            d = scope_of(d, {})  # not started
        if type(d) is not dict:
            return '? ?'
        if d.get('type') != 'http':
            return request_line(d)
        query = d.get('query_string') or b''
        return '%s %s' % (d.get('method', '?'), (d.get('raw_path', b'?') + (b'?' + query if query else b'')).decode('latin-1'))

    def cgi_environ(self):
        """The CGI environ of the request, for gunicorn's pre_request and
        post_request hooks (HookRequest), which read it as WSGI has it."""
        d = self.environ
        if d.get('type') != 'http':
            return d
        root = d['root_path']
        path = d['path']
        path_info = path[len(root):] if root and path.startswith(root) else path
        query = d['query_string'].decode('latin-1')
        uri = d['raw_path'].decode('latin-1') + ('?' + query if query else '')
        env = {'REQUEST_METHOD': d['method'], 'SCRIPT_NAME': root.encode('utf-8').decode('latin-1'),
               'PATH_INFO': path_info.encode('utf-8').decode('latin-1'), 'QUERY_STRING': query,
               'REQUEST_URI': uri, 'RAW_URI': uri, 'wsgi.url_scheme': d['scheme'],
               'SERVER_PROTOCOL': 'HTTP/2.0' if d['http_version'] == '2' else 'HTTP/' + d['http_version']}
        if d.get('client'):
            env['REMOTE_ADDR'], env['REMOTE_PORT'] = d['client'][0], str(d['client'][1])
        host = next((v.decode('latin-1') for n, v in d['headers'] if n == b'host'), '')
        if host:
            # The Host's, as PEP 3333 and the front's WSGI environ have
            # them; the scope's server is the listening address.
            name, colon, port = host.rpartition(':')
            if not colon or host.endswith(']'):
                name, port = host, ''
            env['SERVER_NAME'], env['SERVER_PORT'] = name, port or ('443' if d['scheme'] in ('https', 'wss') else '80')
        elif d.get('server'):
            env['SERVER_NAME'], env['SERVER_PORT'] = d['server'][0], str(d['server'][1] or '')
        for name, value in d['headers']:
            name, value = name.decode('latin-1'), value.decode('latin-1')
            if '_' in name:
                continue
            key = name.upper().replace('-', '_')
            if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
                key = 'HTTP_' + key
            env[key] = env[key] + ',' + value if key in env else value
        return env

    async def end_quietly(self):
        """End the response on the wire after the client went away: an End
        frame, also before any head (the front's cancellation expects one
        for a request it aborted)."""
        if not self.wire_done:
            self.wire_done = True
            try:
                await self.write(_pack(0, T_END, self.rid))
            except OSError:
                pass  # the front closed the slot

    def expire(self):
        """--request-timeout ran out: cancel this request's task only."""
        if self.wire_done or self.task is None or self.task.done():
            return
        self.timed_out = True
        self.task.cancel()

    async def end_timed_out(self):
        """End a request its deadline cancelled: 504 when no head went out,
        else the client connection is aborted (the response is cut)."""
        w = self.slot.worker
        log('request cancelled after --request-timeout %gs for %s (%s)' % (
            w.request_timeout, self.request_line(),
            'answering 504' if not self.head_sent else 'aborting the connection'))
        if self.wire_done:
            return
        self.wire_done = True
        if self.head_sent:
            msg = b'request timed out (--request-timeout)'
            try:
                await self.write(_pack(len(msg), T_ERROR, self.rid) + msg)
            except OSError:
                pass
            return
        self.status, self.headers = '504 Gateway Timeout', [(b'Content-Type', b'text/plain; charset=utf-8')]
        head = _dumps((self.status, self.headers), 2)
        body = b'The application did not answer in time.\n' if not self.head_only else b''
        try:
            await self.write(_pack(len(head) + len(body), T_WHOLE, self.rid) + head + body)
        except OSError:
            pass

    async def end_going_away(self):
        """End a request the worker's stop cut short: 503 when no head went
        out, else the end of the response as it stands."""
        if self.head_sent:
            await self.end_quietly()
            return
        if self.wire_done:
            return
        self.wire_done = True
        self.status, self.headers = '503 Service Unavailable', [(b'Content-Type', b'text/plain; charset=utf-8')]
        head = _dumps((self.status, self.headers), 2)
        body = b'The server is shutting down.\n' if not self.head_only else b''
        try:
            await self.write(_pack(len(head) + len(body), T_WHOLE, self.rid) + head + body)
        except OSError:
            pass

    async def fail(self, exc):
        when = ('after the response ended' if self.wire_done else
                'after the response started; aborting the connection' if self.head_sent else 'answering 500')
        if isinstance(exc, ASGIProtocolError) and exc.__traceback__.tb_next is None:
            log('%s for %s (%s)' % (exc, self.request_line(), when))
        else:
            log('error in the ASGI application for %s (%s): %s' % (
                self.request_line(), when, app_traceback(exc).rstrip()))

        if self.wire_done:
            return
        self.wire_done = True
        msg = error_payload(exc)
        try:
            await self.write(_pack(len(msg), T_ERROR, self.rid) + msg)
        except OSError:
            pass

    # receive()

    async def receive(self):
        if not self.body_done:
            if self.stream is not None:
                return await self.next_piece()
            return self.next_body()
        if not self.disconnected and not self.wire_done:
            f = self.disconnect_waiter
            if f is None or f.done():
                f = self.disconnect_waiter = self.slot.worker.loop.create_future()
            await f
        return {'type': 'http.disconnect'}

    def next_body(self):
        if self.fd is None:
            body, self.body = self.body or b'', None
            self.body_done = True
            return {'type': 'http.request', 'body': body, 'more_body': False}
        if self.size is None:
            self.size = os.fstat(self.fd).st_size
        chunk = os.pread(self.fd, min(ASGI_BODY_CHUNK, self.size - self.pos), self.pos) if self.pos < self.size else b''
        self.pos += len(chunk)
        more = bool(chunk) and self.pos < self.size
        self.body_done = not more
        return {'type': 'http.request', 'body': chunk, 'more_body': more}

    # A streamed body (internal/wire/wire.go, "Streamed request bodies"):
    # the front sends the pieces as they come from the client, within the
    # slot's credit, and receive() hands out what has come, acknowledging
    # it (ASlot.ws_took): an app that does not receive() holds the client.
    # The first receive() tells the front that the app wants the body (G),
    # which is when a client that waits for 100 Continue gets it, as under
    # uvicorn.

    async def next_piece(self):
        if not self.asked:
            self.asked = True
            self.slot.mux.push_wanted(self.slot.index, self.rid)
        stream = self.stream
        while True:
            if self.disconnected or self.wire_done:
                # The client went (or broke a limit), or the response has
                # ended: no more of the body comes.
                self.body_done = True
                return {'type': 'http.disconnect'}
            if stream:
                break
            if self.stream_end:
                self.body_done = True
                return {'type': 'http.request', 'body': b'', 'more_body': False}
            f = self.disconnect_waiter
            if f is None or f.done():
                f = self.disconnect_waiter = self.slot.worker.loop.create_future()
            await f
        # What has come, joined up to ASGI_BODY_CHUNK (each piece is at
        # most that: the front's read buffer), each piece acknowledged as
        # the front counted it.
        took = self.slot.ws_took
        body = stream.popleft()
        took(len(body))
        if stream and len(body) + len(stream[0]) <= ASGI_BODY_CHUNK:
            parts = [body]
            size = len(body)
            while stream and size + len(stream[0]) <= ASGI_BODY_CHUNK:
                piece = stream.popleft()
                took(len(piece))
                parts.append(piece)
                size += len(piece)
            body = b''.join(parts)
        more = bool(stream) or not self.stream_end
        self.body_done = not more
        return {'type': 'http.request', 'body': body, 'more_body': more}

    def body_frame(self, t, payload):
        """A piece (B) or the end (E) of the streamed body."""
        if t == T_BODY:
            self.stream.append(bytes(payload))
        else:
            self.stream_end = True
        f = self.disconnect_waiter
        if f is not None and not f.done():
            f.set_result(None)

    def drop_stream(self):
        """The app has returned: what it did not receive of its body is
        dropped, and acknowledged; what comes later is too (ASlot.body_frame
        sees no stream)."""
        took = self.slot.ws_took
        for piece in self.stream:
            took(len(piece))
        self.stream, self.body_done = None, True

    # send()

    async def send(self, message):
        try:
            t = message['type']
        except (KeyError, TypeError, IndexError):
            raise TypeError("an ASGI message must be a dict with a 'type', not %.200r" % (message,)) from None
        if self.disconnected:
            raise ClientGone('client disconnected')
        if t == 'http.response.start':
            if self.head is not None:
                raise ASGIProtocolError("ASGI message 'http.response.start' sent a second time")
            code = message.get('status')
            headers = message.get('headers') or ()
            # A head seen before (the same status and header pairs, as an
            # endpoint's responses mostly are) was checked and marshalled
            # then: _HEADS (pairs that are lists are keyed as tuples).
            key = hit = None
            kind = type(headers)
            if _heads_on and type(code) is int and (kind is list or kind is tuple):
                try:
                    key = (code, tuple(headers) if not headers or type(headers[0]) is tuple else tuple(map(tuple, headers)))
                    hit = _HEADS.get(key)
                except TypeError:
                    key = None  # a later pair that is a list, or a value that does not hash
            if hit is not None:
                self.status, self.head, self.length = hit
                self.headers = headers
            else:
                status = _STATUS_LINES.get(code) if type(code) is int else None  # status_line's cache, without the call
                if status is None:
                    status = status_line(code)
                if status[0] == '1':
                    raise ASGIProtocolError('status %s: an informational (1xx) status cannot be a final response' % status)
                if kind is not list and kind is not tuple:
                    headers = list(headers)
                self.length = None
                try:
                    for item in headers:
                        name = item[0]
                        if len(name) == 14 and name.lower() == b'content-length':
                            value = item[1]
                            self.length = int(value) if type(value) is bytes and value.isdigit() else None
                except (TypeError, IndexError, KeyError, AttributeError):
                    # A dict, a bytes string, pairs of ints: the front would
                    # refuse them too, with a less plain reason.
                    raise TypeError('ASGI response headers must be an iterable of [name, value] pairs of bytes, '
                                    'not %.200r' % (message.get('headers'),)) from None
                if self.slot.worker.hooks is not None:
                    # A post_request hook reads the status: a head whose types
                    # the front would refuse is a 500 here too, as it is for
                    # the client.
                    asgi_headers(headers)
                self.status, self.headers = status, headers
                try:
                    # The header pairs go as they are: the front checks them
                    # (wire.DecodeASGIHead, then its response-header rule).
                    self.head = _dumps((status, headers), 2)
                except ValueError:
                    raise TypeError('ASGI response headers must be [name, value] pairs of bytes, not %.200r' % (
                        headers,)) from None
                if key is not None:
                    remember_head(key, (status, self.head, self.length))
            if message.get('trailers', False) and not self.head_only:
                # The head is a P frame's: the names the app declared follow it.
                self.trailers = []
                names = b', '.join(bytes(v) for k, v in headers if bytes(k).lower() == b'trailer')
                self.head += _U16.pack(len(names)) + names
            if self.length is None and not self.head_only:
                # A stream: its head goes alone if the app waits before its
                # first body message (flush_head).
                self.slot.worker.loop.call_soon(self.flush_head)
            return
        if t == 'http.response.body':
            if self.head is None:
                raise ASGIProtocolError("ASGI message 'http.response.body' sent before 'http.response.start'")
            if self.complete:
                raise ASGIProtocolError("ASGI message 'http.response.body' sent after the response completed")
            body = message.get('body', b'')
            if type(body) is not bytes:
                if not isinstance(body, (bytearray, memoryview)):
                    raise TypeError("http.response.body's body must be bytes, not %s" % type(body).__name__)
                body = bytes(body)
            more = bool(message.get('more_body', False))
            self.complete = not more
            if self.length is not None:
                self.sent += len(body)
                if self.sent > self.length and not self.head_only:
                    raise ASGIProtocolError('response body longer than its Content-Length (%d)' % self.length)
            if (more or self.head_sent or self.head_only or self.wire_done or self.trailers is not None
                    or len(body) > ASGI_FIRST_BODY):
                await self.send_body(body, more)
                return
            # A whole response in one message (a hello): send_body's W
            # frame, made in the mux's output without a coroutine.
            self.head_sent = self.wire_done = True
            if not self.slot.put(T_WHOLE, self.rid, self.head, body):
                await self.write_rest(_pack(len(self.head) + len(body), T_WHOLE, self.rid) + self.head + body)
            return
        if t == 'http.response.pathsend':
            if self.head is None:
                raise ASGIProtocolError("ASGI message 'http.response.pathsend' sent before 'http.response.start'")
            if self.complete or self.head_sent and not self.head_alone:
                raise ASGIProtocolError("ASGI message 'http.response.pathsend' sent after the body began")
            if self.trailers is not None:
                raise ASGIProtocolError("ASGI message 'http.response.pathsend' in a response that announced trailers")
            self.complete = True
            if self.head_sent:
                await self.send_file_body(message['path'])  # the head went alone (flush_head)
            else:
                await self.send_path(message['path'])
            return
        if t == 'http.response.trailers':
            await self.send_trailers(message)
            return
        if t == 'http.response.early_hint':
            await self.send_early_hint(message)
            return
        raise ASGIProtocolError('unexpected ASGI message %r in an HTTP connection' % (t,))

    def flush_head(self):
        """A response of no declared length whose app waited after its
        http.response.start (an SSE stream before its first event, a long
        poll): its head goes now, alone, as uvicorn sends it, so the
        client sees the response begin (EventSource's open, a streaming
        client's headers within its timeout). One whose body followed
        without a wait has already sent its head with it, in one frame."""
        if self.head_sent or self.wire_done or self.disconnected:
            return
        ftype = T_START_TRAILERS if self.trailers is not None else T_START
        if self.slot.send_now(_pack(len(self.head), ftype, self.rid) + self.head):
            self.head_sent = self.head_alone = True

    async def send_body(self, body, more):
        rid = self.rid
        self.head_alone = False
        if self.wire_done:
            return  # HEAD: the body the app still sends goes nowhere
        if self.head_only:
            if not more and not self.head_sent and self.length is None and self.status[:3] not in ('204', '304'):
                # The whole body in one message: the head says its length,
                # as the GET's would (the front counts it there).
                self.head = _dumps((self.status, list(self.headers) + [(b'content-length', b'%d' % len(body))]), 2)
            body, more = b'', False
        if not self.head_sent:
            head = self.head
            # A whole response of up to ASGI_FIRST_BODY (its one message)
            # goes in one frame; any other starts with a frame's worth.
            limit = ASGI_FIRST_BODY if not more and len(body) <= ASGI_FIRST_BODY else self.slot.frame_body()
            first = body[:limit] if len(body) > limit else body
            rest = len(body) - len(first)
            ftype = T_WHOLE if not more and not rest else T_START
            if self.trailers is not None:
                ftype = T_START_TRAILERS
            n = len(head) + len(first)
            self.head_sent = True
            if ftype == T_WHOLE:
                self.wire_done = True
            left = self.write_now(_pack(n, ftype, rid) + head + first if n < 65536 else [_pack(n, ftype, rid), head, first])
            if left is not None:
                await self.write_rest(left)
            if ftype == T_WHOLE:
                return
            body = memoryview(body)[len(first):] if rest else b''
        i, end, slot = 0, len(body), self.slot
        while i < end:  # frames of at most half the slot's window, which grows as the front takes them
            part = body[i:i + slot.frame_body()]
            i += len(part)
            await self.write([_pack(len(part), T_BODY, rid), part])
        if not more and self.trailers is None:
            self.wire_done = True
            await self.write(_pack(0, T_END, rid))

    async def send_trailers(self, message):
        """http.response.trailers: the fields gather until more_trailers is
        false, then leave in one L frame (HTTP/2 sends them in one HEADERS
        frame); the front checks them as it checks headers."""
        if self.head is None or self.trailers is None:
            if self.head is not None and self.head_only:
                return  # HEAD: no body, no trailers
            raise ASGIProtocolError("ASGI message 'http.response.trailers' sent without 'trailers': True in "
                                    "'http.response.start'")
        if self.trailers_done:
            raise ASGIProtocolError("ASGI message 'http.response.trailers' sent after the last trailers")
        if not self.complete:
            raise ASGIProtocolError("ASGI message 'http.response.trailers' sent before the body ended "
                                    "(an 'http.response.body' with more_body=False)")
        fields, _ = asgi_headers(message.get('headers') or ())
        self.trailers.extend(fields)
        if message.get('more_trailers', False):
            return
        self.trailers_done = True
        if self.wire_done:
            return
        payload = _dumps(('', self.trailers), 2)
        self.wire_done = True
        await self.write(_pack(len(payload), T_TRAILERS, self.rid) + payload)

    async def send_early_hint(self, message):
        """http.response.early_hint: a 103 (Early Hints) with a Link field
        per link, before the head; the front checks them as headers and
        sends it where the protocol allows."""
        if self.head is not None:
            raise ASGIProtocolError("ASGI message 'http.response.early_hint' sent after 'http.response.start'")
        links = message.get('links') or ()
        fields = []
        for link in links:
            if type(link) is not bytes:
                if not isinstance(link, (bytearray, memoryview)):
                    raise TypeError("http.response.early_hint's links must be bytes, not %r" % (link,))
                link = bytes(link)
            fields.append(('Link', link.decode('latin-1')))
        if not fields:
            return
        payload = _dumps(('103 Early Hints', fields), 2)
        await self.write(_pack(len(payload), T_INTERIM, self.rid) + payload)

    async def send_path(self, path):
        """http.response.pathsend: the front sends the file (sendfile(2))."""
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ValueError('http.response.pathsend: %s is not a regular file' % path)
            size = st.st_size if not self.head_only else 0
            tail = OFFSET_COUNT.pack(0, size)
            frame = _pack(len(self.head) + len(tail), T_FILE, self.rid) + self.head + tail
            self.head_sent = self.wire_done = True
            await self.slot.send_fd(frame, fd)  # the mux sends a dup of fd
        finally:
            os.close(fd)

    async def send_file_body(self, path):
        """http.response.pathsend after the head went alone (the app waited
        between its start and the pathsend): the file goes as body frames."""
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ValueError('http.response.pathsend: %s is not a regular file' % path)
            pos = 0
            while True:
                chunk = os.pread(fd, ASGI_BODY_CHUNK, pos)
                if not chunk:
                    break
                pos += len(chunk)
                await self.send_body(chunk, True)
            await self.send_body(b'', False)
        finally:
            os.close(fd)

    async def write(self, data):
        """Write frames to the slot: at once while it has credit, else
        waiting for it (the front consumes as fast as the client takes the
        response, within its buffer). data is bytes or a list of parts,
        whole frames. (WebSocketRequest borrows it: it calls the helpers by
        class.)"""
        left = HTTPRequest.write_now(self, data)
        if left is not None:
            await HTTPRequest.write_rest(self, left)

    def write_now(self, data):
        """write's first step, without a coroutine: data goes if the slot
        has credit; returns it (for write_rest) if not, or None."""
        if self.slot.send_now(data):
            return None
        return data

    async def write_rest(self, data):
        """Wait for credit, then send data (what write_now left)."""
        await self.slot.send(data)


def app_traceback(exc):
    """worker.py's app_traceback: the app's frames, not the shim's."""
    from _gowsgi_worker import app_traceback
    return app_traceback(exc)


def asyncio_cancelled():
    import asyncio
    return asyncio.CancelledError


# ---------------------------------------------------------------- WebSockets
#
# A WebSocket is a request whose environ has gowsgi.websocket: the front has
# checked the handshake and terminates the protocol (framing, pings,
# permessage-deflate, limits), so the app sees whole messages. The slot
# stays with the connection (internal/wire/wire.go, "A WebSocket"): T and D
# frames carry messages both ways, O is websocket.accept, C websocket.close,
# and an A with a code is websocket.disconnect.

T_WS_ACCEPT, T_WS_TEXT, T_WS_BINARY, T_WS_CLOSE = b'OTDC'
WS_FRAMES_IN = frozenset((T_WS_TEXT, T_WS_BINARY, T_ABORT))
# Messages the app has not received yet are bounded by the front's credit
# (WS_WINDOW, each message costing at least WS_MIN_COST: at most 16 small
# ones, or 1 MiB): the app's receive() acknowledges them (ASlot.ws_took),
# and the front stops reading a client whose app does not receive (TCP
# then holds it).
_CODE = struct.Struct('<H')


def websocket_scope(environ, state):
    """The ASGI websocket scope: the HTTP scope's fields, less method, with
    scheme ws/wss and the client's subprotocols."""
    scope = http_scope(environ, state)
    del scope['method']
    scope['type'] = 'websocket'
    root = scope['root_path']
    if root:
        # path has root_path before it (SCRIPT_NAME + PATH_INFO); raw_path
        # too, as an HTTP request's (prefix_root); or, for an app that
        # takes path as received (root_in_path), neither has it unless
        # the request-target had it.
        rb, raw = root.encode('utf-8'), scope['raw_path']
        if not (raw.startswith(rb) and raw[len(rb):len(rb) + 1] in (b'', b'/')):
            if ROOT_IN_PATH:
                scope['raw_path'] = rb + raw
            else:
                scope['path'] = scope['path'][len(root):]
    scope['scheme'] = 'wss' if scope['scheme'] == 'https' else 'ws'
    subprotocols = []
    for name, value in scope['headers']:
        if name == b'sec-websocket-protocol':
            subprotocols.extend(p.strip() for p in value.decode('latin-1').split(',') if p.strip())
    scope['subprotocols'] = subprotocols
    ext = {'websocket.http.response': {}}
    if 'tls' in scope['extensions']:
        ext['tls'] = scope['extensions']['tls']
    scope['extensions'] = ext
    return scope


class WebSocketRequest:
    """One WebSocket on an ASlot: the app's receive() and send().

    A WebSocket may be open, and quiet, for hours, a thousand of them per
    worker: it keeps little (slots, no instance dict; its queue made only
    when a message must wait for receive(); the CGI environ dropped once
    accepted, when only its request line is still needed, for log lines)."""

    __slots__ = ('slot', 'rid', 'environ', 'incoming', 'queued', 'waiter', 'connect_sent', 'state',
                 'disconnected', 'code', 'reason', 'wire_done', 'deny', 'task')

    CONNECTING, ACCEPTED, CLOSED, RESPONSE = range(4)

    def __init__(self, slot, rid, environ, body=None, fd=None):
        self.slot = slot
        self.rid = rid
        self.environ = environ
        if fd is not None:
            os.close(fd)
        self.incoming = None      # a deque of (frame type, payload) not yet received, once needed
        self.queued = 0           # their bytes
        self.waiter = None
        self.connect_sent = False
        self.state = self.CONNECTING
        self.disconnected = False
        self.code = 1006
        self.reason = ''          # the client's close reason
        self.wire_done = False
        self.deny = None          # the HTTPRequest relaying a websocket.http.response
        self.task = None          # the task running it (ASlot.next)

    def going_away(self, reason):
        """The worker stops and this WebSocket outlived the grace (the
        front closes it itself first, see front.watchOpen): the app's
        receive() says websocket.disconnect with 1001 (shutdown) or 1012
        (restart); its task is cancelled next."""
        self.gone(1001 if reason == GOAWAY_SHUTDOWN else 1012)

    def gone(self, code=1006, reason=''):
        """The connection closed (an Abort with its code), or the front
        closed the slot."""
        if not self.disconnected:
            self.disconnected, self.code, self.reason = True, code, reason
        self._wake()
        if self.deny is not None:
            self.deny.gone()

    def _wake(self):
        f = self.waiter
        if f is not None and not f.done():
            f.set_result(None)

    def frame(self, t, payload):
        """A frame of this WebSocket: a message, made here into the ASGI
        message receive() returns (payload is a view of the mux's read
        buffer: copied, or decoded, once), or an Abort."""
        if t == T_ABORT:
            payload = bytes(payload)
            if len(payload) >= 2:
                self.gone(_CODE.unpack(payload[:2])[0], payload[2:].decode('utf-8', 'replace'))
            else:
                self.gone()
            return
        n = len(payload)
        if t == T_WS_TEXT:
            # (The front passes only valid UTF-8, 1007 otherwise.)
            msg = {'type': 'websocket.receive', 'text': str(payload, 'utf-8', 'replace'), 'bytes': None}
        else:
            msg = {'type': 'websocket.receive', 'bytes': bytes(payload), 'text': None}
        f = self.waiter
        if f is not None and not self.incoming and not f.done():
            # receive() waits for this very message: handed over, not
            # queued (and acknowledged now: it is the app's).
            self.waiter = None
            f.set_result(msg)
            self.slot.ws_took(n)
            return
        if self.incoming is None:
            self.incoming = deque()
        self.incoming.append((msg, n))
        self.queued += n
        self._wake()

    def _drop_incoming(self):
        """The app has returned: the messages it did not receive are
        dropped, and acknowledged."""
        took = self.slot.ws_took
        while self.incoming:
            took(self.incoming.popleft()[1])
        self.incoming, self.queued = None, 0

    async def receive(self):
        if not self.connect_sent:
            self.connect_sent = True
            return {'type': 'websocket.connect'}
        while not self.incoming:
            if self.disconnected:
                return {'type': 'websocket.disconnect', 'code': self.code, 'reason': self.reason}
            self.waiter = f = self.slot.worker.loop.create_future()
            msg = await f  # a message from frame(), or None: look again
            if msg is not None:
                return msg
        msg, n = self.incoming.popleft()
        self.queued -= n
        if not self.incoming:
            self.incoming = None  # a quiet WebSocket keeps no queue
        self.slot.ws_took(n)
        return msg

    async def send(self, message):
        try:
            t = message['type']
        except (KeyError, TypeError, IndexError):
            raise TypeError("an ASGI message must be a dict with a 'type', not %.200r" % (message,)) from None
        if t == 'websocket.accept':
            if self.state != self.CONNECTING:
                raise ASGIProtocolError("ASGI message 'websocket.accept' after the handshake was answered")
            if self.disconnected:
                raise ClientGone('client disconnected')
            sub = message.get('subprotocol') or ''
            if type(sub) is not str:
                # (Sent on as it is, a bytes one broke the wire: the worker was replaced.)
                raise TypeError("websocket.accept's subprotocol must be a str, not %s" % type(sub).__name__)
            headers = []
            for item in message.get('headers') or ():
                try:
                    k, v = item
                    headers.append((k.decode('latin-1'), v.decode('latin-1')))
                except (TypeError, ValueError, AttributeError):
                    raise TypeError('websocket.accept headers must be [name, value] pairs of bytes, not %.200r' % (
                        item,)) from None
            head = _dumps((sub, headers), 2)
            self.state = self.ACCEPTED
            # No websocket.http.response from now on: of the environ, only
            # the request line is still needed (log lines).
            env = self.environ
            self.environ = {'REQUEST_METHOD': env.get('REQUEST_METHOD', '?'), 'REQUEST_URI': env.get('REQUEST_URI', '?')}
            await self.write(_pack(len(head), T_WS_ACCEPT, self.rid) + head)
            return
        if t == 'websocket.send':
            if self.state != self.ACCEPTED:
                raise ASGIProtocolError("ASGI message 'websocket.send' %s" % (
                    'before websocket.accept' if self.state == self.CONNECTING else 'after the WebSocket closed'))
            if self.disconnected:
                raise ClientGone('client disconnected')
            text = message.get('text')
            if text is not None:
                try:
                    data, ftype = text.encode('utf-8'), T_WS_TEXT
                except AttributeError:
                    raise TypeError("websocket.send's text must be a str, not %s" % type(text).__name__) from None
            else:
                data, ftype = message.get('bytes'), T_WS_BINARY
                if type(data) is not bytes:
                    if data is None:
                        raise ASGIProtocolError("ASGI message 'websocket.send' has neither 'text' nor 'bytes'")
                    if not isinstance(data, (bytes, bytearray, memoryview)):
                        # (bytes() of a str raises, of an int makes zeros.)
                        raise TypeError("websocket.send's bytes must be bytes, not %s" % type(data).__name__)
                    data = bytes(data)
            # Queued at once while the slot has credit (no coroutine for
            # write), a small message copied once into the mux's output.
            if not self.slot.put(ftype, self.rid, b'', data):
                await self.slot.send([_pack(len(data), ftype, self.rid), data])
            return
        if t == 'websocket.close':
            if self.state in (self.CONNECTING, self.ACCEPTED):
                code, reason = message.get('code') or 1000, message.get('reason') or ''
                if type(code) is not int or not 1000 <= code <= 4999:
                    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
                        raise ValueError('websocket.close code must be an int from 1000 to 4999, not %.60r' % (code,))
                    code = int(code)  # an IntEnum
                try:
                    reason = reason.encode('utf-8')
                except AttributeError:
                    raise TypeError("websocket.close's reason must be a str, not %s" % type(reason).__name__) from None
                refused = self.state == self.CONNECTING
                self.state = self.CLOSED
                payload = _CODE.pack(code) + reason
                await self.write(_pack(len(payload), T_WS_CLOSE, self.rid) + payload)
                if refused:
                    # The handshake is answered 403: no connection, so
                    # receive() says websocket.disconnect (1006) at once,
                    # as uvicorn's does, instead of waiting for ever.
                    self.gone(1006)
            return
        if t == 'websocket.http.response.start':
            if self.state != self.CONNECTING:
                raise ASGIProtocolError("ASGI message 'websocket.http.response.start' after the handshake was answered")
            self.state = self.RESPONSE
            self.deny = HTTPRequest(self.slot, self.rid, self.environ, b'', None)
            await self.deny.send(dict(message, type='http.response.start'))
            return
        if t == 'websocket.http.response.body':
            if self.deny is None:
                raise ASGIProtocolError("ASGI message 'websocket.http.response.body' before its start")
            await self.deny.send(dict(message, type='http.response.body'))
            self.wire_done = self.deny.wire_done
            if self.wire_done:
                self.gone(1006)  # the response ended the exchange: as a close before accept
            return
        raise ASGIProtocolError('unexpected ASGI message %r in a WebSocket' % (t,))

    write = HTTPRequest.write

    async def run(self):
        w = self.slot.worker
        try:
            if not self.disconnected:
                if isinstance(self.environ, Exception):
                    raise self.environ
                # (Not kept in a local: the environ goes once accepted.)
                result = await w.app(websocket_scope(self.environ, w.state), self.receive, self.send)
                if result is not None:
                    log('the ASGI application returned %.60r for %s; it should return None' % (
                        result, request_line(self.environ)))
                if self.state == self.CONNECTING:
                    # Returning without an answer is the app's fault: 500
                    # (uvicorn and hypercorn answer so); a refusal is a
                    # websocket.close, which is a 403. After the client
                    # left, the handshake still needs its answer (the
                    # front waits for one): a close.
                    if not self.disconnected:
                        raise ASGIProtocolError('the ASGI application returned without accepting or closing the WebSocket')
                    await self.send({'type': 'websocket.close', 'code': 1000})
                if self.state == self.RESPONSE and not self.wire_done:
                    raise ASGIProtocolError('the ASGI application returned without completing its websocket.http.response')
            await self.end(T_END, b'')
        except BaseException as e:
            if isinstance(e, (OSError, asyncio_cancelled())) and self.disconnected:
                await self.end(T_END, b'')
            else:
                environ = self.environ
                log('error in the ASGI application for the WebSocket %s: %s' % (
                    request_line(environ if isinstance(environ, dict) else {}), app_traceback(e).rstrip()))
                try:
                    text = '%s: %s' % (type(e).__name__, e)
                except BaseException:
                    text = type(e).__name__
                await self.end(T_ERROR, text.encode('utf-8', 'replace'))
        finally:
            self.gone()
            self._drop_incoming()
            self.slot.done(self)

    async def end(self, ftype, payload):
        """The last frame: E once the app returned, X when it failed."""
        if self.deny is not None and self.deny.wire_done and ftype == T_END:
            return  # the denial response ended the exchange (W or E)
        if self.wire_done and ftype == T_END:
            return
        self.wire_done = True
        try:
            await self.write(_pack(len(payload), ftype, self.rid) + payload)
        except OSError:
            pass  # the front closed the slot
