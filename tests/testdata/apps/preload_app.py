"""An app for the --preload tests: importing it appends the importing
process's pid to $PRELOAD_PIDS_FILE, so a test can count the imports."""

import json
import os

_path = os.environ.get('PRELOAD_PIDS_FILE')
if _path:
    with open(_path, 'a') as f:
        f.write('%d\n' % os.getpid())

IMPORTED_BY = os.getpid()


def app(environ, start_response):
    if environ['PATH_INFO'] == '/crash':
        os._exit(7)
    body = json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'imported_by': IMPORTED_BY}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
