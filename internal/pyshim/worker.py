"""gowsgi worker: the process that runs a Python web application for the
gowsgi Go front.

Started by gowsgi as ``python -c <loader> <config-json>`` with the shim's
source on fd 3 (see internal/pyshim/pyshim.go), the control socket on fd 4
and one socket per slot from fd 5 on. This file is the process: it prepares
the interpreter, loads the application, runs the gunicorn server hooks,
forks workers in --preload's template, starts one thread per slot and
serves the control socket on the main thread (Revoke frames, and EOF,
which asks for an exit). The frames are wire.py's; what a request means is
the interface's (wsgi.py). Standard library only; Python 3.8+.
"""

import json
import os
import socket
import sys
import threading
import time
import traceback

import _gowsgi_asgi as asgi
import _gowsgi_gunicorn_compat as compat
import _gowsgi_wsgi as wsgi
from _gowsgi_wire import (T_BOOT_FAILED, T_EXITED, T_FORK, T_FORKED, T_READY, _dumps, log, received_fds, send_frame,
                          serve_control, take_frames)

SHIM_FILE_PREFIX = '<gowsgi>/'  # the shim's own source files, as tracebacks name them


# ---------------------------------------------------------------- app loading

class LoadError(Exception):
    """The target cannot be turned into a WSGI callable; str() is one line."""


class AppNotFound(LoadError):
    """The module imported, but the callable named is not in it, or not a
    callable: gunicorn's AppImportError, which exits 4 (APP_LOAD_ERROR)
    where any other boot failure exits 3 (the front's BootError.Status)."""


def callables_of(module):
    """Names of the public callables a module defines (its own first)."""
    own, other = [], []
    for name, obj in sorted(vars(module).items()):
        if name.startswith('_') or not callable(obj) or isinstance(obj, type(sys)):
            continue
        (own if getattr(obj, '__module__', None) == module.__name__ else other).append(name)
    return own + other


def load_app(target):
    """Import target (``module[:expr]`` or ``file.py[:expr]``) and return
    (callable, description). expr is a name, a dotted attribute path, or a
    factory call ``name(args)`` with literal arguments."""
    import ast
    import importlib
    import importlib.util

    if target.startswith('paste:'):
        return load_paste(target[len('paste:'):])
    spec, _, expr = target.partition(':')
    if spec.endswith('.py') or os.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise LoadError('file not found: %s' % spec)
        name = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))
        spec_obj = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec_obj)
        sys.modules[name] = module
        spec_obj.loader.exec_module(module)
        where = "%s (%s)" % (name, spec)
    else:
        try:
            module = importlib.import_module(spec)
        except ModuleNotFoundError as e:
            if e.name and (spec == e.name or spec.startswith(e.name + '.')):
                raise LoadError("no module named %r (looked in %s)" % (
                    e.name, ', '.join(p or '.' for p in sys.path)))
            raise
        where = spec

    if not expr:
        for candidate in ('app', 'application'):
            if callable(getattr(module, candidate, None)):
                return getattr(module, candidate), '%s:%s' % (spec, candidate)
        for candidate in ('app', 'application'):
            if hasattr(module, candidate):
                raise AppNotFound('%s:%s is a %s, not a callable' % (
                    spec, candidate, type(getattr(module, candidate)).__name__))
        raise AppNotFound("module %s has no callable 'app' or 'application'; callables it defines: %s" % (
            where, ', '.join(callables_of(module)) or 'none'))

    try:
        node = ast.parse(expr.strip(), mode='eval').body
    except SyntaxError:
        raise AppNotFound('cannot parse callable %r in %r' % (expr, target))
    call_args, call_kwargs = None, None
    if isinstance(node, ast.Call):
        try:
            call_args = [ast.literal_eval(a) for a in node.args]
            call_kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise AppNotFound('factory arguments in %r must be literals' % expr)
        node = node.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise AppNotFound('cannot parse callable %r in %r' % (expr, target))
    parts.append(node.id)
    obj = module
    for i, part in enumerate(reversed(parts)):
        if not hasattr(obj, part):
            if i == 0:
                raise AppNotFound("module %s has no attribute %r; callables it defines: %s" % (
                    where, part, ', '.join(callables_of(module)) or 'none'))
            raise AppNotFound('%r has no attribute %r' % ('.'.join(reversed(parts[-i:])), part))
        obj = getattr(obj, part)
    if call_args is not None:
        if not callable(obj):
            raise AppNotFound('factory %r in %s is not callable' % (expr, where))
        obj = obj(*call_args, **call_kwargs)
        if obj is None:
            raise AppNotFound('factory %r in %s returned None, not a WSGI callable' % (expr, where))
    if not callable(obj):
        raise AppNotFound('%s:%s is a %s, not a callable' % (spec, expr, type(obj).__name__))
    return obj, '%s:%s' % (spec, expr)


