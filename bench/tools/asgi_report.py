#!/usr/bin/env python3
"""bench/asgi.sh's report: markdown tables from a run's results.jsonl.

Per scenario and server: req/s (mean over the rounds, and each round),
p50/p99 (means), server CPU per request (utime+stime of the whole process
tree over completed requests), errors, peak RSS, and the load average when
each round started; for idle1000 the tree's RSS before/after 1,000 idle
keep-alive connections. Then gowsgi against the best peer of each scenario,
and the exact server commands."""
import argparse
import json
import shlex
import statistics
import sys
from importlib import metadata

SCEN_DESC = {
    'hello': 'raw ASGI JSON hello (`apps/asgi_hello.py`), 50 connections',
    'starlette': 'Starlette `JSONResponse` route, `GET /json` (`apps/asgi_starlette.py`), 50 connections',
    'fastapi': 'FastAPI route returning a dict, `GET /json` (`apps/asgi_fastapi.py`), 50 connections',
    'stream': 'Starlette `StreamingResponse`, 16 × 1 KiB chunks, `GET /stream`, 50 connections',
    'echo64k': 'raw ASGI echo of a 64 KiB POST (`apps/asgi_echo.py`, `lua/post64k.lua`), 50 connections',
    'sleep-c1000': 'raw ASGI `await asyncio.sleep(0.010)` (`apps/asgi_sleep.py`), 1,000 connections',
    'idle1000': 'RSS of the server tree before/after 1,000 idle keep-alive connections, one GET each (`tools/idleconns.py`)',
}


def fmt(v, spec='%.0f'):
    return '–' if v is None else spec % v


def mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.mean(xs) if xs else None


