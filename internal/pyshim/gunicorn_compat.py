"""gowsgi's gunicorn compatibility: how a gunicorn config file is executed,
and the objects its server hooks are handed.

One module for the three Python programs that read a config file: the
config reader (internal/config/loadconf.py), the master's hook host
(internal/hooks/hookhost.py) and the worker (worker.py). Each gets it in
its shim bundle (pyshim.GunicornCompat), so the file is executed, and its
hooks see server, worker and cfg, the same way in all three.
Standard library only; Python 3.8+.
"""

import importlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import traceback
import types

# gunicorn's log levels, by the names --log-level takes.
LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warning': logging.WARNING,
          'error': logging.ERROR, 'critical': logging.CRITICAL}


def answers_stdout():
    """For a tool that answers on stdout (the config reader, the hook
    host): returns a file on the original stdout for its answers, and sends
    everything else written to stdout (print() in the config file or a
    hook, a C extension writing to descriptor 1) to stderr."""
    out = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def cwd_on_path():
    """Put the working directory on sys.path, as gunicorn does, unless it
    is there already (as '' or by name)."""
    if '' not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def chdir_and_path(chdir, pythonpath):
    """gunicorn's --pythonpath (entries first on sys.path, in order) and
    --chdir, then the working directory on sys.path (cwd_on_path)."""
    for p in reversed(pythonpath or []):
        sys.path.insert(0, os.path.abspath(p))
    if chdir:
        os.chdir(chdir)
    cwd_on_path()


# Stand-ins for gunicorn's, uvicorn's, meinheld's and gevent's worker
# modules. gowsgi replaces gunicorn, so they are often not installed where
# it runs, yet config files import them (from uvicorn.workers import
# UvicornWorker, to subclass it; from gunicorn.arbiter import Arbiter, for
# a type hint) and -k names projects' subclasses of their classes. Same
# module and class names, same ancestry, uvicorn's CONFIG_KWARGS.
#
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


def load_config(location):
    """Execute a gunicorn config file (FILE or file:FILE) as module
    __config__, the way gunicorn's get_config_from_filename does, or import
    python:MODULE. The file's directory goes on sys.path after the working
    directory, so it imports its neighbours; gunicorn, uvicorn and the like
    are stood in for where they are not installed (StandIns). What it
    prints goes to stderr. Exceptions (SystemExit too) are the caller's to
    report."""
    cwd_on_path()
    # Installed packages come first; only missing ones are stood in, for
    # the file's execution alone (an app that tries `import gevent` later
    # must get its ImportError).
    finder = StandIns()
    sys.meta_path.append(finder)
    try:
        return _exec_config(location)
    finally:
        sys.meta_path.remove(finder)
        for name, m in list(sys.modules.items()):
            if getattr(getattr(m, '__spec__', None), 'loader', None) is finder:
                del sys.modules[name]


def _exec_config(location):
    import importlib.machinery
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
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.stdout = out
    return mod


def hook_functions(mod, names):
    """The hooks among names that the config module defines: {name: fn}."""
    fns = {}
    for name in names:
        fn = getattr(mod, name, None)
        if callable(fn) and not isinstance(fn, types.ModuleType):
            fns[name] = fn
    return fns


def call_hook(log, name, fn, *args):
    """Run a hook. One that raises is logged with its traceback, and the
    caller carries on, as under gunicorn."""
    try:
        fn(*args)
    except BaseException:
        log.error('Exception in %s hook:\n%s', name, traceback.format_exc().rstrip())


def logger(level):
    """gunicorn's error log as hooks see it (server.log, worker.log): info,
    warning, error, debug, exception, critical, written to stderr in
    gunicorn's format. Where --log-config already configured it, it is
    left as configured."""
    log = logging.getLogger('gunicorn.error')
    if not log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter('[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s',
                                         '%Y-%m-%d %H:%M:%S %z'))
        log.addHandler(h)
        log.setLevel(LEVELS.get(str(level).lower(), logging.INFO))
        log.propagate = False
    return log


class Cfg:
    """server.cfg and worker.cfg: the effective settings by gunicorn name."""

    def __init__(self, settings):
        self.__dict__.update(settings)
        self.settings = dict(settings)

    def __getattr__(self, name):
        raise AttributeError('No configuration setting for: %s' % name)


class Server:
    """What hooks get as ``server`` (gunicorn's Arbiter, as far as gowsgi
    has one): pid (gowsgi's), cfg, log, num_workers, proc_name, address,
    and WORKERS, gunicorn's {pid: worker}, which gowsgi's hooks are not
    told: empty, so hooks that count or scan it (immich's pre_fork picks
    device len(WORKERS) % n) run as for the first worker."""

    def __init__(self, pid, cfg, log):
        self.WORKERS = {}
        self.pid = pid
        self.cfg = cfg
        self.log = log
        self.num_workers = cfg.settings.get('workers')
        self.proc_name = cfg.settings.get('proc_name') or cfg.settings.get('default_proc_name')
        self.address = cfg.settings.get('bind') or []
        self.app = None

    def __str__(self):
        return '<gowsgi master %s>' % self.pid


class Worker:
    """What hooks get as ``worker``: pid (None before it is started), ppid,
    age (gowsgi's worker number, as gunicorn's), generation, log, cfg,
    alive, booted."""

    def __init__(self, server, pid=None, ppid=None, age=None, generation=0, booted=False):
        self.pid = pid
        self.ppid = ppid
        self.age = age
        self.generation = generation
        self.cfg = server.cfg
        self.log = server.log
        self.alive = True
        self.booted = booted

    def __str__(self):
        return '<Worker %s>' % self.pid


def server_of(pid, settings):
    """The server object for gowsgi's pid and the effective settings."""
    cfg = Cfg(settings or {})
    return Server(pid, cfg, logger(cfg.settings.get('loglevel', 'info')))
