"""A FastAPI/Starlette app as real projects write one (Debian's
python3-fastapi, python3-starlette, python3-multipart), for the tests that
drive it with real clients under gowsgi and under uvicorn and compare what
each sees: multipart uploads (UploadFile and Form), urlencoded forms,
BackgroundTasks, dependencies with cleanup, server-sent events, files
(FileResponse, StaticFiles), GZip, CORS, TrustedHost and HTTPS-redirect
middleware, cookies, redirects, url_for under a root path, and errors.

Effects that happen after the response (background tasks, a generator's
cleanup, a stream cut by the client) leave marker files in
$PROBE_STATE_DIR, so a test waits for them instead of sleeping."""
import asyncio
import hashlib
import json
import os
import time

from fastapi import BackgroundTasks, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile, WebSocket
from fastapi.responses import (FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse,
                               StreamingResponse)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')
FILES = os.environ.get('REALAPP_FILES') or STATE_DIR


def mark(name, text=''):
    """Writes a marker file atomically (a reader never sees half of it)."""
    if not STATE_DIR:
        return
    tmp = os.path.join(STATE_DIR, name + '.tmp')
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, os.path.join(STATE_DIR, name))


def exists(name):
    return bool(STATE_DIR) and os.path.exists(os.path.join(STATE_DIR, name))


app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=['https://ui.example'], allow_methods=['GET', 'POST', 'PUT'],
                   allow_headers=['x-token', 'content-type'], allow_credentials=True, expose_headers=['x-served'])


@app.post('/upload')
async def upload(files: list[UploadFile] = File(...), note: str = Form(...)):
    out = []
    for f in files:
        h = hashlib.sha256()
        n = 0
        while True:
            chunk = await f.read(65536)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        out.append({'filename': f.filename, 'content_type': f.content_type, 'size': n, 'sha256': h.hexdigest()})
    return {'note': note, 'files': out}


@app.post('/form')
async def form(name: str = Form(...), tags: list[str] = Form([])):
    return {'name': name, 'tags': tags}


@app.post('/raw-sha')
async def raw_sha(request: Request):
    """The body's length and digest, read chunk by chunk as it streams."""
    h = hashlib.sha256()
    n = 0
    chunks = 0
    async for chunk in request.stream():
        h.update(chunk)
        n += len(chunk)
        chunks += 1
    return {'size': n, 'sha256': h.hexdigest(), 'content_length': request.headers.get('content-length'),
            'transfer_encoding': request.headers.get('transfer-encoding')}


def slow_task(name: str):
    # A sync task: Starlette runs it in its thread pool after the response.
    time.sleep(0.2)
    mark(name + '.sync-done')


async def async_task(name: str):
    # Waits until the test has seen the response: the response must not
    # wait for the background task.
    for _ in range(1000):
        if exists(name + '.go'):
            break
        await asyncio.sleep(0.01)
    mark(name + '.async-done')


@app.post('/bg')
async def bg(background_tasks: BackgroundTasks, name: str = 'bg'):
    background_tasks.add_task(async_task, name)
    background_tasks.add_task(slow_task, name)
    return {'queued': name}


async def db_session(request: Request):
    name = request.query_params.get('name', 'dep')
    mark(name + '.opened')
    try:
        yield {'session': name}
    finally:
        mark(name + '.closed')


@app.get('/dep')
async def dep(session: dict = Depends(db_session)):
    return session


@app.get('/sse')
async def sse(request: Request, name: str = 'sse', n: int = 0):
    """Server-sent events; n=0 is endless. A cut stream leaves name.closed."""
    async def events():
        i = 0
        try:
            yield 'retry: 1000\n\n'
            while n == 0 or i < n:
                yield 'id: %d\nevent: tick\ndata: {"i": %d}\n\n' % (i, i)
                i += 1
                await asyncio.sleep(0.02)
            yield 'event: end\ndata: bye\n\n'
        except asyncio.CancelledError:
            mark(name + '.cancelled')
            raise
        finally:
            mark(name + '.closed', str(i))
    return StreamingResponse(events(), media_type='text/event-stream',
                             headers={'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'})


@app.get('/sse-idle')
async def sse_idle(name: str = 'idle'):
    """An SSE stream with nothing to say yet: its first event waits for
    name.go (a chat before anyone speaks)."""
    async def events():
        mark(name + '.waiting')
        for _ in range(2000):
            if exists(name + '.go'):
                break
            await asyncio.sleep(0.01)
        yield 'data: first\n\n'
    return StreamingResponse(events(), media_type='text/event-stream')


@app.get('/sse-disconnect')
async def sse_disconnect(request: Request, name: str = 'ssed'):
    """An SSE loop that polls request.is_disconnected(), as sse-starlette
    users write it."""
    async def events():
        i = 0
        while True:
            if await request.is_disconnected():
                mark(name + '.disconnected', str(i))
                return
            yield 'data: %d\n\n' % i
            i += 1
            await asyncio.sleep(0.02)
    return StreamingResponse(events(), media_type='text/event-stream')


@app.get('/longpoll')
async def longpoll(request: Request, name: str = 'lp'):
    """A long poll that asks request.is_disconnected() until the client
    goes (or 10 s pass), as long-poll and sse-starlette users write it."""
    mark(name + '.entered')
    for _ in range(500):
        if await request.is_disconnected():
            mark(name + '.disconnected')
            return PlainTextResponse('gone')
        await asyncio.sleep(0.02)
    return PlainTextResponse('nobody left')