def versions():
    out = []
    for d in ('uvicorn', 'httptools', 'uvloop', 'h11', 'gunicorn', 'hypercorn', 'daphne',
              'starlette', 'fastapi'):
        try:
            out.append('%s %s' % (d, metadata.version(d)))
        except metadata.PackageNotFoundError:
            out.append('%s not installed' % d)
    return ', '.join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--results', required=True)
    ap.add_argument('--started', default='')
    ap.add_argument('--finished', default='')
    ap.add_argument('--duration', default='')
    ap.add_argument('--repeat', default='')
    ap.add_argument('--gowsgi-version', default='')
    ap.add_argument('--command', default='')
    a = ap.parse_args()

    runs, cases = {}, {}
    order_sc, order_srv = [], []
    with open(a.results) as f:
        for line in f:
            rec = json.loads(line)
            sc, srv = rec.get('scenario'), rec.get('server')
            if sc not in order_sc:
                order_sc.append(sc)
            if srv not in order_srv:
                order_srv.append(srv)
            if rec['type'] == 'run':
                runs.setdefault((sc, srv), []).append(rec)
            else:
                cases.setdefault((sc, srv), []).append(rec)

    p = print
    p('Run %s – %s, %s s per wrk run, %s rounds (servers interleaved, a fresh server per case), '
      '1 worker each, wrk `-t%s` on the same 2-core machine. gowsgi: %s. Peers: %s (Python: /usr/bin/python3).'
      % (a.started, a.finished, a.duration, a.repeat, '2', a.gowsgi_version, versions()))
    p('')
    p('Command: `%s`' % a.command)
    p('')
    summary = []
    for sc in order_sc:
        p('#### %s: %s' % (sc, SCEN_DESC.get(sc, '')))
        p('')
        if sc == 'idle1000':
            p('| server | RSS before (MiB) | RSS after (MiB) | KiB per 1,000 idle conns | answered / still open | load |')
            p('|---|---|---|---|---|---|')
        else:
            p('| server | req/s (mean) | each round | p50 ms | p99 ms | CPU µs/req | errors | peak RSS MiB | load at start |')
            p('|---|---|---|---|---|---|---|---|---|')
        best = {}
        for srv in order_srv:
            cs = cases.get((sc, srv), [])
            if not cs:
                continue
            bad = [c for c in cs if c.get('status') not in ('ok',)]
            if sc == 'idle1000':
                ok = [c for c in cs if c.get('status') == 'ok' and isinstance(c.get('idle'), dict)
                      and c['idle'].get('per_1000_kib') is not None]
                if not ok:
                    p('| %s | %s | | | | |' % (srv, (bad[0].get('status') + ': ' + str(bad[0].get('reason', ''))[:120]) if bad else 'no result'))
                    continue
                per = [c['idle']['per_1000_kib'] for c in ok]
                p('| %s | %s | %s | %s (%s) | %s | %s |' % (
                    srv, fmt(mean([c['idle']['rss_before_kib'] / 1024 for c in ok]), '%.1f'),
                    fmt(mean([c['idle']['rss_after_kib'] / 1024 for c in ok]), '%.1f'),
                    fmt(mean(per)), ', '.join(fmt(x) for x in per),
                    ', '.join('%d/%d' % (c['idle']['answered'], c['idle']['still_open']) for c in ok),
                    '; '.join(c.get('load', '') for c in ok)))
                best[srv] = {'mem': mean(per)}
                continue
            rs = runs.get((sc, srv), [])
            if not rs:
                p('| %s | %s | | | | | | | |' % (srv, (bad[0].get('status') + ': ' + str(bad[0].get('reason', ''))[:120]) if bad else 'no result'))
                continue
            rps = [r['rps'] or 0 for r in rs]
            cpu = mean([r['cpu_s_per_10k'] * 100 if r.get('cpu_s_per_10k') else None for r in rs])
            row = {'rps': mean(rps), 'p50': mean([r['p50_ms'] for r in rs]),
                   'p99': mean([r['p99_ms'] for r in rs]), 'cpu': cpu}
            best[srv] = row
            p('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                srv, fmt(row['rps']), ', '.join(fmt(x) for x in rps), fmt(row['p50'], '%.2f'),
                fmt(row['p99'], '%.2f'), fmt(cpu), sum(r['errors'] for r in rs),
                fmt(max(r['peak_rss_mib'] for r in rs), '%.1f'),
                '; '.join(r.get('load', '') for r in rs)))
        p('')
        peers = {k: v for k, v in best.items() if not k.startswith('gowsgi')}  # gowsgi-base is no peer
        if 'gowsgi' in best and peers:
            g = best['gowsgi']
            if sc == 'idle1000':
                lo = min(peers, key=lambda k: peers[k]['mem'] if peers[k]['mem'] is not None else 1e18)
                summary.append((sc, 'KiB/1,000 idle: gowsgi %s vs lowest peer %s %s' % (
                    fmt(g['mem']), lo, fmt(peers[lo]['mem']))))
            else:
                bp = max(peers, key=lambda k: peers[k]['rps'] or 0)
                b = peers[bp]
                lc = min(peers, key=lambda k: peers[k]['cpu'] if peers[k]['cpu'] else 1e18)
                summary.append((sc, 'req/s %.2f× best peer (%s, %s); p99 %s vs %s ms; CPU/req %s vs lowest peer %s (%s µs)' % (
                    (g['rps'] or 0) / b['rps'] if b['rps'] else 0, bp, fmt(b['rps']),
                    fmt(g['p99'], '%.2f'), fmt(b['p99'], '%.2f'),
                    ('%.2f×' % (g['cpu'] / peers[lc]['cpu'])) if g['cpu'] and peers[lc]['cpu'] else '–',
                    lc, fmt(peers[lc]['cpu']))))
    if summary:
        p('#### gowsgi against the best peer')
        p('')
        p('| scenario | result |')
        p('|---|---|')
        for sc, text in summary:
            p('| %s | %s |' % (sc, text))
        p('')
    p('#### Server commands (port and paths as run)')
    p('')
    p('```')
    seen = set()
    for (sc, srv), cs in cases.items():
        for c in cs:
            if c.get('cmd') and srv not in seen and sc != 'idle1000':
                seen.add(srv)
                p('# %s' % srv)
                p(' '.join(shlex.quote(x) for x in c['cmd']))
    p('```')
    p('(idle1000 adds a 60 s keep-alive timeout: gowsgi `--keep-alive 60s`, uvicorn '
      '`--timeout-keep-alive 60`, gunicorn and hypercorn `--keep-alive 60`; daphne has none to set.)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
