#!/usr/bin/env python3
"""Process-tree and wrk helpers for bench/run.sh (stdlib only).

Subcommands:
  freeport                 print a free TCP port on 127.0.0.1
  ready                    wait (bounded) until a port accepts, then warm the app up
  run                      run wrk while sampling the server's process tree
                           (CPU seconds before/after, peak summed VmRSS), write JSON
  snapshot PID             print the process tree under PID as "pid:starttime" lines
  reap FILE                after the root of a snapshot exited: wait (bounded) for the
                           other members, then SIGTERM / SIGKILL the ones still alive
                           (only if their start time matches the snapshot)
  note                     append a case record to results.jsonl
  has-case                 exit 0 if results.jsonl has an ok case (scenario/server/workers)
  parse-wrk FILE           parse a wrk --latency output, print JSON
  meta                     print machine facts and tool versions as JSON
"""

import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf('SC_CLK_TCK')


# ---------------------------------------------------------------- /proc ----

def _stat_fields(pid):
    """Fields of /proc/PID/stat after the comm field (index 0 = state)."""
    with open('/proc/%d/stat' % pid, 'rb') as f:
        data = f.read().decode('ascii', 'replace')
    return data[data.rindex(')') + 2:].split()


def proc_table():
    """{pid: (ppid, state, starttime, cpu_ticks)} for every visible process.

    cpu_ticks = utime + stime + cutime + cstime: the process' own threads plus
    the children it has already reaped (an exited worker's time moves into its
    parent's cutime/cstime, so summing over the live tree never loses it).
    """
    table = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            f = _stat_fields(pid)
        except (OSError, ValueError):
            continue
        # after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13)
        # cstime(14) ... starttime(19)
        table[pid] = (int(f[1]), f[0], int(f[19]),
                      int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]))
    return table


def tree(root, table=None):
    """PIDs of root and all its descendants (zombies excluded)."""
    table = proc_table() if table is None else table
    children = {}
    for pid, (ppid, _s, _st, _c) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid not in table:
            continue
        if table[pid][1] != 'Z':
            out.append(pid)
        todo.extend(children.get(pid, ()))
    return out, table


def tree_cpu_seconds(root):
    pids, table = tree(root)
    return sum(table[p][3] for p in pids) / CLK_TCK, len(pids)


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def accept_queue(port):
    """Connections waiting in the accept queue of the listening socket(s) on
    port (Recv-Q of a LISTEN socket): established by the kernel, not yet
    taken by the server. wrk never reports requests on such connections."""
    total, hexport = 0, ':%04X' % port
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == '0A' and p[1].endswith(hexport):
                        total += int(p[4].split(':')[1], 16)
        except (OSError, StopIteration, IndexError, ValueError):
            pass
    return total


def alive(pid, starttime=None):
    try:
        f = _stat_fields(pid)
    except (OSError, ValueError):
        return False
    if f[0] in ('Z', 'X'):
        return False
    return starttime is None or int(f[19]) == starttime


# ------------------------------------------------------------------ wrk ----

_UNITS = {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 60e3, 'h': 3600e3}


def _ms(text):
    m = re.match(r'^([\d.]+)(us|ms|s|m|h)$', text.strip())
    if not m:
        return None
    return round(float(m.group(1)) * _UNITS[m.group(2)], 4)


def _count(text):
    m = re.match(r'^([\d.]+)([kMG]?)$', text.strip())
    if not m:
        return None
    return float(m.group(1)) * {'': 1, 'k': 1e3, 'M': 1e6, 'G': 1e9}[m.group(2)]


def parse_wrk(text):
    r = {'requests': None, 'duration_s': None, 'rps': None, 'p50_ms': None,
         'p75_ms': None, 'p90_ms': None, 'p99_ms': None, 'avg_ms': None,
         'max_ms': None, 'connect_errors': 0, 'read_errors': 0,
         'write_errors': 0, 'timeouts': 0, 'non2xx': 0}
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r'^Latency\s+(\S+)\s+(\S+)\s+(\S+)', s)
        if m:
            r['avg_ms'], r['max_ms'] = _ms(m.group(1)), _ms(m.group(3))
            continue
        m = re.match(r'^(50|75|90|99)%\s+(\S+)$', s)
        if m:
            r['p%s_ms' % m.group(1)] = _ms(m.group(2))
            continue
        m = re.match(r'^(\d+) requests in ([\d.]+)(us|ms|s|m|h),', s)
        if m:
            r['requests'] = int(m.group(1))
            r['duration_s'] = _ms(m.group(2) + m.group(3)) / 1e3
            continue
        m = re.match(r'^Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', s)
        if m:
            (r['connect_errors'], r['read_errors'], r['write_errors'],
             r['timeouts']) = map(int, m.groups())
            continue
        m = re.match(r'^Non-2xx or 3xx responses: (\d+)', s)
        if m:
            r['non2xx'] = int(m.group(1))
            continue
        m = re.match(r'^Requests/sec:\s+([\d.]+)', s)
        if m:
            r['rps'] = float(m.group(1))
    # With 0 requests wrk prints "0.00us" everywhere: no latency was measured.
    if not r['requests']:
        for k in ('p50_ms', 'p75_ms', 'p90_ms', 'p99_ms', 'avg_ms', 'max_ms'):
            r[k] = None
    r['errors'] = (r['connect_errors'] + r['read_errors'] + r['write_errors']
                   + r['timeouts'] + r['non2xx'])
    return r


