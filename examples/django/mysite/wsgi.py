"""WSGI entry point: gowsgi --chdir examples/django mysite.wsgi

gowsgi has no --static option yet, so the collected static files
(``manage.py collectstatic``) are served by a small WSGI wrapper in front of
Django; see mysite/static.py. Behind a CDN or nginx, drop the wrapper.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from mysite.static import StaticFiles

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')

application = StaticFiles(get_wsgi_application(), '/' + settings.STATIC_URL.strip('/') + '/',
                          settings.STATIC_ROOT)
