"""An ASGI 3 application, standard library only (Python 3.8+), for the
cases of uvicorn's and hypercorn's own test suites (tests/asgi_peer_test.go,
tests/ws_peer_test.go): each path is one behaviour they pin, or one thing
a careless application does.

HTTP paths answer by their name; WebSocket paths (/ws/...) likewise.
Marker files go to $PROBE_STATE_DIR (NAME written whole, by a rename).
"""
import asyncio
import json
import os
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name, text=''):
    if STATE_DIR:
        path = os.path.join(STATE_DIR, name)
        with open(path + '.tmp', 'w') as f:
            f.write(text)
        os.replace(path + '.tmp', path)


def query(scope):
    return {k: v[0] for k, v in parse_qs(scope['query_string'].decode('latin-1')).items()}


async def respond(send, status, body, headers=()):
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'text/plain')] + list(headers)})
    await send({'type': 'http.response.body', 'body': body})


async def lifespan(scope, receive, send):
    mode = os.environ.get('PEER_LIFESPAN', '')
    msg = await receive()
    assert msg['type'] == 'lifespan.startup'
    mark('lifespan-scope', json.dumps({k: v for k, v in scope.items()}))
    if mode == 'fail-raise':
        # uvicorn's test_lifespan_with_failed_startup (raise_exception=True):
        # the failure is reported, then the app re-raises.
        await send({'type': 'lifespan.startup.failed', 'message': 'the lifespan event failed'})
        raise RuntimeError('re-raised after startup.failed')
    if mode == 'raise':
        # test_lifespan_on_with_error: an app that raises on startup.
        raise RuntimeError('startup blew up')
    scope['state']['counter'] = [1]
    scope['state']['name'] = 'peer'
    await send({'type': 'lifespan.startup.complete'})
    msg = await receive()
    assert msg['type'] == 'lifespan.shutdown'
    mark('lifespan-shutdown')
    if mode == 'shutdown-fail-raise':
        await send({'type': 'lifespan.shutdown.failed', 'message': 'the shutdown event failed'})
        raise RuntimeError('re-raised after shutdown.failed')
    await send({'type': 'lifespan.shutdown.complete'})


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        return await lifespan(scope, receive, send)
    if scope['type'] == 'websocket':
        return await websocket(scope, receive, send)
    path = scope['path']
    root = scope.get('root_path', '')
    if root and path.startswith(root):
        path = path[len(root):]  # the route, below the mount point
    q = query(scope)

    if path == '/hello':
        return await respond(send, 200, b'Hello, world')

    if path == '/header-value':
        # test_header_value_allowed_characters: tab, space, non-ASCII bytes.
        v = q.get('v', 'c').encode('utf-8')
        return await respond(send, 200, b'Hello, world', [(b'key', b'<' + v + b'>')])

    if path == '/empty':
        # test_keepalive: a 204 (or 304) with or without a body message.
        status = int(q.get('status', '204'))
        headers = [(b'content-length', q['length'].encode())] if 'length' in q else []
        await send({'type': 'http.response.start', 'status': status, 'headers': headers})
        await send({'type': 'http.response.body', 'body': q.get('body', '').encode()})
        return

    if path == '/conn-close':
        # test_close: the app asks for the connection to close.
        await send({'type': 'http.response.start', 'status': 204, 'headers': [(b'connection', b'close')]})
        await send({'type': 'http.response.body', 'body': b''})
        return

    if path == '/chunked':
        # test_chunked_encoding: the app sets Transfer-Encoding itself.
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'transfer-encoding', b'chunked')]})
        await send({'type': 'http.response.body', 'body': b'Hello, world!'})
        return

    if path == '/undersized':
        # test_undersized_request: fewer bytes than the Content-Length.
        stream = q.get('stream')
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-length', b'10')]})
        await send({'type': 'http.response.body', 'body': b'xxx', 'more_body': bool(stream)})
        if stream:
            await send({'type': 'http.response.body', 'body': b''})
        return

    if path == '/oversized':
        # test_oversized_request, streamed: the excess comes after the head.
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-length', b'10')]})
        await send({'type': 'http.response.body', 'body': b'xxx', 'more_body': True})
        try:
            await send({'type': 'http.response.body', 'body': b'x' * 57})
        except RuntimeError as e:
            mark('oversized.raised', str(e))
            raise
        return

    if path == '/missing-start':
        # test_missing_start_message.
        await send({'type': 'http.response.body', 'body': b''})
        return

    if path == '/echo':
        body = b''
        while True:
            msg = await receive()
            assert msg['type'] == 'http.request', msg
            body += msg.get('body', b'')
            if not msg.get('more_body'):
                break
        return await respond(send, 200, b'Body: ' + body)

    if path == '/version':
        return await respond(send, 200, ('Version: %s' % scope['http_version']).encode())

    if path.endswith('/paths'):
        body = json.dumps({'root_path': scope.get('root_path', ''), 'path': scope['path'],
                           'raw_path': scope['raw_path'].decode('latin-1')}).encode()
        return await respond(send, 200, body)

    if path == '/state':
        # test_lifespan_state: each request gets a shallow copy of the state.
        st = scope['state']
        body = json.dumps({'name': st.get('name'), 'counter': st.get('counter')}).encode()
        st['name'] = 'changed'       # not seen by the next request
        st.get('counter', []).append(2)  # seen: the value is shared
        return await respond(send, 200, body)

    if path == '/body-str':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': 'text, not bytes'})
        return

    if path == '/status':
        # A status of the wrong type or out of range.
        raw = q['s']
        import http
        status = {'str': '200', 'float': 200.0, 'none': None, 'bool': True,
                  'enum': http.HTTPStatus.NON_AUTHORITATIVE_INFORMATION, 'enum-ok': http.HTTPStatus.OK}.get(raw)
        if status is None and raw != 'none':
            status = int(raw)
        await send({'type': 'http.response.start', 'status': status, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'odd status'})
        return

    if path == '/no-status':
        await send({'type': 'http.response.start', 'headers': []})
        await send({'type': 'http.response.body', 'body': b'no status'})
        return

    if path == '/bad-message':
        kind = q['kind']
        msg = {'no-type': {'status': 200}, 'not-dict': [('type', 'http.response.start')],
               'unknown': {'type': 'http.response.bogus'}, 'ws-type': {'type': 'websocket.accept'}}[kind]
        await send(msg)
        await respond(send, 200, b'after a bad message')
        return

    if path == '/headers-type':
        kind = q['kind']
        headers = {'dict': {b'x-a': b'1'}, 'str-list': 'x-a: 1', 'none-value': [(b'x-a', None)],
                   'bytes': b'x-a'}[kind]
        await send({'type': 'http.response.start', 'status': 200, 'headers': headers})
        await send({'type': 'http.response.body', 'body': b'headers'})
        return

    if path == '/no-read':
        # Never reads the body; answers and returns.
        return await respond(send, 200, b'did not read')

    if path == '/receive-after-body':
        # Reads the body, then calls receive() again before answering: it
        # must wait (for the disconnect), not return at once in a loop.
        name = q.get('name', 'rab')
        msg = await receive()
        while msg.get('more_body'):
            msg = await receive()
        try:
            msg = await asyncio.wait_for(receive(), float(q.get('wait', '0.3')))
            mark(name, msg['type'])
            return
        except asyncio.TimeoutError:
            mark(name, 'waited')
        return await respond(send, 200, b'receive waited')

    if path == '/receive-after-disconnect':
        # receive() after an http.disconnect says it again, at once.
        name = q.get('name', 'rad')
        msg = await receive()
        while msg.get('more_body'):
            msg = await receive()
        mark(name + '.entered')
        msg = await receive()
        assert msg['type'] == 'http.disconnect', msg
        again = await asyncio.wait_for(receive(), 5)
        mark(name, again['type'])
        return

    await respond(send, 404, b'not found: ' + path.encode())


