# Importing this module fails.
import json

import gowsgi_no_such_module_for_check  # line 4


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps({}).encode()]
