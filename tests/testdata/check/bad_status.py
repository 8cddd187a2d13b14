# The status has no reason phrase: gowsgi answers 500 for it.
def app(environ, start_response):
    start_response('200', [('Content-Type', 'text/plain')])  # line 3
    return [b'no reason phrase\n']
