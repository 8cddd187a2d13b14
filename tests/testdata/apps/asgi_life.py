"""A Starlette app with a lifespan context manager, for gowsgi's lifecycle
tests (tests/asgi_life_test.go): long-lived requests of every kind (an
SSE stream, a long poll, a WebSocket, an upload read slowly) that are
alive when the server is signalled, recycled, reloaded or scaled down.

Marker files go to $PROBE_STATE_DIR, each written whole (see mark):
  imported.PID                     a worker PID imported the app
  startup.PID, shutdown.PID        the lifespan ran in worker PID
  NAME.entered                     the request NAME runs (its worker's PID)
  NAME.disconnect                  its receive() said http.disconnect
  NAME.cancelled                   its task got CancelledError
  NAME.ws-disconnect               a WebSocket's receive() said
                                   websocket.disconnect (the code inside)

Environment knobs (LIFE_*): STARTUP=hang|block|raise makes the lifespan
startup wait forever, block the event loop, or raise (a startup.how file
in $PROBE_STATE_DIR says the same for the workers started after it is
written); SHUTDOWN=hang|block|raise the same for its shutdown.
"""
import asyncio
import contextlib
import os
import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name, text=''):
    """Leave a marker file, whole when it appears (written, then renamed)."""
    if STATE_DIR:
        tmp = os.path.join(STATE_DIR, '.%s.%d.tmp' % (name, os.getpid()))
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, os.path.join(STATE_DIR, name))


def pid():
    return str(os.getpid())


mark('imported.' + pid(), pid())


@contextlib.asynccontextmanager
async def lifespan(app):
    how = os.environ.get('LIFE_STARTUP', '')
    if STATE_DIR and os.path.exists(os.path.join(STATE_DIR, 'startup.how')):
        with open(os.path.join(STATE_DIR, 'startup.how')) as f:
            how = f.read().strip()  # set by the test between generations
    if how == 'hang':
        mark('startup-hangs.' + pid(), pid())
        await asyncio.Event().wait()
    elif how == 'block':
        mark('startup-blocks.' + pid(), pid())
        time.sleep(3600)
    elif how == 'raise':
        raise RuntimeError('cannot reach the database at db:5432')
    mark('startup.' + pid(), pid())
    if os.environ.get('LIFE_NO_STATE'):  # for servers without lifespan state (uvicorn 0.17), to compare with
        yield
    else:
        yield {'greeting': 'hello from the lifespan of ' + pid()}
    mark('shutdown-begins.' + pid(), pid())
    how = os.environ.get('LIFE_SHUTDOWN', '')
    if how == 'hang':
        await asyncio.Event().wait()
    elif how == 'block':
        time.sleep(3600)
    elif how == 'raise':
        raise RuntimeError('could not flush the queue')
    mark('shutdown.' + pid(), pid())


async def state(request):
    return PlainTextResponse(request.state.greeting)


async def whoami(request):
    return PlainTextResponse(pid())


async def sse(request):
    """An endless event stream; NAME.disconnect / NAME.cancelled say how it
    ended."""
    name = request.query_params['name']

    async def events():
        mark(name + '.entered', pid())
        i = 0
        try:
            while True:
                yield 'data: tick %d\n\n' % i
                i += 1
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            mark(name + '.cancelled', pid())
            raise
    return StreamingResponse(events(), media_type='text/event-stream', headers={'x-pid': pid()})


async def longpoll(request):
    """Never answers by itself: waits for the disconnect, then until
    cancelled."""
    name = request.query_params['name']
    mark(name + '.entered', pid())
    try:
        while True:
            msg = await request.receive()
            if msg['type'] == 'http.disconnect':
                mark(name + '.disconnect', pid())
                await asyncio.sleep(3600)
    except asyncio.CancelledError:
        mark(name + '.cancelled', pid())
        raise


async def hold(request):
    """Answers once the test writes NAME.release: a request in flight that
    finishes by itself."""
    name = request.query_params['name']
    mark(name + '.entered', pid())
    while not os.path.exists(os.path.join(STATE_DIR, name + '.release')):
        await asyncio.sleep(0.01)
    return PlainTextResponse('released by ' + pid())


async def upload(request):
    """Reads the body as it comes; answers its length."""
    name = request.query_params.get('name', 'upload')
    n = 0
    async for chunk in request.stream():
        if n == 0 and chunk:
            mark(name + '.entered', pid())
        n += len(chunk)
    return PlainTextResponse('%d bytes by %s' % (n, pid()))


HOARD = []


async def grow(request):
    """Holds on to MiB more memory: --max-memory recycles the worker."""
    HOARD.append(bytearray(int(request.query_params['mib']) << 20))
    return PlainTextResponse('%d MiB held by %s' % (sum(len(b) for b in HOARD) >> 20, pid()))


async def block(request):
    """Blocks the event loop (time.sleep in async code)."""
    mark('block.entered', pid())
    time.sleep(float(request.query_params.get('secs', '3600')))
    return PlainTextResponse('unblocked')


async def crash(request):
    """The worker process dies in the middle of this request."""
    mark('crash.entered', pid())
    os._exit(7)


async def ws(websocket):
    name = websocket.query_params['name']
    await websocket.accept()
    if websocket.query_params.get('greet'):
        await websocket.send_text(websocket.state.greeting)  # the lifespan state, in a WebSocket's scope
    mark(name + '.entered', pid())
    try:
        while True:
            msg = await websocket.receive_text()
            await websocket.send_text('echo ' + msg)
    except WebSocketDisconnect as e:
        mark(name + '.ws-disconnect', str(e.code))


app = Starlette(lifespan=lifespan, routes=[
    Route('/state', state),
    Route('/pid', whoami),
    Route('/sse', sse),
    Route('/longpoll', longpoll),
    Route('/hold', hold),
    Route('/upload', upload, methods=['POST']),
    Route('/grow', grow),
    Route('/block', block),
    Route('/crash', crash),
    WebSocketRoute('/ws', ws),
])