PASTE_GLOBAL = []  # KEY=VALUE pairs (--paste-global), set by main


def load_paste(path):
    """A PasteDeploy .ini app (gunicorn's --paste): logging configured from
    the file when it has a [loggers] section, then paste.deploy.loadapp."""
    import configparser
    try:
        from paste.deploy import loadapp
    except ImportError:
        raise LoadError('--paste %s needs PasteDeploy, which %s cannot import (pip install PasteDeploy, or apt-get install python3-pastedeploy)'
                        % (path, sys.executable))
    if not os.path.isfile(path):
        raise LoadError('file not found: %s' % path)
    global_conf = {}
    for item in PASTE_GLOBAL:
        k, _, v = item.partition('=')
        global_conf[k.strip()] = v.strip()
    here = os.path.dirname(os.path.abspath(path))
    parser = configparser.ConfigParser()
    parser.read([path])
    if parser.has_section('loggers'):
        import logging.config
        defaults = {'__file__': os.path.abspath(path), 'here': here}
        defaults.update(global_conf)
        logging.config.fileConfig(path, defaults, disable_existing_loggers=False)
    app = loadapp('config:%s' % os.path.abspath(path), relative_to=here, global_conf=global_conf)
    return app, 'paste:%s' % path


# ---------------------------------------------------------------- server hooks and titles

class Hooks:
    """The worker-side gunicorn server hooks of a config file: post_fork,
    post_worker_init, pre_request, post_request, worker_int, worker_abort,
    worker_exit. The file is executed once per process, by gunicorn_compat
    as the config reader and the hook host execute it. A hook that raises
    is logged with its traceback, and the worker carries on."""

    def __init__(self, cfg):
        mod = compat.load_config(cfg['hooks'])
        self.fns = compat.hook_functions(mod, cfg.get('hook_names') or ())
        self.server = compat.server_of(cfg.get('master_pid'), cfg.get('settings'))
        self.worker = compat.Worker(self.server, pid=os.getpid(), ppid=os.getppid(), age=cfg.get('age'))
        self.requests = 'pre_request' in self.fns or 'post_request' in self.fns

    def call(self, name, *args):
        fn = self.fns.get(name)
        if fn is not None:
            compat.call_hook(self.server.log, name, fn, *args)

    def exiting(self):
        """worker_exit(server, worker), once."""
        if self.worker.alive:
            self.worker.alive = False
            self.call('worker_exit', self.server, self.worker)

    def install_signals(self):
        """worker_int on SIGINT and SIGQUIT, worker_abort on SIGABRT (sent by
        gowsgi when a request ran past --timeout, after the stack dump, if
        worker_abort or worker_exit is defined): the hook runs, then
        worker_exit, then the worker exits (0 after worker_int, 1 after
        worker_abort), as a gunicorn worker does."""
        import signal

        def ended(hook, code):
            def handler(signum, frame):
                self.call(hook, self.worker)
                self.exiting()
                for f in (sys.stdout, sys.stderr):
                    try:
                        f.flush()
                    except Exception:
                        pass
                os._exit(code)
            return handler

        if 'worker_int' in self.fns:
            signal.signal(signal.SIGINT, ended('worker_int', 0))
            signal.signal(signal.SIGQUIT, ended('worker_int', 0))
        if 'worker_abort' in self.fns or 'worker_exit' in self.fns:
            signal.signal(signal.SIGABRT, ended('worker_abort', 1))


