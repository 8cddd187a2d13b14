"""Resident memory of the gowsgi front and its one ASGI worker: idle, with
1,000 idle keep-alive HTTP connections, and with 1,000 open WebSockets as
well (issue 18). Stdlib only; run with Debian's python3 (it sees starlette):

    /usr/bin/python3 bench/ws_memory.py ./gowsgi [N]

It starts `gowsgi tests/testdata/apps/ws_starlette.py -w 1`, opens the
connections raw, and prints VmRSS (KiB) of both processes at each step."""
import asyncio
import os
import re
import socket
import subprocess
import sys
import time


def rss(pid):
    with open('/proc/%d/status' % pid) as f:
        return int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))


def children(pid):
    out = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


async def http_conn(port):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    w.write(b'GET /browser HTTP/1.1\r\nHost: x\r\n\r\n')
    head = await r.readuntil(b'\r\n\r\n')
    n = int(re.search(rb'(?i)content-length: (\d+)', head).group(1))
    await r.readexactly(n)
    return w


async def ws_conn(port):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    w.write(b'GET /hold HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
            b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    head = await r.readuntil(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 101'), head
    return w


async def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([binary, 'tests/testdata/apps/ws_starlette.py', '-w', '1', '--python', sys.executable,
                             '--bind', '127.0.0.1:%d' % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                (await http_conn(port)).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        worker = children(proc.pid)[0]
        await asyncio.sleep(1)

        def show(label):
            print('%-40s front %7d KiB  worker %7d KiB' % (label, rss(proc.pid), rss(worker)), flush=True)
        show('idle')
        https = []
        for i in range(0, n, 100):
            https += await asyncio.gather(*(http_conn(port) for _ in range(min(100, n - i))))
        await asyncio.sleep(1)
        show('%d idle keep-alive HTTP connections' % n)
        wss = []
        for i in range(0, n, 100):
            wss += await asyncio.gather(*(ws_conn(port) for _ in range(min(100, n - i))))
        await asyncio.sleep(1)
        show('and %d open WebSockets' % n)
        for w in https + wss:
            w.close()
    finally:
        proc.kill()  # the /hold WebSockets would hold a graceful stop
        proc.wait(30)


asyncio.run(main())
