#!/usr/bin/env python3
"""fixedload.py: exactly N keep-alive requests over C connections.

wrk runs for a time, not a count, and stops with requests in flight that
the server has worked on but wrk does not count; a count of instructions
per request (bench/ab.sh, AB_METRIC=instructions) needs the requests the
server served to be the requests divided by. This client sends wrk's GET
(`GET PATH HTTP/1.1` and a Host field, nothing else) on C keep-alive
connections, one request at a time on each, until N responses have come
back whole (Content-Length bodies only), then prints one line:
`N requests, E errors, S s`. Exit status 1 if any request failed.

    fixedload.py --port 8000 -n 20000 -c 50 --path /
"""
import argparse
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('-n', type=int, default=10000, help='requests in all')
    ap.add_argument('-c', type=int, default=50, help='connections')
    ap.add_argument('--path', default='/')
    ap.add_argument('--timeout', type=float, default=600, help='seconds for the whole run')
    a = ap.parse_args()

    req = ('GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n' % (a.path, a.host, a.port)).encode('latin-1')
    sel = selectors.DefaultSelector()
    sent = done = errors = 0
    t0 = time.monotonic()
    deadline = t0 + a.timeout

    class Conn:
        __slots__ = ('sock', 'buf')

    def send(c):
        nonlocal sent
        sent += 1
        c.sock.sendall(req)

    for _ in range(min(a.c, a.n)):
        c = Conn()
        c.sock = socket.create_connection((a.host, a.port))
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.buf = b''
        sel.register(c.sock, selectors.EVENT_READ, c)
        send(c)

    while done < a.n:
        left = deadline - time.monotonic()
        if left <= 0:
            print('fixedload: timed out after %d of %d responses' % (done, a.n), file=sys.stderr)
            return 1
        for key, _ in sel.select(min(left, 1.0)):
            c = key.data
            data = c.sock.recv(65536)
            if not data:
                print('fixedload: the server closed a connection', file=sys.stderr)
                return 1
            c.buf += data
            while True:
                end = c.buf.find(b'\r\n\r\n')
                if end < 0:
                    break
                head = c.buf[:end].decode('latin-1')
                length = None
                for line in head.split('\r\n')[1:]:
                    name, _, value = line.partition(':')
                    if name.strip().lower() == 'content-length':
                        length = int(value.strip())
                if length is None:
                    print('fixedload: a response without Content-Length: %r' % head, file=sys.stderr)
                    return 1
                if len(c.buf) < end + 4 + length:
                    break
                status = head.split(' ', 2)[1]
                if not status.startswith('2'):
                    errors += 1
                c.buf = c.buf[end + 4 + length:]
                done += 1
                if sent < a.n:
                    send(c)
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print('%d requests, %d errors, %.2f s' % (done, errors, time.monotonic() - t0))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
