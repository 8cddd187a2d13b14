#!/usr/bin/env python3
"""Stalled readers: what clients that ask for large responses and read
nothing cost the server (issues 17/18, a total bound on buffered bytes).

Starts BINARY (gowsgi) on a free port of 127.0.0.1 with one worker and
tests/testdata/apps/asgi_raw.py (or --app/--chdir), measures the RSS of the
front and of its workers, opens -n connections that each send
`GET --path` and then read nothing (SO_RCVBUF 4096), samples the RSS for
--hold seconds and keeps the peaks, then checks that the server still
serves others meanwhile: a fresh client reads a whole --fresh-path
response (its bytes and time are printed) and a normal request (--probe)
gets its answer. Then it closes everything and stops the server.

Prints one human line per measure and a last JSON line: front_base_kib,
front_peak_kib, front_growth_kib, per_client_kib, worker_base_kib,
worker_peak_kib (summed over the workers), fresh_bytes, fresh_s,
probe_status, and with --metrics the peaks of the response-memory gauge
(gowsgi_response_memory_bytes) and of the front's live heap (half of
go_memstats_next_gc_bytes: what the last collection found live, doubled
by GOGC), sampled with the RSS: the RSS also holds the collector's slack.

    bench/tools/stalled_readers.py --binary bench/.bin/gowsgi -n 300
    bench/tools/stalled_readers.py --binary /tmp/main-gowsgi -n 300 -- --response-memory-total 16M

With --ws-flood the other direction is measured: bench/apps/ws_sink.py
accepts -n WebSockets and never receives, while bench/tools/wsbench
(built into bench/.bin/wsbench if missing) floods each with --ws-size
byte messages for --hold seconds; the same RSS peaks are printed, and the
bytes the clients got in.

    bench/tools/stalled_readers.py --binary bench/.bin/gowsgi -n 1000 --ws-flood --ws-size 65536

Arguments after `--` go to the server's command line as they are.
Standard library only; bounded in time (--timeout)."""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from measure import rss_kib, tree  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def workers_of(pid):
    pids, _ = tree(pid)
    return [p for p in pids if p != pid]


