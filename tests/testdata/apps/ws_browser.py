"""What a browser's WebSocket meets, for gowsgi's tests (a raw ASGI app,
stdlib only). GET / is a page whose JavaScript runs the cases one after
the other and posts what it saw to /result (recorded as the file
browser-result in $PROBE_STATE_DIR, as JSON):

    /sub          picks 'v2.chat' from the subprotocols offered, tells the
                  page what the handshake offered, then echoes; records the
                  close it gets as sub-disconnect ("code reason")
    /close?c&r    the server closes with code c and reason r
    /raise        the app raises after accept (the server closes with 1011)
    /deny         the app closes before accept (403: the handshake fails)
"""
import json
import os
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name, text=''):
    if STATE_DIR:
        tmp = os.path.join(STATE_DIR, '.' + name)
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.rename(tmp, os.path.join(STATE_DIR, name))


PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>ws cases</title></head><body>
<pre id="out">running</pre>
<script>
const base = 'ws://' + location.host;
const r = {};
function report() {
  document.getElementById('out').textContent = JSON.stringify(r);
  fetch('/result', {method: 'POST', body: JSON.stringify(r)});
}
function open(path, protocols) {
  return new Promise((resolve) => {
    const ws = new WebSocket(base + path, protocols);
    ws.binaryType = 'arraybuffer';
    ws.queue = [];
    ws.waiting = null;
    ws.onmessage = (e) => { if (ws.waiting) { const w = ws.waiting; ws.waiting = null; w(e.data); } else ws.queue.push(e.data); };
    ws.closedAt = new Promise((done) => { ws.onclose = (e) => done([e.code, e.reason, e.wasClean]); });
    ws.onopen = () => resolve(ws);
    ws.closedAt.then(() => resolve(ws));
  });
}
function next(ws) {
  if (ws.queue.length) return Promise.resolve(ws.queue.shift());
  return new Promise((resolve) => { ws.waiting = resolve; });
}
function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
async function run() {
  let ws = await open('/sub', ['x-unknown', 'chat', 'v2.chat']);
  r.protocol = ws.protocol;
  r.extensions = ws.extensions;
  r.handshake = JSON.parse(await next(ws));
  // 4 MiB of binary, half of it random (it compresses, but not to nothing).
  const big = new Uint8Array(4 << 20);
  let x = 12345;
  for (let i = 0; i < big.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    big[i] = i % 2 ? (x >>> 24) : (i >> 10) & 0xff;
  }
  ws.send(big);
  r.bigBinary = equal(new Uint8Array(await next(ws)), big);
  const text = 'κόσμε ✓ '.repeat(100000);
  ws.send(text);
  r.bigText = (await next(ws)) === text;
  // The server pings every second and fails a peer that has not answered
  // within a second: the browser answers, and the connection lives on.
  await new Promise((done) => setTimeout(done, 3500));
  ws.send('still here');
  r.afterPings = await next(ws);
  ws.close(4000, 'bye ✓');
  r.clientClose = await ws.closedAt;
  for (const [name, path] of [['close1000', '/close?c=1000&r=done'], ['close4001', '/close?c=4001&r=custom+%E2%9C%93'],
                              ['raise', '/raise'], ['deny', '/deny']]) {
    ws = await open(path);
    r[name] = (await ws.closedAt).concat([ws.protocol]);
  }
  report();
}
run().catch((e) => { r.error = String(e); report(); });
</script></body></html>
"""


async def http(scope, receive, send):
    body = b''
    while True:
        msg = await receive()
        body += msg.get('body', b'')
        if not msg.get('more_body'):
            break
    if scope['path'] == '/result':
        mark('browser-result', body.decode())
        out, ctype = b'ok', b'text/plain'
    else:
        out, ctype = PAGE.encode(), b'text/html; charset=utf-8'
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', ctype)]})
    await send({'type': 'http.response.body', 'body': out})


async def websocket(scope, receive, send):
    assert (await receive())['type'] == 'websocket.connect'
    path = scope['path']
    if path == '/deny':
        await send({'type': 'websocket.close', 'code': 1008})
        return
    if path == '/sub':
        offered = scope['subprotocols']
        await send({'type': 'websocket.accept', 'subprotocol': 'v2.chat' if 'v2.chat' in offered else None})
        headers = {k.decode().lower(): v.decode() for k, v in scope['headers']}
        await send({'type': 'websocket.send', 'text': json.dumps({
            'subprotocols': offered, 'extensions': headers.get('sec-websocket-extensions', '')})})
        while True:
            msg = await receive()
            if msg['type'] == 'websocket.disconnect':
                mark('sub-disconnect', '%s %s' % (msg.get('code'), msg.get('reason', '')))
                return
            if msg.get('text') is not None:
                await send({'type': 'websocket.send', 'text': msg['text']})
            else:
                await send({'type': 'websocket.send', 'bytes': msg['bytes']})
    await send({'type': 'websocket.accept'})
    if path == '/close':
        q = parse_qs(scope['query_string'].decode())
        await send({'type': 'websocket.close', 'code': int(q['c'][0]), 'reason': q['r'][0]})
        return
    if path == '/raise':
        raise RuntimeError('the app fails after accept')


async def app(scope, receive, send):
    if scope['type'] == 'http':
        await http(scope, receive, send)
    elif scope['type'] == 'websocket':
        await websocket(scope, receive, send)
    elif scope['type'] == 'lifespan':
        while True:
            msg = await receive()
            if msg['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif msg['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
