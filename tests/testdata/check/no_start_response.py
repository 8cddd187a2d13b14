# Forgets start_response on some paths.
def app(environ, start_response):
    if environ['REQUEST_METHOD'] == 'POST':
        return []  # returns without calling start_response
    if environ['PATH_INFO'] != '/':
        return [b'not found\n']  # a body, but no start_response
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'home\n']
