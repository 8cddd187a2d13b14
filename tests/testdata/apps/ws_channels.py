"""A Django Channels chat (Debian's python3-channels) with the in-memory
channel layer, for gowsgi's WebSocket tests: every message a client sends
goes to every client in the room (one worker: the layer is per process).
Over HTTP it serves /browser, a page whose JavaScript joins the room,
answers "hi from b" with "hello from browser" and posts the messages it
saw to /browser-result; /mark/NAME and /browser-result write files in
$PROBE_STATE_DIR."""
import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY='gowsgi-test',
    ALLOWED_HOSTS=['*'],
    INSTALLED_APPS=['channels'],
    CHANNEL_LAYERS={'default': {'BACKEND': 'channels.layers.InMemoryChannelLayer'}},
    ROOT_URLCONF=__name__,
)
django.setup()

import json  # noqa: E402

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

urlpatterns = []


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room = 'chat_' + self.scope['url_route']['kwargs']['room']
        await self.channel_layer.group_add(self.room, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.room, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(self.room, {'type': 'chat.message', 'text': text_data})

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({'message': event['text']}))


STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')

BROWSER_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>chat</title></head><body>
<ul id="log"></ul>
<script>
const seen = [];
const ws = new WebSocket('ws://' + location.host + '/chat/lobby/');
ws.onopen = () => fetch('/mark/browser-joined', {method: 'POST'});
ws.onmessage = (e) => {
  const text = JSON.parse(e.data).message;
  seen.push(text);
  const li = document.createElement('li');
  li.textContent = text;
  document.getElementById('log').appendChild(li);
  if (text === 'hi from b') ws.send('hello from browser');
  if (text === 'hello from browser') fetch('/browser-result', {method: 'POST', body: seen.join('|')});
};
ws.onerror = () => fetch('/browser-result', {method: 'POST', body: 'error'});
</script></body></html>
"""


def mark(name, data):
    tmp = os.path.join(STATE_DIR, '.' + name)
    with open(tmp, 'wb') as f:
        f.write(data)
    os.rename(tmp, os.path.join(STATE_DIR, name))


async def http_app(scope, receive, send):
    body = b''
    while True:
        msg = await receive()
        body += msg.get('body', b'')
        if not msg.get('more_body'):
            break
    path, status, ctype, out = scope['path'], 200, b'text/plain', b'ok'
    if path == '/browser':
        ctype, out = b'text/html; charset=utf-8', BROWSER_PAGE
    elif path == '/browser-result' and STATE_DIR:
        mark('browser-result', body)
    elif path.startswith('/mark/') and STATE_DIR:
        mark(path[len('/mark/'):], b'')
    else:
        status, out = 404, b'not found'
    await send({'type': 'http.response.start', 'status': status, 'headers': [(b'content-type', ctype)]})
    await send({'type': 'http.response.body', 'body': out})


application = ProtocolTypeRouter({
    'http': http_app,
    'websocket': URLRouter([path('chat/<str:room>/', ChatConsumer.as_asgi())]),
})
