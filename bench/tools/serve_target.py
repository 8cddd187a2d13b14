"""The command line both peer launchers take (bjoern_serve.py, wsgiref_serve.py):

    --chdir DIR --bind HOST:PORT module:callable

load() changes to DIR, imports the application from there and returns it
with the host and port to bind."""

import argparse
import importlib
import os
import sys


def load():
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
    return app, host, int(port)
