"""A tiny WSGI middleware that serves collected static files.

Stands in for gowsgi's planned --static option: requests whose PATH_INFO
starts with the static URL are answered from STATIC_ROOT (what
``manage.py collectstatic`` produced) through the server's wsgi.file_wrapper;
everything else goes to Django. Only GET and HEAD; no directory listings; no
path may leave the root.
"""

import mimetypes
import os
from email.utils import formatdate, parsedate_to_datetime


class StaticFiles:
    def __init__(self, app, url_prefix, root):
        self.app = app
        self.prefix = url_prefix            # e.g. '/static/'
        self.root = os.path.realpath(root)

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if not path.startswith(self.prefix):
            return self.app(environ, start_response)
        if environ['REQUEST_METHOD'] not in ('GET', 'HEAD'):
            return self._plain(start_response, '405 Method Not Allowed', b'method not allowed\n',
                               [('Allow', 'GET, HEAD')])
        # PATH_INFO carries the URL's bytes as latin-1 (PEP 3333); file names are UTF-8.
        rel = path[len(self.prefix):].encode('latin-1').decode('utf-8', 'replace')
        full = os.path.realpath(os.path.join(self.root, rel))
        if not full.startswith(self.root + os.sep) or not os.path.isfile(full):
            return self._plain(start_response, '404 Not Found', b'static file not found\n')

        st = os.stat(full)
        last_modified = formatdate(int(st.st_mtime), usegmt=True)
        since = environ.get('HTTP_IF_MODIFIED_SINCE')
        if since:
            try:
                if int(parsedate_to_datetime(since).timestamp()) >= int(st.st_mtime):
                    start_response('304 Not Modified', [('Last-Modified', last_modified)])
                    return []
            except (TypeError, ValueError):
                pass
        ctype, encoding = mimetypes.guess_type(full)
        headers = [('Content-Type', ctype or 'application/octet-stream'),
                   ('Content-Length', str(st.st_size)),
                   ('Last-Modified', last_modified),
                   ('Cache-Control', 'public, max-age=3600')]
        if encoding:
            headers.append(('Content-Encoding', encoding))
        start_response('200 OK', headers)
        f = open(full, 'rb')
        if environ['REQUEST_METHOD'] == 'HEAD':
            f.close()
            return []
        wrapper = environ.get('wsgi.file_wrapper')
        if wrapper is not None:
            return wrapper(f, 65536)
        return _blocks(f)

    @staticmethod
    def _plain(start_response, status, body, extra=()):
        start_response(status, [('Content-Type', 'text/plain; charset=utf-8'),
                                ('Content-Length', str(len(body)))] + list(extra))
        return [body]


def _blocks(f):
    with f:
        for block in iter(lambda: f.read(65536), b''):
            yield block
