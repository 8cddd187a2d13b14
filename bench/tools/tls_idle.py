#!/usr/bin/env python3
"""Front memory per 1,000 idle TLS connections: keep-alive HTTPS
connections after one request each (--mode https, WSGI hello), or quiet
wss:// WebSockets after one echo each (--mode wss, the tests' Starlette
echo). Starts the gowsgi binary given, with a self-signed certificate made
by openssl, samples the front's VmRSS before and --settle seconds after the
connections went quiet, checks each connection still answers, and prints
one line. Traffic to 127.0.0.1 only; the server is stopped by its PID.

    bench/tools/tls_idle.py --binary bench/.bin/gowsgi --mode https -n 1000
"""
import argparse
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_head(s):
    d = b''
    while b'\r\n\r\n' not in d:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit('connection closed before an answer')
        d += chunk
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--binary', required=True)
    ap.add_argument('--mode', choices=('https', 'wss'), default='https')
    ap.add_argument('-n', type=int, default=1000)
    ap.add_argument('--settle', type=float, default=2.0)
    ap.add_argument('--python', default='/usr/bin/python3')
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    cert, key = os.path.join(tmp, 'c.pem'), os.path.join(tmp, 'k.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '1', '-subj', '/CN=localhost'], check=True, capture_output=True)
    port = free_port()
    if a.mode == 'https':
        app = ['hello:app', '--chdir', os.path.join(ROOT, 'bench/apps')]
    else:
        app = ['ws_starlette:app', '--interface', 'asgi', '--chdir', os.path.join(ROOT, 'tests/testdata/apps')]
    logpath = os.path.join(tmp, 'server.log')
    log = open(logpath, 'w')
    p = subprocess.Popen([a.binary] + app + ['-b', '127.0.0.1:%d' % port, '-w', '1', '--no-access-log', '--keep-alive', '60s',
                                             '--certfile', cert, '--keyfile', key, '--python', a.python], stderr=log)
    try:
        deadline = time.time() + 30
        while 'listening' not in open(logpath).read():
            if time.time() > deadline or p.poll() is not None:
                raise SystemExit('the server did not start:\n' + open(logpath).read())
            time.sleep(0.1)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        time.sleep(a.settle)
        before = rss_kib(p.pid)
        socks = []
        for _ in range(a.n):
            s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=30))
            if a.mode == 'https':
                s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            else:
                s.sendall(b'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                          b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
            socks.append(s)
        for s in socks:
            read_head(s)
            if a.mode == 'wss':
                s.sendall(b'\x81\x85\0\0\0\0hello')  # a masked text frame (zero mask)
        if a.mode == 'wss':
            for s in socks:
                s.recv(64)
        time.sleep(a.settle)
        after = rss_kib(p.pid)
        ok = 0
        for s in socks:  # still open and served after being idle
            s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n' if a.mode == 'https' else b'\x81\x82\0\0\0\0hi')
        for s in socks:
            ok += bool(s.recv(4096))
        print('%s %s: front %d KiB per 1,000 idle connections (%d of %d answered again)' % (
            a.binary, a.mode, (after - before) * 1000 // a.n, ok, a.n))
        for s in socks:
            s.close()
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == '__main__':
    sys.exit(main())
