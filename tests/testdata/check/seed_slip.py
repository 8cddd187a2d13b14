# The seed playground, served with the Django habit of naming the callable
# "application": `gowsgi check seed_slip.py:application` must point at `app`.
from wsgiref.simple_server import make_server


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'Hello, WSGI!\n'


if __name__ == '__main__':
    make_server('', 5000, app).serve_forever()