# ------------------------------------------------------------- records ----

_INT_KEYS = {'workers', 'repeat', 'port', 'leftover_procs'}
_FLOAT_KEYS = {'stop_s', 'case_s'}


def parse_tags(tags):
    out = {}
    for t in tags or ():
        k, _, v = t.partition('=')
        if k in _INT_KEYS:
            try:
                v = int(v)
            except ValueError:
                v = None if v in ('', '?') else v
        elif k in _FLOAT_KEYS:
            try:
                v = float(v)
            except ValueError:
                v = None
        out[k] = v
    return out


def append_record(path, rec):
    if path:
        with open(path, 'a') as f:
            f.write(json.dumps(rec, sort_keys=True) + '\n')


# ------------------------------------------------------------- commands ----

def cmd_freeport(_a):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    print(s.getsockname()[1])
    s.close()


def _request(port, method, path, body, timeout):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        # Connection: close, so a body without Content-Length is still
        # delimited (some servers keep the connection open otherwise)
        headers = {'Connection': 'close'}
        if body:
            headers['Content-Type'] = 'application/octet-stream'
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        return r.status, len(data)
    finally:
        c.close()


def cmd_ready(a):
    """Wait until the port accepts (bounded by --timeout), then warm the app
    up with --warm requests (bounded by --warm-timeout).

    Exit 0: ready, every warm-up request answered 200. 1: the server exited.
    2: the port never accepted. 3: it accepts, but the warm-up got non-200
    answers or did not finish in time (the benchmark still runs: it is a
    finding about the server, not a failure to start)."""
    deadline = time.monotonic() + a.timeout
    while True:
        if a.pid and not alive(a.pid):
            print('server process %d exited before accepting' % a.pid)
            return 1
        try:
            socket.create_connection(('127.0.0.1', a.port), timeout=1).close()
            break
        except OSError:
            pass
        if time.monotonic() > deadline:
            print('port %d not accepting after %.0fs' % (a.port, a.timeout))
            return 2
        time.sleep(0.05)
    body = b'x' * a.body_size if a.body_size else None
    method = 'POST' if body else 'GET'
    t0 = time.monotonic()
    warm_deadline = t0 + a.warm_timeout
    statuses, nbytes, errors = [], None, []
    while len(statuses) < a.warm:
        left = warm_deadline - time.monotonic()
        if left <= 0:
            break
        # the port can accept before the workers have loaded the app
        # (gunicorn, gowsgi): retry refused/reset connections
        try:
            st, nbytes = _request(a.port, method, a.path, body, max(0.5, left))
            statuses.append(st)
        except (OSError, http.client.HTTPException) as e:
            errors.append(e)
            if a.pid and not alive(a.pid):
                print('server process %d exited during warm-up: %r' % (a.pid, e))
                return 1
            time.sleep(0.1)
    took = time.monotonic() - t0
    msg = 'warm-up: %d/%d requests answered in %.1fs, statuses %s, last body %s bytes' % (
        len(statuses), a.warm, took, sorted(set(statuses)), nbytes)
    if errors:
        msg += '; %d errors, last %r' % (len(errors), errors[-1])
    if len(statuses) < a.warm:
        msg += ' (incomplete after the %.0fs warm-up bound)' % a.warm_timeout
    print(msg)
    return 0 if len(statuses) == a.warm and all(s == 200 for s in statuses) else 3


