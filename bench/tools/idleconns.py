#!/usr/bin/env python3
"""Memory per idle keep-alive connection, for bench/asgi.sh.

Reads the RSS of a server's whole process tree (--pid), opens --conns
keep-alive connections to 127.0.0.1:--port, sends one GET on each and reads
its whole answer (Content-Length bodies only), waits --settle seconds, reads
the RSS again, checks how many connections the server still holds open, and
prints one JSON line: rss_before_kib, rss_after_kib, per_1000_kib (the growth
scaled to 1,000 connections), opened, answered, still_open. Then it closes
them. Bounded by --timeout."""
import argparse
import json
import os
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import rss_kib, tree  # noqa: E402


def tree_rss(pid):
    pids, _t = tree(pid)
    return sum(rss_kib(p) for p in pids)


def answered(buf):
    """True once buf holds a whole response with a Content-Length body."""
    head, sep, body = buf.partition(b'\r\n\r\n')
    if not sep:
        return False
    for line in head.split(b'\r\n')[1:]:
        k, _, v = line.partition(b':')
        if k.strip().lower() == b'content-length':
            return len(body) >= int(v.strip())
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--pid', type=int, required=True)
    ap.add_argument('--conns', type=int, default=1000)
    ap.add_argument('--path', default='/')
    ap.add_argument('--settle', type=float, default=1.5)
    ap.add_argument('--timeout', type=float, default=30)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout

    time.sleep(0.5)
    before = tree_rss(a.pid)
    req = ('GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n' % (a.path, a.port)).encode()
    socks, bufs, done = [], {}, set()
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    for _ in range(a.conns):
        try:
            s = socket.create_connection(('127.0.0.1', a.port), timeout=5)
            s.sendall(req)
            s.setblocking(False)
        except OSError:
            continue
        socks.append(s)
        bufs[s] = b''
        sel.register(s, selectors.EVENT_READ)
    while len(done) < len(socks) and time.monotonic() < deadline:
        for key, _ev in sel.select(0.5):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b''
            if not chunk:
                sel.unregister(s)
                continue
            bufs[s] += chunk
            if answered(bufs[s]):
                done.add(s)
                sel.unregister(s)
    opened_s = time.monotonic() - t0
    time.sleep(a.settle)
    after = 0
    for _ in range(3):   # the largest of three reads, 0.1 s apart
        after = max(after, tree_rss(a.pid))
        time.sleep(0.1)
    still = 0
    for s in done:   # an idle connection the server closed reads EOF
        try:
            still += s.recv(1) != b''
        except BlockingIOError:
            still += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    n = len(done)
    print(json.dumps({
        'conns': a.conns, 'opened': len(socks), 'answered': n, 'still_open': still,
        'open_s': round(opened_s, 2), 'rss_before_kib': before, 'rss_after_kib': after,
        'per_1000_kib': round((after - before) * 1000.0 / n) if n else None}))
    return 0 if n else 1


if __name__ == '__main__':
    sys.exit(main())
