# gowsgi's hook host: runs the master-side gunicorn server hooks of a config
# file (on_starting, when_ready, on_reload, pre_fork, pre_exec, child_exit,
# nworkers_changed, on_exit) for gowsgi's Go master, which has no Python of
# its own.
#
# Usage: python -c <pyshim.Loader>, with this file and
# pyshim.GunicornCompat in a bundle on fd 3, and SPEC-JSON as the first
# line on stdin (not in argv, which every local user can read: settings may
# hold secrets).
#
# SPEC is {"file": config file or "python:module", "pid": gowsgi's pid,
# "settings": {gunicorn name: effective value}, "chdir", "pythonpath"}. The
# file is executed once by gunicorn_compat.load_config, as the config
# reader and the workers execute it, and its hooks get gunicorn_compat's
# server and worker objects. stdout carries the protocol, one JSON object a
# line: first {"ready": [hook names]} or {"error": text}, then one {"done":
# hook} per request. Requests come on stdin, one a line: {"hook": name,
# "args": [...], "num_workers": N}; an arg {"__worker__": {...}} becomes a
# worker object. A hook that raises is logged with its traceback on stderr,
# and the host carries on. EOF on stdin ends it. Standard library only,
# Python 3.8+.
#
# The host's os.environ stands for gunicorn's master's, which its forked
# workers inherit: once it differs from the environment the host started
# with (a hook, or the config file itself, set or removed a variable), the
# "ready" line and each {"done"} carry "env", every difference so far:
# {name: value, or null for a variable removed}. gowsgi starts the next
# workers with it.
import json
import os
import sys
import traceback

from _gowsgi_gunicorn_compat import (Worker, answers_stdout, call_hook, chdir_and_path, hook_functions, load_config,
                                     server_of)


def env_changes(base):
    """What os.environ has changed since base: {name: value or None}."""
    now = os.environ
    changes = {k: v for k, v in now.items() if base.get(k) != v}
    changes.update((k, None) for k in base if k not in now)
    return changes


def main():
    spec = json.loads(sys.stdin.readline())
    base = dict(os.environ)
    out = answers_stdout()
    chdir_and_path(spec.get('chdir'), spec.get('pythonpath'))

    def say(obj):
        out.write(json.dumps(obj) + '\n')
        out.flush()

    try:
        mod = load_config(spec['file'])
    except BaseException as e:
        say({'error': '%s: %s' % (type(e).__name__, e), 'traceback': traceback.format_exc()})
        return
    server = server_of(spec.get('pid'), spec.get('settings'))
    hooks = hook_functions(mod, spec.get('names') or [])
    ready = {'ready': sorted(hooks)}
    changes = env_changes(base)
    if changes:
        ready['env'] = changes  # the config file's own, at its top level
    say(ready)
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
                    w = a['__worker__']
                    a = Worker(server, pid=w.get('pid') or None, ppid=server.pid, age=w.get('age'),
                               generation=w.get('gen', 0), booted=bool(w.get('pid')))
                args.append(a)
            call_hook(server.log, name, fn, *args)
            for h in server.log.handlers:
                h.flush()
        done = {'done': name}
        changes = env_changes(base)
        if changes:
            done['env'] = changes
        say(done)
