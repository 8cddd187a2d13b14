#!/usr/bin/env python3
"""Hold slow clients open against a server while a benchmark runs (stdlib only).

* --idle N  keep-alive connections that send one complete request
            (Connection: keep-alive), read the answer and then sit idle.
            If the server closes one, it stays closed (counted).
* --slow M  slowloris connections: send a request line and a Host header,
            then one more header byte every --interval seconds, never ending
            the head. A connection the server drops (or answers) is
            reopened, as the attack does (counted as a reconnect).

Writes --ready-file (JSON) once the connections are set up (bounded by
--setup-timeout), runs until SIGTERM/SIGINT (or --max-seconds), then writes
--stats-file (JSON) and exits 0.
"""

import argparse
import errno
import json
import os
import selectors
import signal
import socket
import time

IDLE, SLOW = 'idle', 'slow'


class Conn:
    __slots__ = ('kind', 'sock', 'state', 'responded', 'next_send', 'sent')

    def __init__(self, kind):
        self.kind, self.sock, self.state = kind, None, 'new'
        self.responded, self.next_send, self.sent = False, 0.0, 0


class Clients:
    def __init__(self, a):
        self.a = a
        self.sel = selectors.DefaultSelector()
        self.conns = [Conn(IDLE) for _ in range(a.idle)] + [Conn(SLOW) for _ in range(a.slow)]
        self.stats = {'connect_failures': 0, 'slow_reconnects': 0,
                      'idle_closed_by_server': 0, 'slow_closed_by_server': 0,
                      'slow_answered_by_server': 0, 'header_bytes_sent': 0}
        host = '%s:%d' % (a.host, a.port)
        self.idle_req = ('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n'
                         % (a.path, host)).encode()
        self.slow_head = ('GET %s HTTP/1.1\r\nHost: %s\r\nX-Slow: ' % (a.path, host)).encode()

    # -- connection lifecycle ------------------------------------------------
    def connect(self, c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((self.a.host, self.a.port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self.stats['connect_failures'] += 1
            c.state = 'failed'
            return
        c.sock, c.state, c.responded, c.sent = s, 'connecting', False, 0
        self.sel.register(s, selectors.EVENT_WRITE, c)

    def close(self, c, state):
        if c.sock is not None:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None
        c.state = state

    def send(self, c, data):
        try:
            c.sock.send(data)   # tiny writes into an empty buffer: never partial
            return True
        except OSError:
            self.lost(c)
            return False

    def lost(self, c):
        """The server closed (or reset) the connection."""
        self.close(c, 'closed')
        if c.kind == IDLE:
            self.stats['idle_closed_by_server'] += 1
        else:
            self.stats['slow_closed_by_server'] += 1
            c.state = 'reopen'

    def on_event(self, c, mask):
        if c.state == 'connecting':
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.close(c, 'failed' if c.kind == IDLE else 'reopen')
                self.stats['connect_failures'] += 1
                return
            c.state = 'open'
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            if c.kind == IDLE:
                self.send(c, self.idle_req)
            else:
                if self.send(c, self.slow_head):
                    c.next_send = time.monotonic() + self.a.interval
            return
        if mask & selectors.EVENT_READ:
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b''
            if not data:
                self.lost(c)
            elif c.kind == IDLE:
                c.responded = True
            else:
                # e.g. 408/400 for a head that took too long: the server
                # freed the connection; slowloris reconnects
                self.stats['slow_answered_by_server'] += 1
                self.close(c, 'reopen')

    def tick(self, now):
        for c in self.conns:
            if c.kind != SLOW:
                continue
            if c.state == 'reopen':
                self.stats['slow_reconnects'] += 1
                self.connect(c)
            elif c.state == 'open' and now >= c.next_send:
                if self.send(c, b'a'):
                    c.sent += 1
                    self.stats['header_bytes_sent'] += 1
                    c.next_send = now + self.a.interval

    def poll(self, timeout):
        for key, mask in self.sel.select(timeout):
            self.on_event(key.data, mask)

    def counts(self):
        n = {'idle_open': 0, 'idle_answered': 0, 'slow_open': 0, 'connecting': 0}
        for c in self.conns:
            if c.state == 'connecting':
                n['connecting'] += 1
            elif c.state == 'open' and c.kind == IDLE:
                n['idle_open'] += 1
                n['idle_answered'] += c.responded
            elif c.state == 'open':
                n['slow_open'] += 1
        return n

    # -- phases ------------------------------------------------------------------
    def setup(self):
        deadline = time.monotonic() + self.a.setup_timeout
        # idle ones first, in batches, so a small listen backlog is not flooded
        for kind in (IDLE, SLOW):
            group = [c for c in self.conns if c.kind == kind]
            for i in range(0, len(group), self.a.batch):
                for c in group[i:i + self.a.batch]:
                    self.connect(c)
                while time.monotonic() < deadline and any(
                        c.state == 'connecting' for c in group[i:i + self.a.batch]):
                    self.poll(0.05)
            if kind == IDLE:
                # give the server a moment to answer the idle ones' request
                wait_until = min(deadline, time.monotonic() + 3.0)
                while time.monotonic() < wait_until and any(
                        c.state == 'open' and not c.responded for c in group):
                    self.poll(0.05)
        # stagger the slowloris bytes across the interval
        now = time.monotonic()
        slow = [c for c in self.conns if c.kind == SLOW and c.state == 'open']
        for i, c in enumerate(slow):
            c.next_send = now + self.a.interval * (i + 1) / max(1, len(slow))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--path', default='/')
    ap.add_argument('--idle', type=int, default=500)
    ap.add_argument('--slow', type=int, default=200)
    ap.add_argument('--interval', type=float, default=3.0,
                    help='seconds between two header bytes of one slowloris connection')
    ap.add_argument('--batch', type=int, default=50)
    ap.add_argument('--setup-timeout', type=float, default=15.0)
    ap.add_argument('--max-seconds', type=float, default=900.0)
    ap.add_argument('--ready-file', required=True)
    ap.add_argument('--stats-file', required=True)
    a = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    cl = Clients(a)
    t0 = time.monotonic()
    cl.setup()
    ready = dict(cl.counts(), setup_s=round(time.monotonic() - t0, 2), **cl.stats)
    tmp = a.ready_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(ready, f)
    os.replace(tmp, a.ready_file)

    end = time.monotonic() + a.max_seconds
    while not stop and time.monotonic() < end:
        cl.poll(0.1)
        cl.tick(time.monotonic())
    stats = {'at_ready': ready, 'at_end': dict(cl.counts(), **cl.stats),
             'held_s': round(time.monotonic() - t0, 2)}
    with open(a.stats_file, 'w') as f:
        json.dump(stats, f, indent=1, sort_keys=True)
    for c in cl.conns:
        cl.close(c, 'done')


if __name__ == '__main__':
    main()