def metrics(url, *names):
    """The values of gauges names at url (a Prometheus text page); None
    for each one missing."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return [None] * len(names)
    out = []
    for name in names:
        m = re.search(r'^%s(?:\{[^}]*\})? (\S+)$' % re.escape(name), text, re.M)
        out.append(float(m.group(1)) if m else None)
    return out


def fetch(port, path, limit):
    """GET path on a fresh connection and read the whole answer: (status,
    body bytes, seconds). Content-Length bodies, or until the server closes."""
    t0 = time.monotonic()
    s = socket.create_connection(('127.0.0.1', port), timeout=limit)
    try:
        s.sendall(('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' % path).encode())
        buf = b''
        while b'\r\n\r\n' not in buf:
            d = s.recv(65536)
            if not d:
                return 0, 0, time.monotonic() - t0
            buf += d
        head, _, body = buf.partition(b'\r\n\r\n')
        status = int(head.split(b' ', 2)[1])
        n = len(body)
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            n += len(d)
        return status, n, time.monotonic() - t0
    except OSError:
        return 0, 0, time.monotonic() - t0
    finally:
        s.close()


def wsbench_binary():
    """bench/.bin/wsbench, built if missing."""
    path = os.path.join(ROOT, 'bench', '.bin', 'wsbench')
    if not os.access(path, os.X_OK):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run(['go', 'build', '-o', path, './bench/tools/wsbench'], cwd=ROOT, check=True)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--binary', required=True)
    ap.add_argument('-n', '--clients', type=int, default=300)
    ap.add_argument('--interface', default='asgi', help='passed as --interface (auto, wsgi, asgi)')
    ap.add_argument('--app', default=None, help='module:callable (asgi_raw:app; ws_sink:app with --ws-flood)')
    ap.add_argument('--chdir', default=None, help='tests/testdata/apps (bench/apps with --ws-flood)')
    ap.add_argument('--python', default='/usr/bin/python3')
    ap.add_argument('--path', default='/big?size=104857600', help='what each stalled client asks for')
    ap.add_argument('--fresh-path', default='/big?size=33554432', help='what a fresh client reads whole meanwhile')
    ap.add_argument('--probe', default='/stream?n=1', help='a normal request served meanwhile')
    ap.add_argument('--hold', type=float, default=10, help='seconds to sample the RSS while they stall')
    ap.add_argument('--metrics', action='store_true', help='serve --metrics-bind and sample gowsgi_response_memory_bytes')
    ap.add_argument('--ws-flood', action='store_true', help='WebSockets flooding an app that never receives')
    ap.add_argument('--ws-size', type=int, default=65536, help='--ws-flood: message size in bytes')
    ap.add_argument('--timeout', type=float, default=120)
    ap.add_argument('extra', nargs='*', help='after --: more server flags')
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    if a.app is None:
        a.app = 'ws_sink:app' if a.ws_flood else 'asgi_raw:app'
    if a.chdir is None:
        a.chdir = os.path.join(ROOT, 'bench', 'apps') if a.ws_flood else os.path.join(ROOT, 'tests', 'testdata', 'apps')
    wsbench = wsbench_binary() if a.ws_flood else None

    port = free_port()
    state = tempfile.mkdtemp(prefix='stalled-')
    cmd = [a.binary, a.app, '--interface', a.interface, '--chdir', a.chdir, '--python', a.python,
           '-b', '127.0.0.1:%d' % port, '-w', '1', '--no-access-log']
    murl = None
    if a.metrics:
        mport = free_port()
        cmd += ['--metrics-bind', '127.0.0.1:%d' % mport]
        murl = 'http://127.0.0.1:%d/metrics' % mport
    cmd += a.extra
    env = dict(os.environ, PROBE_STATE_DIR=state)
    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    conns, flood = [], None
    try:
        if not wait_port(port, deadline):
            sys.exit('stalled_readers: the server did not listen')
        fetch(port, a.probe, 5)  # warm up
        time.sleep(1)
        front_base = rss_kib(srv.pid)
        worker_base = sum(rss_kib(p) for p in workers_of(srv.pid))
        if a.ws_flood:
            flood = subprocess.Popen([wsbench, '-url', 'ws://127.0.0.1:%d/' % port, '-c', str(a.clients),
                                      '-d', '%gs' % a.hold, '-size', str(a.ws_size), '-flood'],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        else:
            req = ('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' % a.path).encode()
            for _ in range(a.clients):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(('127.0.0.1', port))
                s.sendall(req)
                conns.append(s)
        front_peak, worker_peak, gauge_peak, heap_peak = front_base, worker_base, None, None
        heap_base = None
        if murl:
            target, = metrics(murl, 'go_memstats_next_gc_bytes')
            heap_base = target / 2 if target is not None else None
        end = min(time.monotonic() + a.hold, deadline - 30)
        while time.monotonic() < end or (flood is not None and flood.poll() is None and time.monotonic() < deadline - 20):
            time.sleep(0.25)
            front_peak = max(front_peak, rss_kib(srv.pid))
            worker_peak = max(worker_peak, sum(rss_kib(p) for p in workers_of(srv.pid)))
            if murl:
                g, target = metrics(murl, 'gowsgi_response_memory_bytes', 'go_memstats_next_gc_bytes')
                if g is not None:
                    gauge_peak = g if gauge_peak is None else max(gauge_peak, g)
                if target is not None:
                    heap_peak = max(heap_peak or 0, target / 2)
        growth = front_peak - front_base
        out = {
            'binary': a.binary, 'clients': a.clients, 'extra': a.extra,
            'front_base_kib': front_base, 'front_peak_kib': front_peak, 'front_growth_kib': growth,
            'per_client_kib': round(growth / max(a.clients, 1), 1),
            'worker_base_kib': worker_base, 'worker_peak_kib': worker_peak,
            'worker_per_client_kib': round((worker_peak - worker_base) / max(a.clients, 1), 1),
            'response_memory_peak': gauge_peak, 'live_heap_base': heap_base, 'live_heap_peak': heap_peak,
        }
        print('%s: %d %s: front RSS %d -> peak %d KiB (+%.1f MiB, %.0f KiB each); workers %d -> %d KiB (+%.1f MiB, %.0f KiB each)'
              % (a.binary, a.clients, 'flooding WebSockets' if a.ws_flood else 'stalled clients', front_base, front_peak,
                 growth / 1024, out['per_client_kib'], worker_base, worker_peak, (worker_peak - worker_base) / 1024,
                 out['worker_per_client_kib']))
        if flood is not None:
            try:
                res = json.loads(flood.communicate(timeout=max(1, deadline - time.monotonic()))[0].strip().splitlines()[-1])
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                res = {}
            out['ws_bytes_in'] = res.get('flood_bytes_sent')
            print('the clients got %s bytes in' % out['ws_bytes_in'])
        else:
            out['fresh_status'], out['fresh_bytes'], fresh_s = fetch(port, a.fresh_path, max(5, deadline - time.monotonic() - 20))
            out['probe_status'], _, probe_s = fetch(port, a.probe, 10)
            out['fresh_s'], out['probe_s'] = round(fresh_s, 3), round(probe_s, 3)
            print('meanwhile: a fresh client read %d bytes (status %d) in %.2f s; %s got %d in %.3f s'
                  % (out['fresh_bytes'], out['fresh_status'], fresh_s, a.probe, out['probe_status'], probe_s))
        if gauge_peak is not None:
            print('gowsgi_response_memory_bytes peak: %.1f MiB' % (gauge_peak / 2**20))
        if heap_peak is not None and heap_base is not None:
            print('front live heap (half the Go collector\'s next target): %.1f -> peak %.1f MiB (+%.0f KiB each)'
                  % (heap_base / 2**20, heap_peak / 2**20, (heap_peak - heap_base) / 1024 / max(a.clients, 1)))
        print(json.dumps(out))
    finally:
        if flood is not None and flood.poll() is None:
            flood.kill()
            flood.wait()
        for s in conns:
            s.close()
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=15)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == '__main__':
    main()