def cmd_run(a):
    """Run wrk (argv after --) against a server whose process tree is rooted at
    --pid; sample CPU before/after and summed RSS every --interval seconds."""
    stop = {'sig': None}

    def on_signal(signum, _frame):
        stop['sig'] = signum
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    port = None
    for arg in a.wrk:
        m = re.match(r'^https?://[^/:]+:(\d+)', arg)
        if m:
            port = int(m.group(1))
    cpu0, n0 = tree_cpu_seconds(a.pid)
    peak_kib, peak_procs, samples, backlog = 0, n0, 0, 0
    t0 = time.monotonic()
    with open(a.wrk_out, 'wb') as out:
        p = subprocess.Popen(a.wrk, stdout=out, stderr=subprocess.STDOUT)
        hard = t0 + a.limit
        while p.poll() is None:
            if stop['sig'] is not None or time.monotonic() > hard:
                p.terminate()
                try:
                    p.wait(3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                break
            pids, _t = tree(a.pid)
            kib = sum(rss_kib(q) for q in pids)
            samples += 1
            if kib > peak_kib:
                peak_kib, peak_procs = kib, len(pids)
            if port:
                backlog = max(backlog, accept_queue(port))
            try:
                p.wait(a.interval)    # returns as soon as wrk exits
            except subprocess.TimeoutExpired:
                pass
        rc = p.wait()
    wall = time.monotonic() - t0
    cpu1, n1 = tree_cpu_seconds(a.pid)
    pids, _t = tree(a.pid)
    peak_kib = max(peak_kib, sum(rss_kib(q) for q in pids))
    with open(a.wrk_out, errors='replace') as f:
        w = parse_wrk(f.read())
    cpu = cpu1 - cpu0
    res = dict(w)
    res.update({
        'wrk_rc': rc, 'wall_s': round(wall, 3),
        'server_alive_after': alive(a.pid),
        'cpu_s': round(cpu, 3),
        'cpu_s_per_10k': (round(cpu / w['requests'] * 1e4, 4)
                          if w['requests'] else None),
        'peak_rss_mib': round(peak_kib / 1024.0, 1),
        'tree_procs': max(n0, n1, peak_procs), 'rss_samples': samples,
        'max_accept_queue': backlog,
        'interrupted': stop['sig'] is not None,
    })
    res.update(parse_tags(a.tag))
    res['type'] = 'run'
    res['wrk_cmd'] = a.wrk
    res['wrk_out'] = a.wrk_out
    with open(a.json_out, 'w') as f:
        json.dump(res, f, indent=1, sort_keys=True)
    append_record(a.append, res)
    print(json.dumps({k: res[k] for k in ('rps', 'p50_ms', 'p99_ms', 'errors',
                                          'cpu_s_per_10k', 'peak_rss_mib',
                                          'max_accept_queue')}))
    return 130 if stop['sig'] is not None else 0


def cmd_snapshot(a):
    pids, table = tree(a.pid)
    for p in pids:
        print('%d:%d' % (p, table[p][2]))


def cmd_reap(a):
    """Members of a snapshot that outlived its root: give them --grace seconds
    to exit on their own, then SIGTERM, then SIGKILL. Prints how many were
    left behind (0 = the server cleaned up after itself)."""
    members = []
    with open(a.file) as f:
        for line in f:
            if ':' in line:
                pid, st = line.strip().split(':')
                members.append((int(pid), int(st)))
    left = lambda: [(p, st) for p, st in members if alive(p, st)]
    deadline = time.monotonic() + a.grace
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    stragglers = left()
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 1.0)):
        rest = left()
        if not rest:
            break
        for p, _st in rest:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while left() and time.monotonic() < deadline:
            time.sleep(0.05)
    print(len(stragglers))


def cmd_note(a):
    """Append a case record (tags, the server argv, attached JSON files)."""
    rec = parse_tags(a.tag)
    rec['type'] = 'case'
    if a.cmd_file:
        try:
            with open(a.cmd_file, 'rb') as f:
                rec['cmd'] = [x.decode('utf-8', 'replace')
                              for x in f.read().split(b'\0') if x]
        except OSError:
            rec['cmd'] = None
    for item in a.json or ():
        name, _, path = item.partition('=')
        try:
            with open(path) as f:
                rec[name] = json.load(f)
        except (OSError, ValueError) as e:
            rec[name] = {'error': str(e)}
    append_record(a.append, rec)


def cmd_has_case(a):
    """Exit 0 if results.jsonl holds an ok case for scenario/server/workers."""
    try:
        with open(a.results) as f:
            for line in f:
                r = json.loads(line)
                if (r.get('type') == 'case' and r.get('status') == 'ok'
                        and r.get('scenario') == a.scenario
                        and r.get('server') == a.server
                        and r.get('workers') == a.workers):
                    return 0
    except (OSError, ValueError):
        pass
    return 1


