# Neither `app` nor `application`: the callable has another name.
import json


def wsgi_handler(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps({'ok': True}).encode()]


def helper(x):
    return x
