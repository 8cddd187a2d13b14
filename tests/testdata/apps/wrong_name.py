"""Defines neither app nor application: gowsgi must list what it has."""


def make_wsgi(environ, start_response):
    start_response('200 OK', [])
    return [b'']


def helper():
    pass
