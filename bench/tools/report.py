#!/usr/bin/env python3
"""Turn a run's results.jsonl + meta.json into RESULTS.md and results.json.

    report.py --run-dir bench/raw/TS --out-md F --out-json F [--notes-from bench/RESULTS.md] ...
    report.py --print-tables results.json      # the scenario tables, on stdout
"""

import argparse
import json
import os
import shlex
import statistics
import sys

SERVER_ORDER = ['gowsgi', 'wsgiref', 'gunicorn-sync', 'gunicorn-gthread',
                'gunicorn-gevent', 'uwsgi', 'waitress']
SCENARIOS = [
    ('playground', "the seed's playground app: a generator body without Content-Length"),
    ('hello', 'hello with Content-Length (a list body)'),
    ('big1m', 'a 1 MiB response body'),
    ('echo64k', 'a 64 KiB POST, echoed back (wrk script bench/lua/post64k.lua)'),
    ('sleep-c50', 'time.sleep(0.010) per request, 50 connections (threaded servers at 64 threads)'),
    ('sleep-c500', 'time.sleep(0.010) per request, 500 connections (threaded servers at 64 threads)'),
    ('flask', 'a Flask JSON route (GET /json)'),
    ('slowclients', 'hello while 500 idle keep-alive and 200 slowloris connections '
                    '(one header byte every 3 s) are held open; "without" is the hello '
                    'scenario of the same run'),
]
NOTES_OPEN, NOTES_CLOSE = '<!-- notes -->', '<!-- /notes -->'
ERR_KEYS = [('connect_errors', 'connect'), ('read_errors', 'read'),
            ('write_errors', 'write'), ('timeouts', 'timeout'), ('non2xx', 'non-2xx')]


def load_jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def server_rank(s):
    return SERVER_ORDER.index(s) if s in SERVER_ORDER else len(SERVER_ORDER)


def aggregate(runs):
    """Combine the repeats of one case."""
    ok = [r for r in runs if r.get('requests')]
    agg = {'runs': len(runs), 'rps': None, 'rps_runs': [r.get('rps') for r in runs],
           'spread_pct': None, 'p50_ms': None, 'p99_ms': None, 'max_ms': None,
           'requests': sum(r.get('requests') or 0 for r in runs),
           'cpu_s': round(sum(r.get('cpu_s') or 0 for r in runs), 3),
           'cpu_s_per_10k': None, 'peak_rss_mib': None,
           'errors': {k: sum(r.get(k) or 0 for r in runs) for k, _ in ERR_KEYS}}
    agg['errors']['total'] = sum(agg['errors'][k] for k, _ in ERR_KEYS)
    rps = [r['rps'] for r in runs if r.get('rps') is not None]
    if rps:
        agg['rps'] = round(statistics.mean(rps), 1)
        if len(rps) > 1 and agg['rps']:
            agg['spread_pct'] = round((max(rps) - min(rps)) / agg['rps'] * 100, 1)
    for k in ('p50_ms', 'p99_ms'):
        v = [r[k] for r in ok if r.get(k) is not None]
        agg[k] = round(statistics.mean(v), 3) if v else None
    v = [r['max_ms'] for r in ok if r.get('max_ms') is not None]
    agg['max_ms'] = max(v) if v else None
    if agg['requests']:
        agg['cpu_s_per_10k'] = round(agg['cpu_s'] / agg['requests'] * 1e4, 4)
    v = [r['peak_rss_mib'] for r in runs if r.get('peak_rss_mib') is not None]
    agg['peak_rss_mib'] = max(v) if v else None
    v = [r['max_accept_queue'] for r in runs if r.get('max_accept_queue') is not None]
    agg['max_accept_queue'] = max(v) if v else None
    return agg


