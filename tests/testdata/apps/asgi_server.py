"""An ASGI app that answers with its scope's server, client and scheme,
over HTTP and, once accepted, as a WebSocket's first message
(TestASGIScopeServer)."""
import json


def facts(scope):
    return json.dumps({'type': scope['type'], 'server': scope.get('server'),
                       'client': scope.get('client'), 'scheme': scope['scheme']})


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            msg = await receive()
            await send({'type': msg['type'] + '.complete'})
            if msg['type'] == 'lifespan.shutdown':
                return
    if scope['type'] == 'websocket':
        await receive()  # websocket.connect
        await send({'type': 'websocket.accept'})
        await send({'type': 'websocket.send', 'text': facts(scope)})
        await receive()  # the client's close
        return
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/json')]})
    await send({'type': 'http.response.body', 'body': facts(scope).encode()})
