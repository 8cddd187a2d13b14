#!/usr/bin/env python3
"""Serve module:callable with bjoern (a C WSGI server on libev, one process),
the benchmark's C peer. bjoern must be importable (BENCH_BJOERN_PATH).

    bjoern_serve.py --chdir DIR --bind 127.0.0.1:PORT module:callable
"""

import argparse
import importlib
import os
import sys

import bjoern


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--chdir', default='.')
    ap.add_argument('--bind', default='127.0.0.1:5000')
    ap.add_argument('target')
    a = ap.parse_args()
    os.chdir(a.chdir)
    sys.path.insert(0, os.getcwd())
    module, _, name = a.target.partition(':')
    app = getattr(importlib.import_module(module), name or 'app')
    host, _, port = a.bind.rpartition(':')
    bjoern.run(app, host, int(port))


if __name__ == '__main__':
    main()
