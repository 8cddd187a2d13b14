"""A one-file Django project served through Django's asgi.py entry point
(get_asgi_application): an async view, a sync view (which Django runs in
asgiref's thread executor) and a streamed response. Django's ASGIHandler
refuses the lifespan scope, so --lifespan auto carries on without it."""
import asyncio
import threading

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY='gowsgi-test',
    ALLOWED_HOSTS=['*'],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


async def async_view(request):
    await asyncio.sleep(0.01)
    return JsonResponse({'view': 'async', 'thread': threading.current_thread().name == 'MainThread',
                         'q': request.GET.get('q')})


def sync_view(request):
    # Django runs sync views in a worker thread: never on the event loop's.
    return JsonResponse({'view': 'sync', 'main_thread': threading.current_thread() is threading.main_thread()})


def echo(request):
    return HttpResponse(request.body, content_type='application/octet-stream')


def stream(request):
    return StreamingHttpResponse((b'part %d\n' % i for i in range(3)), content_type='text/plain')


urlpatterns = [
    path('async', async_view),
    path('sync', sync_view),
    path('echo', echo),
    path('stream', stream),
]

application = get_asgi_application()