def set_title(title, comm):
    """Name this process for ps and top: the command line becomes title
    (written over argv's memory through /proc/self/mem, as setproctitle
    does; Python has copied argv already) and comm becomes comm (prctl
    PR_SET_NAME, 15 bytes). Silently skipped where either is unavailable."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, comm.encode('utf-8', 'replace')[:15] + b'\0', 0, 0, 0)
    except Exception:
        pass
    try:
        with open('/proc/self/stat', 'rb') as f:
            stat = f.read()
        fields = stat[stat.rindex(b')') + 2:].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end
        data = title.encode('utf-8', 'replace')[:end - start - 1]
        with open('/proc/self/mem', 'r+b', buffering=0) as mem:
            mem.seek(start)
            mem.write(data + b'\0' * (end - start - len(data)))
    except Exception:
        pass


def name_process(cfg, role):
    """"gowsgi: worker [NAME]" (or "preload"), NAME being --proc-name or
    the app, as gunicorn's "gunicorn: worker [NAME]"."""
    name = cfg.get('proc_name') or cfg['target']
    set_title('gowsgi: %s [%s]' % (role, name), cfg.get('proc_name') or 'gowsgi-' + role)


# ---------------------------------------------------------------- the interpreter

def app_files():
    """Source files of the modules loaded so far that belong to the
    application rather than to Python or its installed packages: what a
    development reloader should watch."""
    import sysconfig
    skip = {os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    for name in ('stdlib', 'platstdlib', 'purelib', 'platlib'):
        try:
            skip.add(os.path.realpath(sysconfig.get_paths()[name]))
        except KeyError:
            pass
    files = set()
    for module in list(sys.modules.values()):
        f = getattr(module, '__file__', None)
        if not f or not f.endswith('.py'):
            continue
        f = os.path.realpath(f)
        if any(f.startswith(s + os.sep) for s in skip) or 'site-packages' in f or 'dist-packages' in f:
            continue
        files.add(f)
    return sorted(files)


def prepare(cfg):
    """Set up the interpreter as the app expects: --pythonpath entries and
    the working directory on sys.path, --chdir, and argv naming the app."""
    compat.chdir_and_path(cfg.get('chdir'), cfg.get('pythonpath'))
    sys.argv = [cfg['target']]


def apply_logconfig(cfg):
    """gunicorn's logconfig_dict, logconfig_json and logconfig (--log-config):
    configure the app's Python logging before the app is imported, the
    first one given, in gunicorn's order."""
    d, j, f = cfg.get('logconfig_dict'), cfg.get('logconfig_json'), cfg.get('logconfig')
    if not (d or j or f):
        return
    import logging.config
    if j and not d:
        with open(j) as fh:
            d = json.load(fh)
    if d:
        d = dict(d)
        d.setdefault('version', 1)
        d.setdefault('disable_existing_loggers', False)
        logging.config.dictConfig(d)
    else:
        logging.config.fileConfig(f, disable_existing_loggers=False)


def app_traceback(exc):
    """The traceback of exc without gowsgi's and importlib's own frames, so
    a failed import reads as it would under `python app.py`."""
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if not f.filename.startswith(SHIM_FILE_PREFIX) and not f.filename.startswith('<frozen importlib')])
    return ''.join(te.format())


# ---------------------------------------------------------------- preload

