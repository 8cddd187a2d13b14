"""Memory per open idle WebSocket (issue 18): gowsgi against uvicorn
(wsproto and websockets) and hypercorn, one worker each, side by side.

    /usr/bin/python3 bench/ws_memory.py [--servers gowsgi,uvicorn-wsproto,...]
        [--gowsgi BIN] [--base BIN] [--conns 1000] [--rounds 1] [--deflate]

For each server and round: a fresh server on bench/apps/ws_echo.py, the
RSS of every process of its tree once it is idle, then --conns WebSockets
opened raw (handshake, two 64-byte text echoes each, then quiet), --settle
seconds, and the RSS again (the largest of three reads). It prints, per
server, the growth per 1,000 WebSockets of the whole tree and, for gowsgi,
of the front (the root process) and the worker (its child) apart, with the
front's Go gauges from --metrics-bind (goroutines, stack and heap in use)
before and after. Then every WebSocket must still echo, and closes with a
close handshake (counted). --deflate offers permessage-deflate (and sends
the messages compressed): the negotiated-deflate cost ("deflate" in the
JSON lines says whether every connection got it). Servers: gowsgi
(--gowsgi, default bench/.bin/gowsgi), gowsgi-base (--base), uvicorn-wsproto,
uvicorn-websockets, hypercorn, daphne. Stdlib only; Debian's python3 sees
the peers."""
import argparse
import asyncio
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

BENCH = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(BENCH, 'apps')
sys.path.insert(0, os.path.join(BENCH, 'tools'))
from measure import rss_kib, tree  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def command(server, a, port, mport):
    py = sys.executable
    if server in ('gowsgi', 'gowsgi-base'):
        binary = a.gowsgi if server == 'gowsgi' else a.base
        return [binary, 'ws_echo:app', '--chdir', APPS, '--python', py, '-b', '127.0.0.1:%d' % port, '-w', '1',
                '--no-access-log', '--log-level', 'warning', '--metrics-bind', '127.0.0.1:%d' % mport]
    if server.startswith('uvicorn-'):
        return [py, '-m', 'uvicorn', 'ws_echo:app', '--port', str(port), '--ws', server[len('uvicorn-'):],
                '--log-level', 'warning', '--no-access-log']
    if server == 'hypercorn':
        return [py, '-m', 'hypercorn', 'ws_echo:app', '-w', '1', '-b', '127.0.0.1:%d' % port, '--log-level', 'warning']
    if server == 'daphne':
        return [py, '-m', 'daphne', '-v', '0', '-b', '127.0.0.1', '-p', str(port), 'ws_echo:app']
    raise SystemExit('unknown server %s' % server)


def go_gauges(mport):
    """go_goroutines, stack and heap in use (bytes) from the front's /metrics."""
    try:
        text = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % mport, timeout=5).read().decode()
    except OSError:
        return {}
    out = {}
    for name in ('go_goroutines', 'go_memstats_stack_inuse_bytes', 'go_memstats_heap_inuse_bytes',
                 'go_memstats_heap_alloc_bytes'):
        m = re.search(r'^%s (\S+)$' % name, text, re.M)
        if m:
            out[name] = float(m.group(1))
    return out


def rss_by_process(root):
    """{pid: VmRSS KiB} for root's tree."""
    pids, _ = tree(root)
    return {p: rss_kib(p) for p in pids}


def frame(op, payload, rsv1=False):
    """A masked client frame."""
    mask = os.urandom(4)
    b0 = 0x80 | op | (0x40 if rsv1 else 0)
    n = len(payload)
    if n < 126:
        head = struct.pack('!BB', b0, 0x80 | n)
    else:
        head = struct.pack('!BBH', b0, 0x80 | 126, n)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


