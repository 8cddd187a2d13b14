"""WebSocket routes for gowsgi's tests (Debian's python3-starlette and
python3-fastapi): a Starlette echo, a FastAPI route, a close before accept
(403), an app-initiated close, an app that never receives, one that sends
64 MiB to a client that may not read (/spew), a denial with an HTTP response of its own
(websocket.http.response), the scope, a route that waits for the
disconnect and records its code in $PROBE_STATE_DIR, and an HTML page whose
JavaScript echoes through /echo and posts what it saw to /browser-result
(recorded as the file browser-result)."""
import asyncio
import json
import os

from fastapi import FastAPI, WebSocket as FastAPIWebSocket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name, text=''):
    if STATE_DIR:
        tmp = os.path.join(STATE_DIR, '.' + name)
        with open(tmp, 'w') as f:
            f.write(text)
        os.rename(tmp, os.path.join(STATE_DIR, name))


async def echo(ws: WebSocket):
    await ws.accept(subprotocol=ws.scope['subprotocols'][0] if ws.scope['subprotocols'] else None)
    try:
        while True:
            msg = await ws.receive()
            if msg['type'] == 'websocket.disconnect':
                mark('echo-disconnect', str(msg.get('code')))
                return
            if msg.get('text') is not None:
                await ws.send_text(msg['text'])
            else:
                await ws.send_bytes(msg['bytes'])
    except WebSocketDisconnect as e:
        mark('echo-disconnect', str(e.code))


async def deny(ws: WebSocket):
    await ws.close(code=1008)


async def server_close(ws: WebSocket):
    await ws.accept()
    await ws.send_text('bye')
    await ws.close(code=4001, reason='done here')


async def scope(ws: WebSocket):
    await ws.accept()
    s = ws.scope
    await ws.send_text(json.dumps({
        'type': s['type'], 'scheme': s['scheme'], 'path': s['path'], 'query_string': s['query_string'].decode(),
        'subprotocols': s['subprotocols'], 'http_version': s['http_version'], 'client': list(s['client']),
        'headers': [[k.decode(), v.decode()] for k, v in s['headers']], 'extensions': sorted(s['extensions']),
        'has_method': 'method' in s,
    }))
    await ws.close()


async def wait(ws: WebSocket):
    await ws.accept()
    mark('wait-accepted')
    msg = await ws.receive()
    mark('wait-disconnect', str(msg.get('code')))


async def hold(ws: WebSocket):
    await ws.accept()
    mark('hold-accepted')
    await asyncio.sleep(3600)  # never receives: a flood must be held by the server


SPEW_MESSAGES, SPEW_SIZE = 1024, 64 << 10  # 64 MiB: far past any buffer on the way


async def spew(ws: WebSocket):
    """Sends SPEW_MESSAGES messages as fast as send() returns. A send() that
    has waited a second (the server holds it: its client reads nothing) is
    marked spew-waited, with the number already sent, while it waits;
    spew-done when all went."""
    await ws.accept()
    loop = asyncio.get_running_loop()
    payload = b'x' * SPEW_SIZE
    sending = [None, 0]  # since when the current send() waits, and its number

    async def watch():
        while True:
            await asyncio.sleep(0.1)
            if sending[0] is not None and loop.time() - sending[0] >= 1.0:
                mark('spew-waited', str(sending[1]))
                return

    watcher = asyncio.ensure_future(watch())
    for i in range(SPEW_MESSAGES):
        sending[:] = [loop.time(), i]
        await ws.send_bytes(payload)
    sending[0] = None
    watcher.cancel()
    mark('spew-done')
    await ws.close()


async def boom(ws: WebSocket):
    raise RuntimeError('boom before accept')


async def raw_deny(scope, receive, send):
    assert scope['type'] == 'websocket'
    msg = await receive()
    assert msg['type'] == 'websocket.connect'
    await send({'type': 'websocket.http.response.start', 'status': 401,
                'headers': [(b'content-type', b'text/plain'), (b'www-authenticate', b'Bearer')]})
    await send({'type': 'websocket.http.response.body', 'body': b'no token', 'more_body': False})


BROWSER_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>echo</title></head><body>
<pre id="out">waiting</pre>
<script>
const out = document.getElementById('out');
const big = 'x'.repeat(100000);
const seen = [];
function report(text) {
  out.textContent = text;
  fetch('/browser-result', {method: 'POST', body: text});
}
const ws = new WebSocket('ws://' + location.host + '/echo', ['chat']);
ws.onopen = () => { ws.send('from the browser \u2713'); ws.send(big); };
ws.onmessage = (e) => {
  seen.push(e.data === big ? 'big:' + e.data.length : e.data);
  if (seen.length === 2) {
    ws.close(1000, 'bye');
    report('protocol=' + ws.protocol + ' extensions=' + ws.extensions + ' seen=' + seen.join('|'));
  }
};
ws.onerror = () => report('error');
</script></body></html>
"""


async def browser_page(request: Request):
    return HTMLResponse(BROWSER_PAGE)


async def browser_result(request: Request):
    mark('browser-result', (await request.body()).decode())
    return PlainTextResponse('ok')


STALLED = 0


async def stall(scope, receive, send):
    """Takes the connect event and never accepts (a handshake flood's
    target); 'stalled' holds how many wait here, kept as they come and go."""
    global STALLED
    assert (await receive())['type'] == 'websocket.connect'
    STALLED += 1
    mark('stalled', str(STALLED))
    try:
        await receive()  # websocket.disconnect, when the client leaves
    finally:
        STALLED -= 1
        mark('stalled', str(STALLED))


api = FastAPI()


@api.websocket('/ws/{name}')
async def fastapi_ws(websocket: FastAPIWebSocket, name: str):
    await websocket.accept()
    while True:
        try:
            text = await websocket.receive_text()
        except WebSocketDisconnect:
            return
        await websocket.send_json({'name': name, 'got': text})


app = Starlette(routes=[
    WebSocketRoute('/echo', echo),
    WebSocketRoute('/deny', deny),
    WebSocketRoute('/close', server_close),
    WebSocketRoute('/scope', scope),
    WebSocketRoute('/wait', wait),
    WebSocketRoute('/hold', hold),
    WebSocketRoute('/spew', spew),
    WebSocketRoute('/boom', boom),
    Route('/browser', browser_page),
    Route('/browser-result', browser_result, methods=['POST']),
    Mount('/raw', app=raw_deny),
    Mount('/stall', app=stall),
    Mount('/api', app=api),
])
