# The seed's playground app (cloudacademy/playground.py): a generator body,
# no Content-Length, so servers must chunk (HTTP/1.1) or close the connection.
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'Hello, WSGI!\n'
