"""Defines only `application`, the seed's other spelling."""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'application found\n']
