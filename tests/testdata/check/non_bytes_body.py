# Yields str, not bytes.
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8')])
    yield 'Hello, WSGI!\n'  # line 4
