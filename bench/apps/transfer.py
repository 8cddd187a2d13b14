"""For bench/transfer.sh: GET /download?mb=N streams N MiB in 64 KiB
pieces; POST /upload reads the body in 64 KiB pieces and reports its size.
Neither holds more than one piece in memory."""

PIECE = b'\0' * (64 << 10)


def app(environ, start_response):
    if environ['PATH_INFO'] == '/upload':
        inp, total = environ['wsgi.input'], 0
        while True:
            chunk = inp.read(64 << 10)
            if not chunk:
                break
            total += len(chunk)
        body = b'%d\n' % total
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
        return [body]
    mb = int(environ.get('QUERY_STRING', 'mb=1').partition('=')[2] or 1)
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(mb << 20))])
    return (PIECE for _ in range(mb * 16))
