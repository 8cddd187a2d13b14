#!/usr/bin/env python3
"""Serve module:callable with the stdlib reference server (wsgiref.simple_server),
as the seed tutorial does, minus the per-request log line on stderr.

    wsgiref_serve.py --chdir DIR --bind 127.0.0.1:PORT module:callable
"""

import argparse
import importlib
import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


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
    server = make_server(host, int(port), app, handler_class=QuietHandler)
    server.serve_forever()


if __name__ == '__main__':
    main()