def build(run_dir, args):
    recs = load_jsonl(os.path.join(run_dir, 'results.jsonl'))
    with open(os.path.join(run_dir, 'meta.json')) as f:
        meta = json.load(f)
    runs = [r for r in recs if r.get('type') == 'run']
    cases = []
    for c in (r for r in recs if r.get('type') == 'case'):
        key = (c['scenario'], c['server'], c.get('workers'))
        mine = [r for r in runs if (r['scenario'], r['server'], r.get('workers')) == key]
        case = {k: c.get(k) for k in ('scenario', 'server', 'workers', 'workers_set',
                                      'status', 'reason', 'concurrency', 'warmup',
                                      'stop', 'stop_s', 'leftover_procs', 'cmd',
                                      'slowclients')}
        case['port'] = c.get('port')
        case['result'] = aggregate([r for r in mine if r.get('variant') == 'main'])
        base = [r for r in mine if r.get('variant') == 'baseline']
        if c['scenario'] == 'slowclients':
            if base:
                case['without'] = aggregate(base)
                case['without_from'] = 'baseline runs in this case'
            else:
                hello = [r for r in runs if r['scenario'] == 'hello' and r['server'] == c['server']
                         and r.get('workers') == c.get('workers') and r.get('variant') == 'main']
                if hello:
                    case['without'] = aggregate(hello)
                    case['without_from'] = 'hello scenario of this run'
        cases.append(case)
    # wrk command per scenario (first run seen), with the port made generic
    wrk = {}
    for r in runs:
        if r['scenario'] not in wrk and r.get('wrk_cmd'):
            wrk[r['scenario']] = generic_cmd(r['wrk_cmd'], port_of(r))
    doc = {
        'generated': args.finished,
        'run': {'id': os.path.basename(os.path.normpath(run_dir)), 'started': args.started,
                'finished': args.finished, 'elapsed_s': args.elapsed,
                'duration_s': args.duration, 'repeat': args.repeat, 'matrix': args.matrix,
                'workers_sets': args.workers_sets, 'only': args.only, 'servers': args.servers,
                'wrk_threads': args.wrk_threads, 'wrk_timeout_s': args.wrk_timeout,
                'raw_dir': os.path.relpath(run_dir, args.root) if args.root else run_dir},
        'machine': {k: v for k, v in meta.items() if k != 'versions'},
        'versions': meta.get('versions', {}),
        'wrk_commands': wrk,
        'cases': cases,
        'runs': [{k: v for k, v in r.items() if k not in ('wrk_cmd',)} for r in runs],
    }
    for r in doc['runs']:
        if r.get('wrk_out') and args.root:
            r['wrk_out'] = os.path.relpath(r['wrk_out'], args.root)
    for c in cases:
        if c.get('cmd'):
            c['cmd_str'] = generic_cmd(c.pop('cmd'), c.get('port'))
    return doc


def port_of(run):
    for a in run.get('wrk_cmd') or ():
        if a.startswith('http://127.0.0.1:'):
            return int(a.split(':')[2].split('/')[0])
    return None


def generic_cmd(argv, port):
    s = shlex.join(argv)
    if port:
        s = s.replace('127.0.0.1:%d' % port, '127.0.0.1:$PORT')
    return s


# -------------------------------------------------------------- format ----

def f_num(v, nd=None):
    if v is None:
        return '—'
    if nd is not None:
        return '%.*f' % (nd, v)
    a = abs(v)
    if a >= 100:
        return '{:,.0f}'.format(v)
    if a >= 10:
        return '%.1f' % v
    if a >= 1:
        return '%.2f' % v
    return '%.3f' % v


def f_rps(v):
    return '—' if v is None else '{:,.0f}'.format(v)


def f_err(e):
    if not e or not e.get('total'):
        return '0'
    parts = ['%s %s' % (label, f_count(e[k])) for k, label in ERR_KEYS if e.get(k)]
    return '%s (%s)' % (f_count(e['total']), ', '.join(parts))


def f_count(n):
    return '{:,}'.format(n)


def f_ratio(a, b):
    if a is None or b is None:
        return '—'
    if b == 0:
        return 'both 0' if a == 0 else '∞ (peer 0)'
    return '%.2f×' % (a / b)


