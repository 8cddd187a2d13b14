"""A WSGI app that keeps its threads executing Python, for the stack-dump
tests: /spin churns through Python frames for a while, /stuck never
answers (in Python, or with c=1 inside one C call that holds the GIL)."""

import itertools
import os
import time
from urllib.parse import parse_qs

STATE_DIR = os.environ.get('PROBE_STATE_DIR', '/tmp')


def q(environ, name, default=''):
    return parse_qs(environ.get('QUERY_STRING', '')).get(name, [default])[0]


def churn(depth):
    """Calls nested depth deep: frames are made and dropped all the time."""
    if depth == 0:
        return 1
    return churn(depth - 1) + 1


def spin_route(environ, start_response):
    """Runs Python code, calling and returning, for ms milliseconds."""
    end = time.monotonic() + float(q(environ, 'ms', '20')) / 1000
    n = 0
    while time.monotonic() < end:
        n += churn(30)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'spun %d' % n]


def stuck_in_python(release):
    while not os.path.exists(release):
        churn(30)


def stuck_in_c():
    # One C call that holds the GIL for minutes: no bytecode runs meanwhile.
    return sum(itertools.repeat(1, 10 ** 12))


def stuck_route(environ, start_response):
    """Writes STATE_DIR/NAME.entered, then never answers: spins in Python
    until STATE_DIR/ALL.release, or with c=1 sits in one C call."""
    name = q(environ, 'name', 'stuck')
    path = os.path.join(STATE_DIR, name + '.entered')
    with open(path + '.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename(path + '.tmp', path)
    if q(environ, 'c'):
        stuck_in_c()
    else:
        stuck_in_python(os.path.join(STATE_DIR, 'ALL.release'))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'released']


def app(environ, start_response):
    if environ['PATH_INFO'] == '/spin':
        return spin_route(environ, start_response)
    if environ['PATH_INFO'] == '/stuck':
        return stuck_route(environ, start_response)
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'not found\n']
