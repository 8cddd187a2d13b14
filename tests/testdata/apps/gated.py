"""An app whose import waits for the test: for readiness probes during
start and reload. GATE_DIR/entered.PID is written when a worker starts
importing it; the import then waits (at most 120 s) until GATE_DIR/open
exists. /block waits until GATE_DIR/block.release exists."""

import os
import time

GATE = os.environ['GATE_DIR']


def _mark(name):
    path = os.path.join(GATE, name)
    with open(path + '.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename(path + '.tmp', path)


_mark('entered.%d' % os.getpid())
_deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(GATE, 'open')) and time.monotonic() < _deadline:
    time.sleep(0.005)


def app(environ, start_response):
    if environ['PATH_INFO'] == '/block':
        _mark('block.entered')
        end = time.monotonic() + 120
        while not os.path.exists(os.path.join(GATE, 'block.release')) and time.monotonic() < end:
            time.sleep(0.005)
    body = b'gated pid=%d\n' % os.getpid()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