def table(header, rows):
    out = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join('---' if i < 3 else '---:' for i in range(len(header))) + '|']
    for r in rows:
        out.append('| ' + ' | '.join(str(x).replace('|', '\\|') for x in r) + ' |')
    return '\n'.join(out)


def short(text, n=160):
    text = ' '.join(str(text or '').split())
    return text if len(text) <= n else text[:n - 1] + '…'


def sorted_cases(cases, scenario):
    cs = [c for c in cases if c['scenario'] == scenario]
    return sorted(cs, key=lambda c: (c.get('workers') or 0, server_rank(c['server'])))


def gowsgi_case(cases, scenario, workers):
    for c in cases:
        if (c['scenario'], c['server'], c.get('workers')) == (scenario, 'gowsgi', workers) \
                and c['status'] == 'ok':
            return c
    return None


def scenario_table(doc, scenario):
    cases = sorted_cases(doc['cases'], scenario)
    if not cases:
        return None
    slow = scenario == 'slowclients'
    header = ['server', 'workers', 'per process', 'req/s', '±%', 'p50 ms', 'p99 ms',
              'max ms', 'errors', 'CPU s/10k req', 'peak RSS MiB', 'accept queue max']
    if slow:
        header.insert(4, 'req/s without')
        header.insert(5, 'kept')
        header.append('slow clients at end (idle open / slowloris open / reconnects)')
    header.append('gowsgi ÷ this (req/s)')
    rows = []
    for c in cases:
        res = c['result']
        if c['status'] not in ('ok', 'warmup_problem'):
            blank = ['—'] * (len(header) - 3)
            blank[0] = '%s: %s' % (c['status'].replace('_', ' '), short(c.get('reason'), 120))
            rows.append([c['server'], c.get('workers'), c.get('concurrency') or '—'] + blank)
            continue
        g = gowsgi_case(doc['cases'], scenario, c.get('workers'))
        row = [c['server'] + (' (warm-up problem)' if c['status'] == 'warmup_problem' else ''),
               c.get('workers'), c.get('concurrency') or '—', f_rps(res['rps']),
               f_num(res['spread_pct'], 1) if res['spread_pct'] is not None else '—',
               f_num(res['p50_ms']), f_num(res['p99_ms']), f_num(res['max_ms']),
               f_err(res['errors']) if res['requests'] else
               'no response; ' + f_err(res['errors']), f_num(res['cpu_s_per_10k'], 2),
               f_num(res['peak_rss_mib'], 1),
               '—' if res.get('max_accept_queue') is None else res['max_accept_queue']]
        if slow:
            w = c.get('without') or {}
            row.insert(4, f_rps(w.get('rps')))
            kept = ('%.0f%%' % (res['rps'] / w['rps'] * 100)
                    if res.get('rps') is not None and w.get('rps') else '—')
            row.insert(5, kept)
            end = ((c.get('slowclients') or {}).get('at_end')) or {}
            row.append('%s / %s / %s' % (end.get('idle_open', '—'), end.get('slow_open', '—'),
                                         end.get('slow_reconnects', '—')) if end else '—')
        if c['server'] == 'gowsgi':
            row.append('—')
        else:
            row.append(f_ratio(g['result']['rps'], res['rps']) if g else 'n/a')
        rows.append(row)
    return table(header, rows)


def ratio_matrix(doc, metric, label):
    """rows: scenario (workers); columns: peers; cell: gowsgi ÷ peer."""
    cases = [c for c in doc['cases'] if c['status'] == 'ok']
    peers = sorted({c['server'] for c in cases if c['server'] != 'gowsgi'}, key=server_rank)
    keys = []
    for name, _d in SCENARIOS:
        for w in sorted({c.get('workers') for c in cases if c['scenario'] == name}):
            keys.append((name, w))
    rows = []
    for name, w in keys:
        g = gowsgi_case(cases, name, w)
        if not g:
            continue
        row = ['%s (w=%s)' % (name, w)]
        for p in peers:
            pc = [c for c in cases if (c['scenario'], c['server'], c.get('workers')) == (name, p, w)]
            row.append(f_ratio(g['result'][metric], pc[0]['result'][metric]) if pc else '')
        rows.append(row)
    if not rows or not peers:
        return None
    return label + '\n\n' + table(['scenario'] + peers, rows)


