# gowsgi's hook host: runs the master-side gunicorn server hooks of a config
# file (on_starting, when_ready, on_reload, pre_fork, pre_exec, child_exit,
# nworkers_changed, on_exit) for gowsgi's Go master, which has no Python of
# its own.
#
# Usage: python -c <this source>, with SPEC-JSON as the first line on stdin
# (not in argv, which every local user can read: settings may hold secrets).
#
# SPEC is {"file": config file or "python:module", "pid": gowsgi's pid,
# "settings": {gunicorn name: effective value}, "chdir", "pythonpath"}. The
# file is executed once, as module __config__, the way gunicorn (and
# internal/config/loadconf.py) reads it. stdout carries the protocol, one
# JSON object a line: first {"ready": [hook names]} or {"error": text}, then
# one {"done": hook} per request. Requests come on stdin, one a line:
# {"hook": name, "args": [...], "num_workers": N}; an arg {"__worker__":
# {...}} becomes a worker object. A hook that raises is logged with its
# traceback on stderr, and the host carries on. EOF on stdin ends it.
# Standard library only, Python 3.8+.
import importlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import traceback

LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warning': logging.WARNING,
          'error': logging.ERROR, 'critical': logging.CRITICAL}


def make_logger(name, level):
    """A logger like gunicorn's error log: info/warning/error/debug/
    exception/critical, written to stderr in gunicorn's format."""
    log = logging.getLogger(name)
    if not log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter('[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s',
                                         '%Y-%m-%d %H:%M:%S %z'))
        log.addHandler(h)
    log.setLevel(LEVELS.get(str(level).lower(), logging.INFO))
    log.propagate = False
    return log


class Cfg:
    """server.cfg / worker.cfg: the effective settings by gunicorn name."""

    def __init__(self, settings):
        self.__dict__.update(settings)
        self.settings = dict(settings)

    def __getattr__(self, name):
        raise AttributeError('No configuration setting for: %s' % name)


class Worker:
    """What hooks are handed for a worker: pid (None before it is
    started), age (gowsgi's worker sequence number, as gunicorn's), ppid,
    log and cfg."""

    def __init__(self, info, server):
        self.pid = info.get('pid') or None
        self.age = info.get('age')
        self.generation = info.get('gen', 0)
        self.ppid = server.pid
        self.log = server.log
        self.cfg = server.cfg
        self.alive = True
        self.booted = bool(self.pid)

    def __str__(self):
        return '<Worker %s>' % self.pid


class Server:
    """What hooks are handed for the server (gunicorn's Arbiter)."""

    def __init__(self, spec):
        settings = spec.get('settings') or {}
        self.pid = spec.get('pid')
        self.cfg = Cfg(settings)
        self.log = make_logger('gunicorn.error', settings.get('loglevel', 'info'))
        self.num_workers = settings.get('workers')
        self.proc_name = settings.get('proc_name') or settings.get('default_proc_name')
        self.address = settings.get('bind') or []
        self.app = None

    def __str__(self):
        return '<gowsgi master %s>' % self.pid


def load_config(location):
    """Execute the config file (or import python:module) as gunicorn does."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if location.startswith('python:'):
        return importlib.import_module(location[len('python:'):])
    filename = location[len('file:'):] if location.startswith('file:') else location
    here = os.path.dirname(os.path.abspath(filename))
    if here not in sys.path:
        sys.path.insert(1, here)
    name = '__config__'
    if os.path.splitext(filename)[1] in ('.py', '.pyc'):
        spec = importlib.util.spec_from_file_location(name, filename)
    else:
        loader = importlib.machinery.SourceFileLoader(name, filename)
        spec = importlib.util.spec_from_file_location(name, filename, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    spec = json.loads(sys.stdin.readline())
    out = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)  # what hooks print goes to stderr
    sys.stdout = sys.stderr
    for p in reversed(spec.get('pythonpath') or []):
        sys.path.insert(0, os.path.abspath(p))
    if spec.get('chdir'):
        os.chdir(spec['chdir'])

    def say(obj):
        out.write(json.dumps(obj) + '\n')
        out.flush()

    try:
        mod = load_config(spec['file'])
    except BaseException as e:
        say({'error': '%s: %s' % (type(e).__name__, e), 'traceback': traceback.format_exc()})
        return
    server = Server(spec)
    hooks = {n: getattr(mod, n) for n in spec.get('names') or [] if callable(getattr(mod, n, None))}
    say({'ready': sorted(hooks)})
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        name = req.get('hook')
        if req.get('num_workers') is not None:
            server.num_workers = req['num_workers']
        fn = hooks.get(name)
        if fn is not None:
            args = [server]
            for a in req.get('args') or []:
                if isinstance(a, dict) and '__worker__' in a:
                    a = Worker(a['__worker__'], server)
                args.append(a)
            try:
                fn(*args)
            except BaseException:
                server.log.error('Exception in %s hook:\n%s', name, traceback.format_exc().rstrip())
            for h in server.log.handlers:
                h.flush()
        say({'done': name})


main()
