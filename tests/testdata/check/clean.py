# A correct application: answers every request, reads bodies, 404s.
def app(environ, start_response):
    path = environ['PATH_INFO']
    if path != '/':
        body = ('no page %s\n' % path.encode('latin-1').decode('utf-8', 'replace')).encode('utf-8')
        start_response('404 Not Found', [('Content-Type', 'text/plain; charset=utf-8'),
                                         ('Content-Length', str(len(body)))])
        return [body]
    size = int(environ.get('CONTENT_LENGTH') or 0)
    data = environ['wsgi.input'].read(size)
    body = b'method %s, %d bytes\n' % (environ['REQUEST_METHOD'].encode(), len(data))
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
