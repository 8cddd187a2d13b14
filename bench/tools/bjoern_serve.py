#!/usr/bin/env python3
"""Serve module:callable with bjoern (a C WSGI server on libev, one process),
the benchmark's C peer. bjoern must be importable (BENCH_BJOERN_PATH).

    bjoern_serve.py --chdir DIR --bind 127.0.0.1:PORT module:callable
"""

import bjoern

from serve_target import load


def main():
    app, host, port = load()
    bjoern.run(app, host, port)


if __name__ == '__main__':
    main()
