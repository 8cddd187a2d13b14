"""Django Channels (Debian's python3-django-channels) HTTP consumers: an
AsyncHttpConsumer answering at once, one streaming a long poll that ends
when the client goes away, mixed with Django's own ASGI app through
ProtocolTypeRouter and URLRouter."""
import asyncio
import json
import os

import django
from django.conf import settings

settings.configure(DEBUG=False, SECRET_KEY='gowsgi-channels-http', ALLOWED_HOSTS=['*'], ROOT_URLCONF=__name__,
                   MIDDLEWARE=[], INSTALLED_APPS=['channels'])
django.setup()

from channels.generic.http import AsyncHttpConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path, re_path  # noqa: E402

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '')


def mark(name, text=''):
    if STATE_DIR:
        tmp = os.path.join(STATE_DIR, name + '.tmp')
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, os.path.join(STATE_DIR, name))


class Hello(AsyncHttpConsumer):
    async def handle(self, body):
        data = json.dumps({'path': self.scope['path'], 'method': self.scope['method'], 'body': body.decode('latin-1'),
                           'kw': self.scope['url_route']['kwargs']}).encode()
        await self.send_response(200, data, headers=[(b'Content-Type', b'application/json')])


class Poll(AsyncHttpConsumer):
    async def handle(self, body):
        await self.send_headers(headers=[(b'Content-Type', b'text/event-stream')])
        for i in range(int(self.scope['query_string'].decode().partition('n=')[2] or 3)):
            await self.send_body(b'data: %d\n\n' % i, more_body=True)
            await asyncio.sleep(0.02)
        await self.send_body(b'')

    async def disconnect(self):
        mark('poll.disconnect')


def django_view(request):
    return JsonResponse({'django': True, 'path': request.path})


urlpatterns = [path('django/', django_view)]

application = ProtocolTypeRouter({
    'http': URLRouter([
        re_path(r'^hello/(?P<name>\w+)$', Hello.as_asgi()),
        path('poll', Poll.as_asgi()),
        re_path(r'', get_asgi_application()),
    ]),
})