MAX_FORK_FDS = 253  # SCM_MAX_FD: a control socket and up to 252 slots


def reserve_fds(n):
    """Hold descriptors 5 .. 4+n with /dev/null while the template imports
    the app: a forked worker puts its slot sockets there, which must not
    replace a file or connection the app opened at import time."""
    null = os.open(os.devnull, os.O_RDONLY)
    for fd in range(5, 5 + n):
        if fd != null:
            os.dup2(null, fd, inheritable=False)
    if not 5 <= null < 5 + n:
        os.close(null)


def reap(control):
    """Report every child that has ended (Exited) with its raw wait status."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send_frame(control, T_EXITED, _dumps({'pid': pid, 'status': status}, 2))


def fork_worker(control, fds):
    """Fork a worker that gets fds; in the template, report its pid
    (Forked) and return None; in the child, return fds."""
    # Output the app buffered at import time must not be written once per child.
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    try:
        pid = os.fork()
    except OSError as e:
        pid, err = -1, e
    if pid == 0:
        return fds
    for fd in fds:
        os.close(fd)
    if pid < 0:
        send_frame(control, T_FORKED, _dumps({'error': str(err)}, 2))
    else:
        send_frame(control, T_FORKED, _dumps({'pid': pid}, 2))
    return None


def become_worker(control, wake, fds):
    """In a forked child: drop the template's control socket, wake-up pipe
    and SIGCHLD handling, and move the descriptors gowsgi sent to 4, 5, ...
    where a worker started by exec has them. Returns the control socket."""
    import fcntl
    import signal

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in wake:
        os.close(fd)
    control.close()
    top = max(fds + [4 + len(fds)]) + 1
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, top) for fd in fds]
    for fd in fds:
        os.close(fd)
    for i, fd in enumerate(moved):
        os.dup2(fd, 4 + i)  # replaces the placeholder of reserve_fds
        os.close(fd)
    return socket.socket(fileno=4)


FORKED_AGE = [None]  # in a forked worker: its number, from the Fork frame


def run_template(control, ready):
    """--preload: the app is loaded. Fork a worker for each Fork frame on the
    control socket, answer Forked with its pid, and report each child that
    ends (Exited). Stays single-threaded, so every fork copies a consistent
    process. Returns only in a forked child, with that child's control
    socket; the template exits when gowsgi closes the control socket."""
    import gc
    import select
    import signal

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    # What the app built at import time moves to the permanent generation:
    # the workers' cyclic GC never walks it, so never copies its pages.
    gc.freeze()
    send_frame(control, T_READY, _dumps(ready, 2))

    buf, fds, child = bytearray(), [], None
    anc_size = socket.CMSG_SPACE(4 * MAX_FORK_FDS)
    try:
        while child is None:
            reap(control)
            r = select.select([control, wake_r], [], [])[0]
            if wake_r in r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if control not in r:
                continue
            data, anc, flags, _ = control.recvmsg(1 << 16, anc_size)
            fds.extend(received_fds(anc))
            if not data:
                break  # gowsgi asks the template to exit
            if flags & socket.MSG_CTRUNC:
                log('preload template: descriptors of a fork request were lost; exiting')
                sys.exit(5)
            buf += data
            for ftype, _, payload in take_frames(buf):
                if child is not None:
                    break  # in the forked child: the rest is the template's
                if ftype != T_FORK:
                    log('preload template: unexpected frame %r; exiting' % chr(ftype))
                    sys.exit(5)
                req = json.loads(payload)
                want = req['fds']
                mine, fds = fds[:want], fds[want:]
                child = fork_worker(control, mine)
                if child is not None:
                    FORKED_AGE[0] = req.get('age')
                    # The master hooks' changes to the environment, which a
                    # forked gunicorn worker inherits (Hooks.PreFork).
                    for name, value in (req.get('env') or {}).items():
                        if value is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = value
    except (BrokenPipeError, ConnectionResetError):
        pass  # gowsgi is gone
    if child is None:
        sys.exit(0)
    return become_worker(control, (wake_r, wake_w), child)


# ---------------------------------------------------------------- main

def main():
    import signal
    import faulthandler

    cfg = json.loads(sys.argv[1])
    cfg['boot_t0'] = time.monotonic()  # the boot's bound counts from here (asgi.serve)
    # The settings for the hooks' worker.cfg: in the environment, not in
    # argv (see pyshim.SettingsEnv), and not for the app.
    settings = os.environ.pop('GOWSGI_HOOK_SETTINGS', None)
    if settings:
        cfg['settings'] = json.loads(settings)
    control = socket.socket(fileno=4)
    template = cfg.get('mode') == 'template'
    if template:
        reserve_fds(cfg['threads'])
    # Ctrl-C in a terminal reaches the whole process group; the front decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # On --timeout the main thread writes the stacks (a Dump control frame,
    # wire.dump_stacks). SIGUSR1 is the fallback, for when it cannot: a
    # thread that holds the GIL inside one C call (then no other thread
    # runs Python, and faulthandler can walk their frames safely).
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    prepare(cfg)
    PASTE_GLOBAL[:] = cfg.get('paste_global') or []
    name_process(cfg, 'preload' if template else 'worker')
    hooks = None
    try:
        apply_logconfig(cfg)
        if cfg.get('hooks'):
            hooks = Hooks(cfg)
            if not template:
                # An exec'd worker is "forked" now; the app is loaded next,
                # as in a gunicorn worker without preload_app.
                hooks.call('post_fork', hooks.server, hooks.worker)
        app, desc = load_app(cfg['target'])
    except LoadError as e:
        # The frame's ID is the exit status this failure stands for.
        status = 4 if isinstance(e, AppNotFound) else 3
        send_frame(control, T_BOOT_FAILED, str(e).encode('utf-8', 'replace'), status)
        sys.exit(status)
    except BaseException as e:
        send_frame(control, T_BOOT_FAILED, app_traceback(e).encode('utf-8', 'replace'))
        sys.exit(3)

    if template:
        control = run_template(control, {'pid': os.getpid(), 'python': sys.version.split()[0], 'app': desc,
                                         'files': '\n'.join(app_files())})
        # From here on this is a worker forked from the template.
        cfg['boot_t0'] = time.monotonic()
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # the fallback, as above
        name_process(cfg, 'worker')
        if hooks is not None:
            hooks.worker.pid, hooks.worker.ppid, hooks.worker.age = os.getpid(), os.getppid(), FORKED_AGE[0]
            hooks.call('post_fork', hooks.server, hooks.worker)
    if hooks is not None:
        hooks.install_signals()
        hooks.call('post_worker_init', hooks.worker)
        hooks.worker.booted = True

    ready = {'pid': os.getpid(), 'python': sys.version.split()[0], 'app': desc}
    kind = asgi.interface_of(app, cfg.get('interface') or 'auto')
    if kind != 'wsgi':
        ready['files'] = '\n'.join(app_files())
        asgi.serve(cfg, control, app, kind, ready, hooks)  # never returns

    slots = wsgi.new_slots([socket.socket(fileno=5 + i) for i in range(cfg['threads'])], cfg, app, hooks)

    def run(slot):
        try:
            slot.serve()
        except BaseException:
            # A slot that stopped serving must not linger: exiting makes the
            # front replace the whole worker.
            log('slot failed; exiting:\n' + traceback.format_exc())
            os._exit(4)

    for slot in slots:
        threading.Thread(target=run, args=(slot,), daemon=True, name='gowsgi-slot').start()

    ready.update(files='\n'.join(app_files()), interface='wsgi')
    send_frame(control, T_READY, _dumps(ready, 2))
    serve_control(control, slots)
    if hooks is not None:
        hooks.exiting()
    sys.exit(0)
