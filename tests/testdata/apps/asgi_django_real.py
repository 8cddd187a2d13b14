"""A one-file Django project as real ones are set up (Debian's
python3-django), for the tests that compare gowsgi with uvicorn: the
default middleware (sessions, CSRF, CommonMiddleware's APPEND_SLASH),
a form POST with a CSRF token, a file upload through request.FILES, a
sync view in asgiref's thread executor, an async view, a streamed
response, build_absolute_uri and reverse() under a root path."""
import hashlib
import os
import threading

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY='gowsgi-test-real',
    ALLOWED_HOSTS=['*'],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        'django.middleware.security.SecurityMiddleware',
        'django.contrib.sessions.middleware.SessionMiddleware',
        'django.middleware.common.CommonMiddleware',
        'django.middleware.csrf.CsrfViewMiddleware',
        'django.middleware.clickjacking.XFrameOptionsMiddleware',
    ],
    INSTALLED_APPS=['django.contrib.contenttypes', 'django.contrib.sessions'],
    SESSION_ENGINE='django.contrib.sessions.backends.signed_cookies',
    FILE_UPLOAD_MAX_MEMORY_SIZE=1 << 20,
    DATA_UPLOAD_MAX_MEMORY_SIZE=10 << 20,
    USE_X_FORWARDED_HOST=False,
    SECURE_PROXY_SSL_HEADER=None,
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.urls import path, reverse  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def form(request):
    if request.method == 'GET':
        token = get_token(request)
        return HttpResponse('<form method="post"><input name="csrfmiddlewaretoken" value="%s"></form>' % token)
    return JsonResponse({'name': request.POST.get('name'), 'tags': request.POST.getlist('tags')})


@csrf_exempt
def upload(request):
    out = []
    for f in request.FILES.getlist('files'):
        h = hashlib.sha256()
        for chunk in f.chunks():
            h.update(chunk)
        out.append({'name': f.name, 'size': f.size, 'content_type': f.content_type, 'sha256': h.hexdigest(),
                    'on_disk': hasattr(f, 'temporary_file_path')})
    return JsonResponse({'note': request.POST.get('note'), 'files': out})


def where(request):
    return JsonResponse({'path': request.path, 'path_info': request.path_info, 'script_name': request.META.get('SCRIPT_NAME'),
                         'absolute': request.build_absolute_uri(), 'reverse': reverse('where'),
                         'secure': request.is_secure(), 'host': request.get_host(),
                         'remote_addr': request.META.get('REMOTE_ADDR'), 'sync_thread': threading.current_thread() is not threading.main_thread()})


async def async_view(request):
    return JsonResponse({'method': request.method, 'q': request.GET.get('q'), 'async': True})


def stream(request):
    n = int(request.GET.get('n', '50'))

    def parts():
        import time
        for i in range(n):
            yield b'part %d\n' % i
            if n > 50:
                time.sleep(0.01)
    return StreamingHttpResponse(parts(), content_type='text/plain')


def session(request):
    n = request.session.get('n', 0) + 1
    request.session['n'] = n
    return JsonResponse({'n': n})


urlpatterns = [
    path('form/', form),
    path('upload/', upload),
    path('where/', where, name='where'),
    path('async/', async_view),
    path('stream/', stream),
    path('session/', session),
]

application = get_asgi_application()
