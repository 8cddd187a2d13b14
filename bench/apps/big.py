# A 1 MiB response body (one bytes object, with Content-Length).
BODY = b'x' * (1 << 20)
HEADERS = [('Content-Type', 'application/octet-stream'),
           ('Content-Length', str(len(BODY)))]


def app(environ, start_response):
    start_response('200 OK', list(HEADERS))
    return [BODY]
