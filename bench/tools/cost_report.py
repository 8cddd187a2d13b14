#!/usr/bin/env python3
"""Per-request cost records and their markdown table, for bench/cost.sh
(stdlib only).

  case   read one case's wrk output and `perf stat -x,` files (one per
         process, grouped into sides), append a JSON record to --out
  skip   append a record for a case that did not run (the reason is a note)
  table  print the markdown table of a cases.jsonl (and write it to --md)

Per request = a count over the perf window (which covers the whole wrk run,
and a few idle milliseconds around it) divided by the requests wrk completed.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import parse_wrk  # noqa: E402

# perf event -> record key
EVENTS = [
    ('task-clock', 'task_clock_ms'),
    ('context-switches', 'ctx'),
    ('raw_syscalls:sys_enter', 'syscalls'),
    ('syscalls:sys_enter_read', 'read'),
    ('syscalls:sys_enter_write', 'write'),
    ('syscalls:sys_enter_recvmsg', 'recvmsg'),
    ('syscalls:sys_enter_sendmsg', 'sendmsg'),
    ('syscalls:sys_enter_sendto', 'sendto'),
    ('syscalls:sys_enter_recvfrom', 'recvfrom'),
    ('syscalls:sys_enter_writev', 'writev'),
    ('syscalls:sys_enter_epoll_pwait', 'epoll_pwait'),
    ('syscalls:sys_enter_epoll_wait', 'epoll_wait'),
    ('syscalls:sys_enter_epoll_ctl', 'epoll_ctl'),
    ('syscalls:sys_enter_futex', 'futex'),
    ('syscalls:sys_enter_nanosleep', 'nanosleep'),
    ('syscalls:sys_enter_sendfile64', 'sendfile'),
]
KEY = dict(EVENTS)
# table columns after "syscalls/req": (header, keys summed)
SYSCALL_COLS = [
    ('read', ['read']), ('write', ['write']), ('recvmsg', ['recvmsg']),
    ('sendmsg', ['sendmsg']), ('recvfrom', ['recvfrom']), ('sendto', ['sendto']),
    ('writev', ['writev']), ('sendfile', ['sendfile']),
    ('epoll', ['epoll_wait', 'epoll_pwait']), ('epoll_ctl', ['epoll_ctl']),
    ('futex', ['futex']),
    ('nanosleep', ['nanosleep']),
]
LISTED = [k for _h, ks in SYSCALL_COLS for k in ks]


def parse_perf(path):
    """{key: value} from a `perf stat -x, -o FILE` output; a counter perf
    could not count is left out (and named in '_missing')."""
    out, missing = {}, []
    with open(path, errors='replace') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            fields = line.split(',')
            if len(fields) < 3:
                continue
            value, event = fields[0], fields[2]
            key = KEY.get(event)
            if key is None:
                continue
            try:
                out[key] = float(value)
            except ValueError:          # <not counted>, <not supported>
                missing.append(event)
    if missing:
        out['_missing'] = missing
    return out


def add(a, b):
    r = dict(a)
    for k, v in b.items():
        if k == '_missing':
            r[k] = sorted(set(r.get(k, []) + v))
        elif k == 'pids':
            r[k] = r.get(k, []) + v
        else:
            r[k] = r.get(k, 0.0) + v
    return r


def window(a, perf_path, name, pid, notes):
    """The counting window of one perf run, in seconds, from the timestamps
    its workload wrote (PERF.win: start and end, ns); noted when it does not
    cover the wrk run."""
    path = perf_path[:-len('.csv')] + '.win' if perf_path.endswith('.csv') else perf_path + '.win'
    try:
        with open(path) as f:
            t = [int(x) for x in f.read().split()]
        start, end = t[0], t[1]
    except (OSError, ValueError, IndexError):
        notes.append('%s pid %s: no window timestamps (perf did not finish normally?)' % (name, pid))
        return None
    if a.wrk_start_ns and a.wrk_end_ns and (start > a.wrk_start_ns or end < a.wrk_end_ns):
        notes.append('%s pid %s: the perf window does not cover the wrk run (it starts %+.3f s '
                     'and ends %+.3f s from it)' % (name, pid, (start - a.wrk_start_ns) / 1e9,
                                                    (end - a.wrk_end_ns) / 1e9))
    return (end - start) / 1e9


def cmd_case(a):
    with open(a.wrk, errors='replace') as f:
        w = parse_wrk(f.read())
    rec = {'type': 'case', 'scenario': a.scenario, 'server': a.server,
           'wrk': w, 'sides': [], 'notes': list(a.note or [])}
    reqs = w.get('requests')
    rec['requests'] = reqs
    if a.wrk_start_ns and a.wrk_end_ns:
        rec['wrk_wall_s'] = round((a.wrk_end_ns - a.wrk_start_ns) / 1e9, 4)
    if w.get('errors'):
        rec['notes'].append('wrk reported %d errors (connect/read/write/timeout/non-2xx: '
                            '%d/%d/%d/%d/%d)' % (w['errors'], w['connect_errors'], w['read_errors'],
                                                 w['write_errors'], w['timeouts'], w['non2xx']))
    sides = {}
    order = []
    for item in a.side or ():
        name, _, rest = item.partition('=')
        pid, _, path = rest.partition(':')
        try:
            c = parse_perf(path)
        except OSError as e:
            rec['notes'].append('%s pid %s: no perf output (%s)' % (name, pid, e))
            continue
        c['pids'] = [int(pid)]
        win = window(a, path, name, pid, rec['notes'])
        if win is not None:
            c['window_s'] = win
        if name not in sides:
            order.append(name)
            sides[name] = {}
        sides[name] = add(sides[name], c)
    if a.total and len(order) > 1:
        tot = {}
        for n in order:
            tot = add(tot, sides[n])
        sides['all'] = tot
        order.append('all')
    for n in order:
        c = sides[n]
        # a side of several processes: the mean of their windows
        win = c.pop('window_s', None)
        side = {'side': n, 'pids': c.get('pids', []),
                'window_s': round(win / len(c['pids']), 4) if win else None,
                'requests': reqs,
                'counts': {k: v for k, v in c.items() if k not in ('pids', '_missing')}}
        if c.get('_missing'):
            side['not_counted'] = c['_missing']
            rec['notes'].append('%s: perf did not count %s' % (n, ', '.join(c['_missing'])))
        rec['sides'].append(side)
    with open(a.out, 'a') as f:
        f.write(json.dumps(rec, sort_keys=True) + '\n')


def cmd_skip(a):
    with open(a.out, 'a') as f:
        f.write(json.dumps({'type': 'skip', 'scenario': a.scenario, 'server': a.server,
                            'reason': a.reason}, sort_keys=True) + '\n')


def fmt_per(v):
    if v is None:
        return '—'
    if v == 0:
        return '0'
    if v >= 100:
        return '%.0f' % v
    if v >= 10:
        return '%.1f' % v
    return '%.2f' % v


def table(records, meta):
    cols = (['scenario', 'server', 'side', 'req/s', 'CPU µs/req', 'syscalls/req']
            + [h for h, _k in SYSCALL_COLS] + ['other', 'ctx sw/req'])
    lines = ['# Cost per request', '']
    for k in ('started', 'settings', 'gowsgi', 'machine'):
        if meta.get(k):
            lines.append('- %s: %s' % (k, meta[k]))
    lines += ['- counts: `perf stat` on each process of the server (all its threads) from before '
              'wrk starts until after it ends, divided by the requests wrk completed; side "all" '
              'of gowsgi = go + python; epoll = epoll_wait + epoll_pwait; other = the syscalls '
              'outside the named columns',
              '', '| ' + ' | '.join(cols) + ' |',
              '|' + '|'.join(['---'] * 3 + ['---:'] * (len(cols) - 3)) + '|']
    notes, skipped = [], {}
    for r in records:
        tag = '%s / %s' % (r['scenario'], r['server'])
        if r['type'] == 'skip':
            skipped.setdefault((r['server'], r['reason']), []).append(r['scenario'])
            continue
        for n in r.get('notes', ()):
            notes.append('%s: %s' % (tag, n))
        rps = r['wrk'].get('rps')
        few = [s['requests'] for s in r['sides'] if not s.get('requests') or s['requests'] < 100]
        if few or not r['sides']:
            notes.append('%s: only %s requests completed in the window: per-request figures '
                         'are not meaningful' % (tag, '%.0f' % few[0] if few and few[0] else 'no'))
        for s in r['sides']:
            c = s['counts']
            reqs = s.get('requests')
            per = (lambda v: v / reqs) if reqs else (lambda v: None)
            cells = [r['scenario'], r['server'], s['side'],
                     '{:,.0f}'.format(rps) if rps is not None else '—']
            cells.append(fmt_per(per(c['task_clock_ms'] * 1000)) if 'task_clock_ms' in c else '—')
            cells.append(fmt_per(per(c['syscalls'])) if 'syscalls' in c else '—')
            for _h, ks in SYSCALL_COLS:
                have = [c[k] for k in ks if k in c]
                cells.append(fmt_per(per(sum(have))) if have else '—')
            if 'syscalls' in c:
                cells.append(fmt_per(per(max(0.0, c['syscalls'] - sum(c.get(k, 0) for k in LISTED)))))
            else:
                cells.append('—')
            cells.append(fmt_per(per(c['ctx'])) if 'ctx' in c else '—')
            lines.append('| ' + ' | '.join(cells) + ' |')
    for (server, reason), scenarios in skipped.items():
        notes.append('%s skipped (%s): %s' % (server, ', '.join(scenarios), reason))
    if notes:
        lines += [''] + ['- note: %s' % n for n in notes]
    return '\n'.join(lines) + '\n'


def cmd_table(a):
    records = []
    with open(a.cases) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    meta = {}
    for item in a.meta or ():
        k, _, v = item.partition('=')
        meta[k] = v
    text = table(records, meta)
    if a.md:
        with open(a.md, 'w') as f:
            f.write(text)
    sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('case')
    p.add_argument('--out', required=True)
    p.add_argument('--scenario', required=True)
    p.add_argument('--server', required=True)
    p.add_argument('--wrk', required=True, help='wrk output file')
    p.add_argument('--wrk-start-ns', type=int, help='when wrk was started (date +%%s%%N)')
    p.add_argument('--wrk-end-ns', type=int, help='when wrk had exited (date +%%s%%N)')
    p.add_argument('--side', action='append', help='NAME=PID:PERF_FILE (a repeated NAME is summed)')
    p.add_argument('--total', action='store_true', help='add a side "all", the sum of the others')
    p.add_argument('--note', action='append')
    p = sub.add_parser('skip')
    p.add_argument('--out', required=True)
    p.add_argument('--scenario', required=True)
    p.add_argument('--server', required=True)
    p.add_argument('--reason', required=True)
    p = sub.add_parser('table')
    p.add_argument('cases')
    p.add_argument('--md')
    p.add_argument('--meta', action='append', help='KEY=VALUE for the header')
    a = ap.parse_args()
    {'case': cmd_case, 'skip': cmd_skip, 'table': cmd_table}[a.cmd](a)


if __name__ == '__main__':
    main()
