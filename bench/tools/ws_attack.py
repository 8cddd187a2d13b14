#!/usr/bin/env python3
"""Hostile WebSocket clients against a server on 127.0.0.1 (issue 18), stdlib only.

    ws_attack.py SCENARIO --port P [--path /echo] [--n N] [--seconds S]

Prints one JSON line: what was sent, and how the server ended it (close code).
Scenarios:
  fragments      one message of endless 1-byte (or --empty: 0-byte) continuation frames
  endless        one message of 4 KiB fragments forever (past --ws-max-size)
  deflate-bomb   permessage-deflate: a message of 1 GiB of zeros, compressed (~1 MiB)
  close-noread   --n connections: send a close frame, read nothing, stay open
  no-close-reply --n connections: ask the server to close (/close), never answer its close
  big-ping       a ping with a 126-byte payload (must be 1002)
  handshake      --n connections that send half a handshake and stall
"""
import argparse
import base64
import json
import os
import socket
import struct
import time
import zlib

def frame(op, payload, fin=True, rsv1=False):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    n = len(payload)
    if n < 126:
        h = struct.pack('!BB', b0, 0x80 | n)
    elif n < 65536:
        h = struct.pack('!BBH', b0, 0x80 | 126, n)
    else:
        h = struct.pack('!BBQ', b0, 0x80 | 127, n)
    mask = b'\x00\x00\x00\x00'  # a zero mask: payload as is
    return h + mask + payload

def connect(a, path=None, deflate=False):
    s = socket.create_connection(('127.0.0.1', a.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    ext = 'Sec-WebSocket-Extensions: permessage-deflate\r\n' if deflate else ''
    s.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
               'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n' % (path or a.path, key, ext)).encode())
    head = b''
    while b'\r\n\r\n' not in head:
        d = s.recv(4096)
        if not d:
            raise OSError('closed in handshake')
        head += d
    status = head.split(b'\r\n', 1)[0]
    if b' 101 ' not in status:
        raise OSError('handshake: %r' % status)
    return s, head.split(b'\r\n\r\n', 1)[1]

def close_code(s, rest=b'', timeout=5):
    """Read frames until a close; return its code (None: connection ended without one)."""
    s.settimeout(timeout)
    buf = rest
    try:
        while True:
            while len(buf) >= 2:
                op, n = buf[0] & 0x0f, buf[1] & 0x7f
                off = 2
                if n == 126:
                    if len(buf) < 4: break
                    n, off = struct.unpack('!H', buf[2:4])[0], 4
                elif n == 127:
                    if len(buf) < 10: break
                    n, off = struct.unpack('!Q', buf[2:10])[0], 10
                if len(buf) < off + n: break
                if op == 8:
                    p = buf[off:off + n]
                    return struct.unpack('!H', p[:2])[0] if len(p) >= 2 else 1005
                buf = buf[off + n:]
            d = s.recv(65536)
            if not d:
                return None
            buf += d
    except (socket.timeout, OSError):
        return 'timeout'

def send_until(s, chunk, a):
    sent, end = 0, time.time() + a.seconds
    s.settimeout(2)
    try:
        while time.time() < end:
            s.sendall(chunk)
            sent += len(chunk)
    except (socket.timeout, OSError) as e:
        return sent, repr(e)
    return sent, None

def fragments(a):
    s, rest = connect(a)
    s.sendall(frame(1, b'a', fin=False))
    cont = frame(0, b'' if a.empty else b'a', fin=False)
    sent, err = send_until(s, cont * 4096, a)
    return {'frames': sent // len(cont), 'send_error': err, 'close_code': close_code(s, rest)}

def endless(a):
    s, rest = connect(a)
    s.sendall(frame(2, b'x' * 4096, fin=False))
    sent, err = send_until(s, frame(0, b'x' * 4096, fin=False) * 16, a)
    return {'bytes': sent, 'send_error': err, 'close_code': close_code(s, rest)}

def deflate_bomb(a):
    s, rest = connect(a, deflate=True)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = c.compress(b'\0' * (1 << 30)) + c.flush(zlib.Z_SYNC_FLUSH)
    data = data[:-4]  # RFC 7692: drop the 00 00 ff ff tail
    s.sendall(frame(2, data, rsv1=True))
    return {'compressed_bytes': len(data), 'inflated_bytes': 1 << 30, 'close_code': close_code(s, rest, 20)}

def close_noread(a):
    socks = []
    for _ in range(a.n):
        s, _ = connect(a)
        s.sendall(frame(8, struct.pack('!H', 1000)))
        socks.append(s)
    time.sleep(a.seconds)
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            while s.recv(1 << 16):
                pass
            closed += 1  # EOF: the server answered the close and closed
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return {'connections': len(socks), 'closed_by_server': closed}


def no_close_reply(a):
    socks = []
    for _ in range(a.n):
        s, rest = connect(a, '/close')
        socks.append(s)
    t0 = time.time()
    open_ = len(socks)
    end = t0 + a.seconds
    while time.time() < end and open_:
        open_ = 0
        for s in socks:
            s.setblocking(False)
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
            except BlockingIOError:
                open_ += 1
            except OSError:
                pass
        time.sleep(0.5)
    return {'connections': len(socks), 'still_open': open_, 'after_s': round(time.time() - t0, 1)}

def big_ping(a):
    s, rest = connect(a)
    s.sendall(frame(9, b'p' * 126))
    return {'close_code': close_code(s, rest)}

def handshake(a):
    socks = []
    for _ in range(a.n):
        s = socket.create_connection(('127.0.0.1', a.port), timeout=10)
        s.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' % a.path.encode())
        socks.append(s)
    time.sleep(a.seconds)
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            s.recv(1 << 16)  # EOF, or an answer (408/400) before the close
            closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return {'connections': len(socks), 'closed_by_server': closed}

S = {'fragments': fragments, 'endless': endless, 'deflate-bomb': deflate_bomb, 'close-noread': close_noread,
     'no-close-reply': no_close_reply, 'big-ping': big_ping, 'handshake': handshake}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('scenario', choices=sorted(S))
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--path', default='/echo')
    p.add_argument('--n', type=int, default=100)
    p.add_argument('--seconds', type=float, default=10)
    p.add_argument('--empty', action='store_true')
    a = p.parse_args()
    t0 = time.time()
    out = S[a.scenario](a)
    out.update(scenario=a.scenario, seconds=round(time.time() - t0, 1))
    print(json.dumps(out))
