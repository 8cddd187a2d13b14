# Echoes the request body (the benchmark POSTs 64 KiB) with a Content-Length.
def app(environ, start_response):
    try:
        n = int(environ.get('CONTENT_LENGTH') or 0)
    except ValueError:
        n = 0
    body = environ['wsgi.input'].read(n) if n > 0 else b''
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(len(body)))])
    return [body]
