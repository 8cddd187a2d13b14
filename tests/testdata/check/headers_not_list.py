# Headers as a dict, then as a tuple of tuples.
def app(environ, start_response):
    if environ['REQUEST_METHOD'] == 'GET':
        start_response('200 OK', {'Content-Type': 'text/plain'})  # line 4
    else:
        start_response('200 OK', (('Content-Type', 'text/plain'),))  # line 6
    return [b'ok\n']