async def websocket(scope, receive, send):
    path = scope['path']
    root = scope.get('root_path', '')
    if root and path.startswith(root):
        path = path[len(root):]
    q = query(scope)
    name = q.get('name', path.strip('/').replace('/', '-'))

    if path == '/ws/scope':
        msg = await receive()
        assert msg['type'] == 'websocket.connect'
        await send({'type': 'websocket.accept', 'headers': [(b'extra', b'header')]})
        body = json.dumps({
            'path': scope['path'], 'raw_path': scope['raw_path'].decode('latin-1'),
            'headers': [[k.decode('latin-1'), v.decode('latin-1')] for k, v in scope['headers']],
            'state': scope.get('state', {}).get('name'), 'subprotocols': scope['subprotocols'],
            'asgi': scope['asgi'], 'root_path': scope.get('root_path'),
        })
        await send({'type': 'websocket.send', 'text': body})
        await receive()
        return

    if path == '/ws/echo':
        await receive()
        await send({'type': 'websocket.accept', 'subprotocol': q.get('sub')})
        while True:
            msg = await receive()
            if msg['type'] == 'websocket.disconnect':
                mark(name + '.disconnect', '%s %s' % (msg['code'], msg.get('reason')))
                return
            if msg.get('text') is not None:
                await send({'type': 'websocket.send', 'text': msg['text']})
            else:
                await send({'type': 'websocket.send', 'bytes': msg['bytes']})

    if path == '/ws/close':
        # test_app_close: the app closes with code and reason (or none).
        await receive()
        await send({'type': 'websocket.accept'})
        msg = {'type': 'websocket.close'}
        if 'code' in q:
            msg['code'] = int(q['code'])
        if 'reason' in q:
            msg['reason'] = q['reason']
        if 'bad' in q:
            msg.update({'reason-bytes': {'reason': b'bytes'}, 'code-str': {'code': '1000'},
                        'code-big': {'code': 70000}}[q['bad']])
        try:
            await send(msg)
        except Exception as e:
            mark(name + '.raised', '%s: %s' % (type(e).__name__, e))
            raise
        return

    if path == '/ws/send-after-close':
        # test_send_after_protocol_close.
        await receive()
        await send({'type': 'websocket.accept'})
        await send({'type': 'websocket.send', 'text': '123'})
        await send({'type': 'websocket.close'})
        try:
            await send({'type': 'websocket.send', 'text': '123'})
            mark(name, 'no error')
        except Exception as e:
            mark(name, '%s %s' % (type(e).__name__, isinstance(e, OSError)))
        return

    if path == '/ws/reject':
        # test_server_reject_connection: close before accept (403), then
        # receive() says websocket.disconnect.
        await receive()
        await send({'type': 'websocket.close'})
        msg = await asyncio.wait_for(receive(), 10)
        mark(name, '%s %s' % (msg['type'], msg.get('code')))
        return

    if path == '/ws/missing-handshake':
        return  # test_missing_handshake

    if path == '/ws/send-before-accept':
        await send({'type': 'websocket.send', 'text': '123'})
        return

    if path == '/ws/double-accept':
        await send({'type': 'websocket.accept'})
        await send({'type': 'websocket.accept'})
        return

    if path == '/ws/return-value':
        await send({'type': 'websocket.accept'})
        return 123

    if path == '/ws/bad-send':
        # A careless app: text as bytes, bytes as str, both, neither.
        await receive()
        await send({'type': 'websocket.accept'})
        kind = q['kind']
        msg = {'text-bytes': {'text': b'abc'}, 'bytes-str': {'bytes': 'abc'},
               'neither': {}, 'text-int': {'text': 5}}[kind]
        msg['type'] = 'websocket.send'
        await send(msg)
        return

    if path == '/ws/bad-accept':
        await receive()
        kind = q['kind']
        msg = {'headers-str': {'headers': [('x-a', 'b')]}, 'sub-bytes': {'subprotocol': b'chat'},
               'headers-crlf': {'headers': [(b'x-a', b'b\r\nx-b: c')]},
               'headers-dict': {'headers': {b'x-a': b'b'}}}[kind]
        msg['type'] = 'websocket.accept'
        await send(msg)
        await send({'type': 'websocket.send', 'text': 'accepted'})
        await receive()
        return

    if path == '/ws/lost-before-accept':
        # test_connection_lost_before_handshake_complete.
        msg = await receive()
        assert msg['type'] == 'websocket.connect'
        mark(name + '.entered')
        msg = await asyncio.wait_for(receive(), 10)
        mark(name, '%s %s' % (msg['type'], msg.get('code')))
        return

    if path == '/ws/buffered':
        # test_server_can_read_messages_in_buffer_after_close: the app
        # reads only once the client has sent its messages and closed.
        await receive()
        await send({'type': 'websocket.accept'})
        while not os.path.exists(os.path.join(STATE_DIR, name + '.go')):
            await asyncio.sleep(0.01)
        got = []
        while True:
            msg = await asyncio.wait_for(receive(), 10)
            if msg['type'] == 'websocket.disconnect':
                mark(name, json.dumps({'frames': got, 'code': msg['code'], 'reason': msg.get('reason')}))
                return
            got.append(msg['bytes'].decode() if msg.get('bytes') is not None else msg['text'])

    if path == '/ws/send-lost':
        # test_client_connection_lost_on_send: send() after the client
        # left raises an OSError.
        await receive()
        await send({'type': 'websocket.accept'})
        mark(name + '.accepted')
        while not os.path.exists(os.path.join(STATE_DIR, name + '.go')):
            await asyncio.sleep(0.01)
        try:
            for _ in range(100):
                await send({'type': 'websocket.send', 'text': '123'})
                await asyncio.sleep(0.01)
            mark(name, 'no error')
        except OSError as e:
            mark(name, 'OSError ' + type(e).__name__)
        except Exception as e:
            mark(name, 'other ' + type(e).__name__)
        return

    if path == '/ws/deny':
        # websocket.http.response variants.
        await receive()
        kind = q['kind']
        if kind == 'simple':
            await send({'type': 'websocket.http.response.start', 'status': 400,
                        'headers': [(b'content-type', b'text/plain')]})
            await send({'type': 'websocket.http.response.body', 'body': b'goodbye'})
        elif kind == 'multi':
            await send({'type': 'websocket.http.response.start', 'status': 400,
                        'headers': [(b'Content-Length', b'20'), (b'Content-Type', b'text/plain')]})
            await send({'type': 'websocket.http.response.body', 'body': b'x' * 10, 'more_body': True})
            await send({'type': 'websocket.http.response.body', 'body': b'y' * 10})
        elif kind == 'invalid-status':
            # uvicorn's test returns after the start: a 500 either way.
            await send({'type': 'websocket.http.response.start', 'status': 1700,
                        'headers': [(b'Content-Length', b'0'), (b'Content-Type', b'text/plain')]})
            return
        elif kind == 'nolength':
            await send({'type': 'websocket.http.response.start', 'status': 403, 'headers': []})
            await send({'type': 'websocket.http.response.body', 'body': b'hardbody'})
        elif kind == 'double-start':
            start = {'type': 'websocket.http.response.start', 'status': 404,
                     'headers': [(b'Content-Length', b'0'), (b'Content-Type', b'text/plain')]}
            await send(start)
            try:
                await send(start)
            except Exception as e:
                mark(name, str(e))
                raise
        msg = await asyncio.wait_for(receive(), 10)
        mark(name + '.after', '%s %s' % (msg['type'], msg.get('code')))
        return

    await send({'type': 'websocket.close', 'code': 4404})
