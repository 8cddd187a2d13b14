"""Real WebSocket clients for gowsgi's tests: Debian's python3-websockets
(asyncio) and python3-websocket (websocket-client). Each command prints
one JSON object with what the client saw.

    ws_client.py websockets URL       echo text, bytes, a large and a compressed message
    ws_client.py websocket-client URL echo with websocket-client, a ping
    ws_client.py many URL N           N concurrent echo connections
    ws_client.py fastapi URL          the FastAPI route
    ws_client.py chat URL             two clients in a chat room, each message to both
    ws_client.py chat-browser URL     the same with a browser in the room that answers b
    ws_client.py close URL            the server closes: its code and reason
    ws_client.py status URL           the handshake's HTTP status when refused
    ws_client.py scope URL [CAFILE]   the scope the app saw (wss:// trusting CAFILE)
    ws_client.py broadcast URL N      N members of a room each say one thing; all hear all
    ws_client.py windows URL          permessage-deflate in small windows, each way: the
                                      server's messages inflated by zlib in the window offered
"""
import asyncio
import json
import sys

import websocket as wsclient
import websockets


async def echo_websockets(url):
    out = {}
    async with websockets.connect(url, subprotocols=['chat', 'other'], max_size=None) as ws:
        out['subprotocol'] = ws.subprotocol
        out['extensions'] = [type(e).__name__ for e in ws.extensions]
        await ws.send('hello ✓')
        out['text'] = await ws.recv()
        await ws.send(b'\x00\x01\xff')
        out['bytes'] = list(await ws.recv())
        big = 'x' * (1 << 20)
        await ws.send(big)
        out['big_ok'] = (await ws.recv()) == big
        pong = await ws.ping(b'p')
        await asyncio.wait_for(pong, 5)
        out['pong'] = True
    out['close_code'] = ws.close_code
    return out


def echo_websocket_client(url):
    ws = wsclient.create_connection(url, timeout=10)
    ws.send('from websocket-client')
    out = {'text': ws.recv()}
    ws.send_binary(b'\x01\x02')
    out['bytes'] = list(ws.recv())
    ws.ping('x')
    op, data = ws.recv_data_frame(control_frame=True)[0], None
    out['pong_opcode'] = op
    ws.close()
    return out


async def many(url, n):
    async def one(i):
        async with websockets.connect(url) as ws:
            for j in range(5):
                msg = 'c%d-m%d' % (i, j)
                await ws.send(msg)
                if await ws.recv() != msg:
                    return False
        return True
    results = await asyncio.gather(*(one(i) for i in range(n)))
    return {'ok': sum(results), 'n': n}


async def chat(url):
    async with websockets.connect(url) as a, websockets.connect(url) as b:
        await a.send('hello from a')
        got_a, got_b = json.loads(await a.recv()), json.loads(await b.recv())
        await b.send('hi from b')
        got_a2, got_b2 = json.loads(await a.recv()), json.loads(await b.recv())
        return {'a': [got_a['message'], got_a2['message']], 'b': [got_b['message'], got_b2['message']]}


async def chat_browser(url):
    """Two clients in a room where a browser waits: a and b each say
    something, the browser answers b, and every party sees all three."""
    async with websockets.connect(url) as a, websockets.connect(url) as b:
        async def recv(ws):
            return json.loads(await asyncio.wait_for(ws.recv(), 30))['message']
        await a.send('hello from a')
        got_a, got_b = [await recv(a)], [await recv(b)]
        await b.send('hi from b')
        got_a.append(await recv(a))
        got_b.append(await recv(b))
        got_a.append(await recv(a))
        got_b.append(await recv(b))
        return {'a': got_a, 'b': got_b}


async def fastapi(url):
    async with websockets.connect(url) as ws:
        await ws.send('hi')
        return json.loads(await ws.recv())


async def close(url):
    async with websockets.connect(url) as ws:
        first = await ws.recv()
        try:
            await ws.recv()
        except websockets.ConnectionClosed as e:
            return {'first': first, 'code': e.code, 'reason': e.reason}
    return {'first': first, 'code': None}


async def status(url):
    try:
        async with websockets.connect(url):
            return {'status': 101}
    except websockets.InvalidStatusCode as e:
        return {'status': e.status_code, 'headers': dict(e.headers) if hasattr(e, 'headers') else {}}