def cmd_parse_wrk(a):
    with open(a.file, errors='replace') as f:
        print(json.dumps(parse_wrk(f.read()), indent=1, sort_keys=True))


def _version(argv, pattern=None, timeout=10):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out = p.stdout.decode('utf-8', 'replace').strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return 'unavailable (%s)' % e.__class__.__name__
    if pattern:
        m = re.search(pattern, out)
        return m.group(1) if m else out.splitlines()[0] if out else '?'
    return out.splitlines()[0] if out else '?'


def _pydist(python, dist):
    code = ('import importlib.metadata as m, sys\n'
            'try: print(m.version(sys.argv[1]))\n'
            'except Exception: print("not installed")')
    return _version([python, '-c', code, dist])


def cmd_meta(a):
    cpu = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem = '?'
    try:
        with open('/proc/meminfo') as f:
            kib = int(f.readline().split()[1])
            mem = '%.1f GiB' % (kib / 1048576.0)
    except (OSError, ValueError, IndexError):
        pass
    py = a.python
    meta = {
        'hostname': platform.node(),
        'nproc': os.cpu_count(),
        'affinity_cpus': len(os.sched_getaffinity(0)),
        'cpu_model': cpu,
        'memory': mem,
        'kernel': platform.release(),
        'os': _version(['sh', '-c', '. /etc/os-release && echo "$PRETTY_NAME"']),
        'loadavg_at_start': open('/proc/loadavg').read().split()[:3],
        'versions': {
            'python': _version([py, '-c', 'import sys; print(sys.version.split()[0])']),
            'go': _version(['go', 'version'], r'go version (\S+)'),
            'wrk': _version(['wrk', '-v'], r'wrk (\S+)'),
            'gowsgi': a.gowsgi_version,
            'gunicorn': _pydist(py, 'gunicorn'),
            'gevent': _pydist(py, 'gevent'),
            'uwsgi': _version(['uwsgi', '--version']),
            'waitress': _pydist(py, 'waitress'),
            'flask': _pydist(py, 'flask'),
            'werkzeug': _pydist(py, 'werkzeug'),
        },
    }
    print(json.dumps(meta, indent=1, sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('freeport')
    p = sub.add_parser('ready')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--pid', type=int, default=0)
    p.add_argument('--timeout', type=float, default=30)
    p.add_argument('--path', default='/')
    p.add_argument('--warm', type=int, default=20)
    p.add_argument('--warm-timeout', type=float, default=10)
    p.add_argument('--body-size', type=int, default=0)
    p = sub.add_parser('run')
    p.add_argument('--pid', type=int, required=True)
    p.add_argument('--wrk-out', required=True)
    p.add_argument('--json-out', required=True)
    p.add_argument('--interval', type=float, default=0.25)
    p.add_argument('--limit', type=float, default=600, help='hard bound on wrk, seconds')
    p.add_argument('--append', help='results.jsonl to append the record to')
    p.add_argument('--tag', action='append', help='KEY=VALUE stored in the record')
    p.add_argument('wrk', nargs=argparse.REMAINDER)
    p = sub.add_parser('note')
    p.add_argument('--append', required=True)
    p.add_argument('--tag', action='append')
    p.add_argument('--cmd-file')
    p.add_argument('--json', action='append', help='NAME=FILE: attach a JSON file')
    p = sub.add_parser('has-case')
    p.add_argument('--results', required=True)
    p.add_argument('--scenario', required=True)
    p.add_argument('--server', required=True)
    p.add_argument('--workers', type=int, required=True)
    p = sub.add_parser('snapshot')
    p.add_argument('pid', type=int)
    p = sub.add_parser('reap')
    p.add_argument('file')
    p.add_argument('--grace', type=float, default=3)
    p = sub.add_parser('parse-wrk')
    p.add_argument('file')
    p = sub.add_parser('meta')
    p.add_argument('--python', default='/usr/bin/python3')
    p.add_argument('--gowsgi-version', default='not available')
    a = ap.parse_args()
    if a.cmd == 'run':
        if a.wrk and a.wrk[0] == '--':
            a.wrk = a.wrk[1:]
        if not a.wrk:
            ap.error('run: wrk command missing after --')
    fn = {'freeport': cmd_freeport, 'ready': cmd_ready, 'run': cmd_run,
          'snapshot': cmd_snapshot, 'reap': cmd_reap, 'parse-wrk': cmd_parse_wrk,
          'note': cmd_note, 'has-case': cmd_has_case,
          'meta': cmd_meta}[a.cmd]
    sys.exit(fn(a) or 0)


if __name__ == '__main__':
    main()