def render_md(doc, notes):
    run, m, v = doc['run'], doc['machine'], doc['versions']
    L = ['# gowsgi benchmark results', '',
         '_Written by `bench/run.sh` (run `%s`, finished %s). The next run rewrites this '
         'file except what stands between the notes markers below._' % (run['id'], run['finished']),
         '', NOTES_OPEN, notes.strip('\n'), NOTES_CLOSE, '']
    filt = []
    if run.get('only'):
        filt.append('scenarios: %s' % run['only'])
    if run.get('servers'):
        filt.append('servers: %s' % run['servers'])
    L += ['## Run', '',
          '- %d case(s), each %d × %d s of `wrk --latency` (%d wrk threads, --timeout %ss); '
          'matrix: %s; workers sets: %s%s; took %d min %d s.'
          % (len(doc['cases']), run['repeat'], run['duration_s'], int(run['wrk_threads']),
             run['wrk_timeout_s'], run['matrix'],
             ', '.join(w.split(':')[0] if w.split(':')[0] == w.split(':')[1]
                       else w.replace(':', '=') for w in run['workers_sets'].split()),
             ('; filtered (%s)' % '; '.join(filt)) if filt else '',
             int(run['elapsed_s']) // 60, int(run['elapsed_s']) % 60),
          '- Machine: %s CPUs (%s usable), %s, %s RAM; kernel %s; %s; load average at start %s.'
          % (m.get('nproc'), m.get('affinity_cpus'), m.get('cpu_model'), m.get('memory'),
             m.get('kernel'), m.get('os'), ' '.join(m.get('loadavg_at_start') or [])),
          '- Server and load generator share these CPUs: absolute numbers are low and '
          'noisy; compare servers within this run (ratios), not across runs or machines.',
          '- Raw wrk outputs, server logs and per-run JSON: `%s/` (git-ignored).' % run['raw_dir'],
          '']
    L += ['### Versions', '', table(['component', 'version'],
                                    [[k, short(v[k], 120)] for k in sorted(v)]), '']
    L += ['## Summary: gowsgi ÷ each peer', '']
    any_ratio = False
    for metric, label in (('rps', 'Requests per second (above 1: gowsgi serves more):'),
                          ('cpu_s_per_10k', 'Server CPU seconds per 10k requests (below 1: gowsgi spends less):'),
                          ('p99_ms', 'p99 latency (below 1: gowsgi answers faster):')):
        t = ratio_matrix(doc, metric, label)
        if t:
            L += [t, '']
            any_ratio = True
    if not any_ratio:
        g = [c for c in doc['cases'] if c['server'] == 'gowsgi']
        why = short(g[0].get('reason'), 300) if g else 'gowsgi was not in this run'
        L += ['No ratios: gowsgi has no successful case in this run (%s).' % why, '']
    L += ['## Scenarios', '',
          'req/s is the mean of the repeats (±% = their spread, max−min over mean); p50/p99 '
          'the mean of the repeats; max the largest; errors the sum (wrk socket errors and '
          'non-2xx/3xx responses); CPU = utime+stime of the server\'s whole process tree '
          '(threads and exited children included) per 10k completed requests; peak RSS = the '
          'largest sum of VmRSS over the tree, sampled every 0.25 s; accept queue max = the most '
          'connections seen waiting in the listen socket\'s accept queue (sampled likewise). '
          'wrk only records requests that complete: connections the server never takes '
          '(a large accept queue with low latencies) or never answers (req/s 0, "no response") do not show up as '
          'errors.', '']
    for name, desc in SCENARIOS:
        t = scenario_table(doc, name)
        if not t:
            continue
        L += ['### %s' % name, '', desc + '.', '']
        if name in doc['wrk_commands']:
            L += ['`%s`' % doc['wrk_commands'][name], '']
        L += [t, '']
    L += ['## Server commands', '',
          'Each server is started with its working directory at `bench/apps/` on a free port '
          '(`$PORT`), waited for (port accepting, then 20 warm-up requests), measured, and '
          'stopped with SIGTERM (SIGKILL after a bound).', '']
    seen = {}
    for c in sorted(doc['cases'], key=lambda c: (server_rank(c['server']), c.get('workers') or 0)):
        if c.get('cmd_str'):
            seen.setdefault(c['server'], {}).setdefault(c['cmd_str'], []).append(
                '%s w=%s' % (c['scenario'], c.get('workers')))
    for srv in sorted(seen, key=server_rank):
        L += ['**%s**' % srv, '', '```']
        for cmd, where in seen[srv].items():
            L += ['# %s' % ', '.join(where), cmd]
        L += ['```', '']
    problems = []
    for c in doc['cases']:
        where = '%s / %s / workers=%s' % (c['scenario'], c['server'], c.get('workers'))
        if c['status'] != 'ok':
            problems.append('- %s: **%s** %s' % (where, c['status'].replace('_', ' '),
                                                  short(c.get('reason') or c.get('warmup'), 400)))
        if c.get('leftover_procs'):
            problems.append('- %s: %s process(es) of the server\'s tree outlived it after '
                            'SIGTERM and were killed' % (where, c['leftover_procs']))
        if c.get('stop') == 'kill':
            problems.append('- %s: did not exit within the stop bound after SIGTERM; SIGKILLed'
                            % where)
    for r in doc['runs']:
        if r.get('wrk_rc'):
            problems.append('- %s / %s / workers=%s, %s run %s: wrk exited with status %s (see %s)'
                            % (r['scenario'], r['server'], r.get('workers'), r.get('variant'),
                               r.get('repeat'), r['wrk_rc'], r.get('wrk_out')))
    L += ['## Problems seen in this run', '']
    L += problems or ['None.']
    L += ['']
    return '\n'.join(L)


def read_notes(path):
    default = ('_Hand-written notes go here; `bench/run.sh` keeps whatever stands between '
               'these markers._')
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return default
    i = text.find(NOTES_OPEN)
    j = text.find(NOTES_CLOSE, i + 1) if i >= 0 else -1
    if i < 0 or j < 0:
        return default
    return text[i + len(NOTES_OPEN):j].strip('\n') or default


def print_tables(path):
    with open(path) as f:
        doc = json.load(f)
    for name, _desc in SCENARIOS:
        t = scenario_table(doc, name)
        if t:
            print('\n## %s\n\n%s' % (name, t))
    t = ratio_matrix(doc, 'rps', '\n## gowsgi ÷ peer, req/s')
    if t:
        print(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--print-tables', metavar='RESULTS_JSON')
    ap.add_argument('--run-dir')
    ap.add_argument('--bench-dir')
    ap.add_argument('--root', default='')
    ap.add_argument('--out-md')
    ap.add_argument('--out-json')
    ap.add_argument('--notes-from', default='')
    ap.add_argument('--duration', type=int, default=0)
    ap.add_argument('--repeat', type=int, default=0)
    ap.add_argument('--matrix', default='')
    ap.add_argument('--workers-sets', default='')
    ap.add_argument('--only', default='')
    ap.add_argument('--servers', default='')
    ap.add_argument('--started', default='')
    ap.add_argument('--finished', default='')
    ap.add_argument('--elapsed', type=int, default=0)
    ap.add_argument('--wrk-threads', default='')
    ap.add_argument('--wrk-timeout', default='')
    a = ap.parse_args()
    if a.print_tables:
        print_tables(a.print_tables)
        return
    if not (a.run_dir and a.out_md and a.out_json):
        ap.error('--run-dir, --out-md and --out-json are required')
    doc = build(a.run_dir, a)
    with open(a.out_json, 'w') as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write('\n')
    with open(a.out_md, 'w') as f:
        f.write(render_md(doc, read_notes(a.notes_from)))


if __name__ == '__main__':
    sys.exit(main())
