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
# fails with them. Standard library only, Python 3.8+.
import importlib
import importlib.abc
import importlib.util
import json
import os
import sys
import types

from _gowsgi_gunicorn_compat import answers_stdout, chdir_and_path

# The worker modules and their classes: name -> (bases, CONFIG_KWARGS).
# A base is "module.Class".
WORKERS = {
    "gunicorn.workers.base": {"Worker": ([], None)},
    "gunicorn.workers.base_async": {"AsyncWorker": (["gunicorn.workers.base.Worker"], None)},
    "gunicorn.workers.sync": {"SyncWorker": (["gunicorn.workers.base.Worker"], None)},
    "gunicorn.workers.gthread": {"ThreadWorker": (["gunicorn.workers.base.Worker"], None)},
    "gunicorn.workers.ggevent": {
        "GeventWorker": (["gunicorn.workers.base_async.AsyncWorker"], None),
        "GeventPyWSGIWorker": (["gunicorn.workers.ggevent.GeventWorker"], None),
    },
    "gunicorn.workers.geventlet": {"EventletWorker": (["gunicorn.workers.base_async.AsyncWorker"], None)},
    "gunicorn.workers.gtornado": {"TornadoWorker": (["gunicorn.workers.base.Worker"], None)},
    "gunicorn.workers.gasgi": {"ASGIWorker": (["gunicorn.workers.base.Worker"], None)},
    "gunicorn.arbiter": {"Arbiter": ([], None)},
    "uvicorn.workers": {
        "UvicornWorker": (["gunicorn.workers.base.Worker"], {"loop": "auto", "http": "auto"}),
        "UvicornH11Worker": (["uvicorn.workers.UvicornWorker"], {"loop": "asyncio", "http": "h11"}),
    },
    "uvicorn_worker": {
        "UvicornWorker": (["gunicorn.workers.base.Worker"], {"loop": "auto", "http": "auto"}),
        "UvicornH11Worker": (["uvicorn_worker.UvicornWorker"], {"loop": "asyncio", "http": "h11"}),
    },
    "meinheld.gmeinheld": {"MeinheldWorker": (["gunicorn.workers.base_async.AsyncWorker"], None)},
}
# Top-level packages whose every module is stood in for when they are not
# installed (a project's worker module imports gevent, say).
ROOTS = ("gunicorn", "uvicorn", "uvicorn_worker", "meinheld", "gevent", "eventlet", "greenlet")

stood_in = []


class Anything:
    """What a stand-in module gives for a name it does not define: callable,
    with any attribute, and usable as a base class."""

    def __init__(self, name, module):
        self._name, self._module = name, module

    def __call__(self, *a, **k):
        return Anything(self._name, self._module)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Anything(name, self._module)

    def __mro_entries__(self, bases):
        return (type(self._name, (), {"__module__": self._module, "__qualname__": self._name}),)


def resolve(path):
    mod, _, name = path.rpartition(".")
    return getattr(importlib.import_module(mod), name)


class StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds stand-in modules: the worker modules (only forced ones when
    first on sys.meta_path) and, for a root that is not installed, any of
    its modules."""

    def __init__(self, forced=()):
        self.forced = set(forced)

    def find_spec(self, name, path=None, target=None):
        if self.forced:
            if name not in self.forced:
                return None
        elif name.split(".")[0] not in ROOTS:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=name not in WORKERS)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        stood_in.append(name)
        module.__getattr__ = lambda attr: module_getattr(name, attr)
        for cls, (bases, kwargs) in WORKERS.get(name, {}).items():
            ns = {"__module__": name, "__qualname__": cls}
            if kwargs is not None:
                ns["CONFIG_KWARGS"] = dict(kwargs)
            setattr(module, cls, type(cls, tuple(resolve(b) for b in bases) or (object,), ns))


def module_getattr(module, attr):
    if attr.startswith("__"):
        raise AttributeError(attr)
    if module + "." + attr in WORKERS:  # from gunicorn.workers import ggevent
        return importlib.import_module(module + "." + attr)
    return Anything(attr, module)


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