async def scope(url, cafile=None):
    ctx = None
    if cafile:
        import ssl
        ctx = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(url, subprotocols=['a', 'b'], extra_headers={'X-Custom': 'yes'}, ssl=ctx) as ws:
        return json.loads(await ws.recv())


class WindowedInflater:
    """zlib's decompressobj, made to hold the window: inflating into a
    large output buffer, zlib reads match distances from that buffer and
    lets one past the window go; in 64-byte pieces, it must keep the
    history in its own window of 2**bits bytes, and fails a distance past
    it ('invalid distance too far back')."""

    def __init__(self, wbits):
        import zlib
        self.d = zlib.decompressobj(wbits=wbits)
        self.unconsumed_tail = b''

    def decompress(self, data, max_length=0):
        out = []
        while True:
            chunk = self.d.decompress(data, 64)
            out.append(chunk)
            data = self.d.unconsumed_tail
            if not data and not chunk:
                return b''.join(out)


async def windows(url):
    """For each window (bits), offers server_max_window_bits and
    client_max_window_bits of it, and echoes 10 messages that each repeat a
    random block of 5000 letters: a compressor with a larger window than
    2**bits would match the repeat 5000 bytes back, which the client's
    WindowedInflater fails."""
    import random
    import types
    import zlib
    from websockets.extensions import permessage_deflate
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    strict = types.SimpleNamespace(**{k: getattr(zlib, k) for k in dir(zlib) if not k.startswith('__')})
    strict.decompressobj = lambda wbits: WindowedInflater(wbits)
    permessage_deflate.zlib = strict
    rnd = random.Random(18)
    out = {}
    for bits in (8, 9, 12, 15):
        client_bits = max(bits, 9)  # zlib compresses in no window under 512 bytes
        factory = ClientPerMessageDeflateFactory(server_max_window_bits=bits, client_max_window_bits=client_bits)
        try:
            async with websockets.connect(url, extensions=[factory], max_size=None, compression=None) as ws:
                params = [str(e) for e in ws.extensions]
                ok = 0
                for i in range(10):
                    block = ''.join(rnd.choice('abcdefghijklmnopqrstuvwxyzκόσμε') for _ in range(5000))
                    msg = block + block
                    await ws.send(msg)
                    ok += (await ws.recv()) == msg
            out[str(bits)] = {'extensions': params, 'echoed': ok}
        except Exception as e:  # a zlib error on a distance past the window
            out[str(bits)] = {'error': repr(e)}
    return out


async def broadcast(url, n):
    """N clients join (each waits for its welcome: it is in the room), then
    each sends one message; every client must receive all N."""
    clients = []
    for i in range(n):
        ws = await websockets.connect(url, max_queue=None)
        assert await asyncio.wait_for(ws.recv(), 30) == 'welcome'
        clients.append(ws)

    async def member(i, ws):
        await ws.send('from %d' % i)
        got = set()
        while len(got) < n:
            got.add(await asyncio.wait_for(ws.recv(), 60))
        return got == {'from %d' % j for j in range(n)}

    results = await asyncio.gather(*(member(i, ws) for i, ws in enumerate(clients)))
    for ws in clients:
        await ws.close()
    return {'ok': sum(results), 'n': n}


def main():
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == 'websockets':
        out = asyncio.run(echo_websockets(url))
    elif cmd == 'websocket-client':
        out = echo_websocket_client(url)
    elif cmd == 'many':
        out = asyncio.run(many(url, int(sys.argv[3])))
    elif cmd == 'broadcast':
        out = asyncio.run(broadcast(url, int(sys.argv[3])))
    elif cmd == 'chat':
        out = asyncio.run(chat(url))
    elif cmd == 'chat-browser':
        out = asyncio.run(chat_browser(url))
    elif cmd == 'fastapi':
        out = asyncio.run(fastapi(url))
    elif cmd == 'close':
        out = asyncio.run(close(url))
    elif cmd == 'status':
        out = asyncio.run(status(url))
    elif cmd == 'windows':
        out = asyncio.run(windows(url))
    elif cmd == 'scope':
        out = asyncio.run(scope(url, *sys.argv[3:]))
    else:
        raise SystemExit('unknown command ' + cmd)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
