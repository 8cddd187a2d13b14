# A request that waits 10 ms (stands in for a database or API call).
# Under gunicorn -k gevent, time.sleep is monkey-patched and yields.
import time

BODY = b'slept 10ms\n'


def app(environ, start_response):
    time.sleep(0.010)
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(BODY)))])
    return [BODY]
