# Bodies of every size, for tests of the paths large bodies take.
#   POST /          echoes the request body, with a Content-Length
#   GET /big?n=N&chunk=K   N bytes of a repeating pattern; K > 0: a generator
#                          of K-byte pieces without a Content-Length
PATTERN = bytes(range(256)) * 4096  # 1 MiB


def pattern(n):
    reps, rest = divmod(n, len(PATTERN))
    return PATTERN * reps + PATTERN[:rest]


def app(environ, start_response):
    if environ['REQUEST_METHOD'] == 'POST':
        n = int(environ.get('CONTENT_LENGTH') or 0)
        body = environ['wsgi.input'].read(n)
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    q = dict(kv.split('=', 1) for kv in environ.get('QUERY_STRING', '').split('&') if '=' in kv)
    n, chunk = int(q.get('n', '0')), int(q.get('chunk', '0'))
    body = pattern(n)
    if chunk <= 0:
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(n))])
        return [body]
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    return (body[i:i + chunk] for i in range(0, n, chunk))
