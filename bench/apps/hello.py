# Hello with a Content-Length and a list body: the cheapest possible response.
BODY = b'Hello, WSGI!\n'
HEADERS = [('Content-Type', 'text/plain'), ('Content-Length', str(len(BODY)))]


def app(environ, start_response):
    start_response('200 OK', list(HEADERS))
    return [BODY]
