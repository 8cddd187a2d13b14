# Reads a gunicorn worker class's ancestry for gowsgi: -k myproject.workers.Worker.
#
# Usage: python -c <pyshim.Loader> CLASS CHDIR PYTHONPATH, with this file
# bundled after the gunicorn compatibility module (see workerclass.go).
#
# CLASS is a dotted path (module.Class, or module:Class); CHDIR the
# directory to import it from ("" = the current one); PYTHONPATH the
# directories (os.pathsep-separated) put on sys.path by the same rule as
# the config reader, the hook host and the workers (chdir_and_path). stdout carries one JSON object:
# {"mro": ["module.QualName", ...], "config_kwargs": {...} or null,
# "stand_ins": [module, ...]} or {"error": "one line"}. Anything the import
# prints goes to stderr.
#
# gowsgi replaces gunicorn, so gunicorn, uvicorn's worker module (which
# imports gunicorn), meinheld or gevent are often not installed where it
# runs. Stand-ins for their worker classes (same module and class names,
# same ancestry, uvicorn's CONFIG_KWARGS) let a project's subclass be
# defined and classified anyway: installed modules are tried first, and
# stand-ins are put in place of the worker modules only when the import
# fails with them. The stand-ins are the gunicorn compatibility module's,
# which also lets a config file import those packages. Standard library
# only, Python 3.8+.
import importlib
import json
import os
import sys

from _gowsgi_gunicorn_compat import WORKERS, Anything, StandIns, answers_stdout, chdir_and_path, stood_in


def encode(v, depth=0):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)) and depth < 10:  # logging dicts nest deep
        return [encode(x, depth + 1) for x in v]
    if isinstance(v, dict) and depth < 10:
        return {str(k): encode(x, depth + 1) for k, x in v.items()}
    return {"repr": repr(v)}


def load(path):
    if ":" in path:
        mod, _, name = path.partition(":")
    else:
        mod, _, name = path.rpartition(".")
    if not mod or not name:
        raise ImportError("%s is not a dotted path to a class (module.Class)" % path)
    obj = importlib.import_module(mod)
    for part in name.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, Anything):  # a module of a package that is not installed
        raise ModuleNotFoundError("No module named %r" % mod.split(".")[0])
    return obj


def probe(path):
    before = set(sys.modules)
    sys.meta_path.append(StandIns())
    try:
        return load(path)
    except Exception as e:
        first = "%s: %s" % (type(e).__name__, e)
    # The installed worker modules could not be used (gunicorn without
    # gevent, say): try again with stand-ins in their place.
    for name in set(sys.modules) - before:
        del sys.modules[name]
    del stood_in[:]
    sys.meta_path.insert(0, StandIns(WORKERS))
    try:
        return load(path)
    except Exception:
        raise ImportError(first)


def main():
    path, chdir, pythonpath = sys.argv[1], sys.argv[2], sys.argv[3]
    out = answers_stdout()
    chdir_and_path(chdir, [p for p in pythonpath.split(os.pathsep) if p])
    try:
        cls = probe(path)
    except BaseException as e:  # SystemExit too: the module must not end gowsgi
        out.write(json.dumps({"error": " ".join(str(e).split()) or type(e).__name__}))
        return
    if not isinstance(cls, type):
        out.write(json.dumps({"error": "%s is a %s, not a class" % (path, type(cls).__name__)}))
        return
    mro = ["%s.%s" % (c.__module__, c.__qualname__) for c in cls.__mro__]
    kwargs = getattr(cls, "CONFIG_KWARGS", None)
    out.write(json.dumps({
        "mro": mro,
        "config_kwargs": encode(kwargs) if isinstance(kwargs, dict) else None,
        "stand_ins": sorted(set(stood_in)),
    }))