@app.post('/longpoll')
async def longpoll_post(request: Request, name: str = 'lp'):
    return await longpoll(request, name)


@app.get('/flood')
async def flood(size: int = 64 << 20, name: str = 'flood'):
    """size bytes streamed in 64 KiB chunks as fast as the server takes
    them; name.progress says how many it took so far (each MiB)."""
    async def chunks():
        chunk = b'f' * 65536
        n = 0
        while n < size:
            yield chunk
            n += len(chunk)
            if n % (1 << 20) == 0:
                mark(name + '.progress', str(n))
        mark(name + '.done', str(n))
    return StreamingResponse(chunks(), media_type='application/octet-stream')


@app.get('/gzstream')
async def gzstream():
    async def lines():
        for i in range(200):
            yield ('line %04d %s\n' % (i, 'x' * 50)).encode()
            await asyncio.sleep(0)
    return StreamingResponse(lines(), media_type='text/plain')


@app.get('/big')
async def big():
    return PlainTextResponse('y' * 100000)


@app.get('/file/{name}')
async def file(name: str, download: int = 0):
    path = os.path.join(FILES, name)
    if not os.path.isfile(path):
        raise HTTPException(404, 'no such file')
    if download:
        return FileResponse(path, filename='report ' + name)
    return FileResponse(path)


@app.get('/cookies')
async def cookies():
    r = JSONResponse({'ok': True})
    r.set_cookie('a', '1', httponly=True)
    r.set_cookie('b', '2', max_age=60, samesite='strict')
    return r


@app.get('/redirect')
async def redirect():
    return RedirectResponse('/target?x=1')


@app.get('/items/{item_id}', name='item')
async def item(request: Request, item_id: int):
    return {'url': str(request.url), 'base_url': str(request.base_url),
            'url_for': str(request.url_for('item', item_id=item_id)),
            'root_path': request.scope.get('root_path'), 'scheme': request.url.scheme,
            'client_host': request.client.host if request.client else None,
            'host': request.headers.get('host')}


@app.get('/boom')
async def boom():
    raise RuntimeError('boom')


@app.get('/teapot')
async def teapot():
    raise HTTPException(418, 'short and stout', headers={'X-Pot': 'tea'})


@app.get('/html', response_class=HTMLResponse)
async def html():
    return '<!doctype html><title>t</title><p>caf\u00e9</p>'


@app.put('/echo-headers')
async def echo_headers(request: Request):
    body = await request.body()
    return {'headers': [[k, v] for k, v in request.headers.items() if k not in ('host', 'user-agent')],
            'body': body.decode('latin-1'), 'method': request.method}


@app.get('/sse-page', response_class=HTMLResponse)
async def sse_page(n: int = 3, name: str = 'page'):
    """A page whose EventSource reads /sse and reports what it got to /report."""
    return '''<!doctype html><title>sse</title><script>
var got = [];
var es = new EventSource('sse?n=%d&name=%s');
es.addEventListener('tick', function (e) { got.push(JSON.parse(e.data).i); });
es.addEventListener('end', function (e) {
  es.close();
  fetch('report?name=%s', {method: 'POST', body: JSON.stringify({got: got, last: e.data})});
});
</script>''' % (n, name, name)


@app.post('/report')
async def report(request: Request, name: str = 'page'):
    mark(name + '.report', (await request.body()).decode())
    return {'ok': True}


@app.websocket('/ws')
async def ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_json({'path': websocket.scope['path'], 'root_path': websocket.scope.get('root_path'),
                               'url': str(websocket.url), 'url_for': str(websocket.url_for('ws'))})
    async for text in websocket.iter_text():
        await websocket.send_text('echo ' + text)


async def secure_home(request):
    return PlainTextResponse('secure ' + request.url.scheme)


async def trusted_home(request):
    return PlainTextResponse('trusted ' + request.headers.get('host', ''))


async def late_pathsend(scope, receive, send):
    """A raw ASGI endpoint that starts its response, waits (a stat in a
    thread, say), then sends a file by http.response.pathsend where the
    server offers it, else as its body."""
    path = os.path.join(FILES, 'hello.txt')
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await asyncio.sleep(0.05)
    if 'http.response.pathsend' in (scope.get('extensions') or {}):
        await send({'type': 'http.response.pathsend', 'path': path})
    else:
        with open(path, 'rb') as f:
            await send({'type': 'http.response.body', 'body': f.read()})


secure = Starlette(routes=[Route('/', secure_home)], middleware=[Middleware(HTTPSRedirectMiddleware)])
trusted = Starlette(routes=[Route('/', trusted_home)],
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=['good.example', '*.good.example'])])
async def gz_stream(request):
    return await gzstream()


async def gz_big(request):
    return await big()


gz = Starlette(routes=[Route('/stream', gz_stream), Route('/big', gz_big)],
               middleware=[Middleware(GZipMiddleware, minimum_size=500)])

app.mount('/secure', secure)
app.mount('/late-pathsend', late_pathsend)
app.mount('/trusted', trusted)
app.mount('/gz', gz)
if FILES and os.path.isdir(FILES):
    app.mount('/static', StaticFiles(directory=FILES), name='static')


@app.on_event('startup')
async def startup():
    mark('realapp.startup', str(os.getpid()))


@app.on_event('shutdown')
async def shutdown():
    mark('realapp.shutdown', str(os.getpid()))
