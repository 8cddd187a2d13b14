# Error handling done wrong: start_response called again without exc_info,
# and with the exception object where sys.exc_info() belongs.
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    try:
        raise ValueError('something failed')
    except ValueError as e:
        if environ['REQUEST_METHOD'] == 'POST':
            start_response('500 Internal Server Error', [('Content-Type', 'text/plain')], e)  # line 9
        else:
            start_response('500 Internal Server Error', [('Content-Type', 'text/plain')])  # line 11
    return [b'error\n']
