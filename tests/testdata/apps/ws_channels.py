"""A Django Channels chat (Debian's python3-channels) with the in-memory
channel layer, for gowsgi's WebSocket tests: every message a client sends
goes to every client in the room (one worker: the layer is per process)."""
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


application = ProtocolTypeRouter({
    'websocket': URLRouter([path('chat/<str:room>/', ChatConsumer.as_asgi())]),
})