class WS:
    def __init__(self, r, w, deflate):
        self.r, self.w, self.deflate = r, w, deflate
        self.z = zlib.compressobj(wbits=-15) if deflate else None
        self.unz = zlib.decompressobj(wbits=-15) if deflate else None

    def send_text(self, data):
        if self.deflate:
            c = self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
            self.w.write(frame(0x1, c[:-4], rsv1=True))
        else:
            self.w.write(frame(0x1, data))

    async def recv(self):
        """The next data or close frame: (opcode, payload); answers pings."""
        while True:
            b0, b1 = await self.r.readexactly(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack('!H', await self.r.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', await self.r.readexactly(8))[0]
            p = await self.r.readexactly(n)
            op = b0 & 0x0f
            if op == 0x9:
                self.w.write(frame(0xA, p))
                continue
            if op == 0xA:
                continue
            if b0 & 0x40:
                p = self.unz.decompress(p + b'\x00\x00\xff\xff')
            return op, p

    async def echo(self, data):
        self.send_text(data)
        op, p = await self.recv()
        assert op == 0x1 and p == data, (op, p)

    async def close(self):
        self.w.write(frame(0x8, struct.pack('!H', 1000)))
        try:
            while True:
                op, p = await asyncio.wait_for(self.recv(), 10)
                if op == 0x8:
                    return True
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, OSError):
            return False
        finally:
            self.w.close()


async def open_ws(port, deflate):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    key = base64.b64encode(os.urandom(16))
    ext = b'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' if deflate else b''
    w.write(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
            b'Sec-WebSocket-Key: ' + key + b'\r\nSec-WebSocket-Version: 13\r\n' + ext + b'\r\n')
    head = await r.readuntil(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 101'), head
    ws = WS(r, w, b'permessage-deflate' in head.lower())
    msg = b'x' * 64
    await ws.echo(msg)
    await ws.echo(msg)
    return ws


async def wait_port(port, proc):
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit('the server exited with %s' % proc.returncode)
        try:
            _, w = await asyncio.open_connection('127.0.0.1', port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit('the server did not start')


def settled_rss(root, settle):
    time.sleep(settle)
    best = {}
    for _ in range(3):
        for p, k in rss_by_process(root).items():
            best[p] = max(best.get(p, 0), k)
        time.sleep(0.1)
    return best


async def one(server, a):
    port, mport = free_port(), free_port()
    log = open(os.path.join(a.logs, '%s.log' % server), 'ab')
    proc = subprocess.Popen(command(server, a, port, mport), cwd=APPS, stdout=log, stderr=log)
    try:
        await wait_port(port, proc)
        gowsgi = server.startswith('gowsgi')
        # Warm up like the peers' first connection does: one WebSocket, closed.
        await (await open_ws(port, a.deflate)).close()
        before = settled_rss(proc.pid, 1.0)
        g0 = go_gauges(mport) if gowsgi else {}
        conns = []
        t0 = time.monotonic()
        for i in range(0, a.conns, 100):
            conns += await asyncio.gather(*(open_ws(port, a.deflate) for _ in range(min(100, a.conns - i))))
        open_s = time.monotonic() - t0
        after = settled_rss(proc.pid, a.settle)
        g1 = go_gauges(mport) if gowsgi else {}
        # Every one still echoes after its idle time, then closes cleanly.
        await asyncio.gather(*(c.echo(b'y' * 64) for c in conns))
        closed = sum(await asyncio.gather(*(c.close() for c in conns)))
        n = len(conns)
        per = lambda k: round(k * 1000.0 / n)  # noqa: E731
        front = proc.pid
        res = {'server': server, 'conns': n, 'open_s': round(open_s, 2), 'closed_cleanly': closed,
               'deflate': all(c.deflate for c in conns), 'load': open('/proc/loadavg').read().split()[0],
               'tree_before_kib': sum(before.values()), 'tree_after_kib': sum(after.values()),
               'tree_per_1000_kib': per(sum(after.values()) - sum(before.values()))}
        if gowsgi:
            workers = [p for p in after if p != front]
            res['front_per_1000_kib'] = per(after[front] - before.get(front, 0))
            res['worker_per_1000_kib'] = per(sum(after[p] - before.get(p, 0) for p in workers))
            res['front_before_kib'], res['front_after_kib'] = before.get(front, 0), after[front]
            for k in g1:
                res[k] = [g0.get(k), g1[k]]
        return res
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--servers', default='gowsgi,uvicorn-wsproto,uvicorn-websockets,hypercorn')
    ap.add_argument('--gowsgi', default=os.path.join(BENCH, '.bin', 'gowsgi'))
    ap.add_argument('--base', default=os.path.join(BENCH, '.bin', 'gowsgi-base'))
    ap.add_argument('--conns', type=int, default=1000)
    ap.add_argument('--rounds', type=int, default=1)
    ap.add_argument('--settle', type=float, default=2.0)
    ap.add_argument('--deflate', action='store_true')
    ap.add_argument('--logs', default='/tmp')
    a = ap.parse_args()
    servers = a.servers.split(',')
    rows = {}
    for r in range(a.rounds):
        order = servers[r % len(servers):] + servers[:r % len(servers)]
        for s in order:
            res = asyncio.run(one(s, a))
            res['round'] = r + 1
            print(json.dumps(res), flush=True)
            rows.setdefault(s, []).append(res)
    med = lambda xs: sorted(xs)[(len(xs) - 1) // 2]  # noqa: E731
    print()
    print('| server | KiB per 1,000 idle WebSockets: tree (rounds) | median | front | worker | goroutines before → after | stacks MiB after | closed cleanly | deflate |')
    print('|---|---|---:|---:|---:|---|---:|---|---|')
    for s in servers:
        rs = rows[s]
        tr = [x['tree_per_1000_kib'] for x in rs]
        fr = med([x['front_per_1000_kib'] for x in rs]) if 'front_per_1000_kib' in rs[0] else ''
        wk = med([x['worker_per_1000_kib'] for x in rs]) if 'worker_per_1000_kib' in rs[0] else ''
        gr = ', '.join('%d → %d' % tuple(x['go_goroutines']) for x in rs if 'go_goroutines' in x)
        st = ', '.join('%.1f' % (x['go_memstats_stack_inuse_bytes'][1] / 1048576) for x in rs
                       if 'go_memstats_stack_inuse_bytes' in x)
        cl = ', '.join('%d/%d' % (x['closed_cleanly'], x['conns']) for x in rs)
        df = 'yes' if all(x['deflate'] for x in rs) else 'no'
        print('| %s | %s | %d | %s | %s | %s | %s | %s | %s |' % (s, ' / '.join(map(str, tr)), med(tr), fr, wk, gr, st, cl, df))


if __name__ == '__main__':
    main()
