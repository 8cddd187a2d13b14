#!/usr/bin/env python3
"""CPU seconds and RSS of a process tree, for bench/ws.sh.

  treestat.py PID                      -> {"cpu_s": ..., "rss_kib": ..., "procs": ...}
  treestat.py PID --every 1 --for 20   -> {"rss_kib": [one sample a second], ...}
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import rss_kib, tree, tree_cpu_seconds  # noqa: E402


def rss(pid):
    pids, _t = tree(pid)
    return sum(rss_kib(p) for p in pids), len(pids)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('pid', type=int)
    ap.add_argument('--every', type=float, default=0)
    ap.add_argument('--for', dest='span', type=float, default=0)
    a = ap.parse_args()
    if not a.every:
        cpu, _n = tree_cpu_seconds(a.pid)
        kib, n = rss(a.pid)
        print(json.dumps({'cpu_s': round(cpu, 3), 'rss_kib': kib, 'procs': n}))
        return 0
    samples, end = [], time.monotonic() + a.span
    while time.monotonic() < end:
        samples.append(rss(a.pid)[0])
        time.sleep(a.every)
    print(json.dumps({'rss_kib': samples, 'every_s': a.every}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
