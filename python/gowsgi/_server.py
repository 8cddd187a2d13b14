"""make_server() and serve(): the gowsgi binary as a Python-level server.

The Python process binds the socket (make_server) or passes the addresses
(serve), then runs the gowsgi binary as a child that serves the app with its
own worker processes. The child is kept from outliving its parent:

- it runs in its own process group, so a terminal's Ctrl-C reaches only
  Python, which forwards it once (gowsgi then finishes in-flight requests; a
  second Ctrl-C stops it at once, a third kills it);
- SIGTERM to Python (docker stop, systemd) is forwarded while serve_forever()
  runs in the main thread;
- on Linux, PR_SET_PDEATHSIG sends it SIGTERM if Python dies any other way
  (SIGKILL included);
- atexit stops any child still running.
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import weakref

from . import _target
from ._binary import find_gowsgi_bin

# Set in the child's environment. Worker processes inherit it; a
# make_server() or serve() call there means the script starts a server at
# import time, outside an `if __name__ == '__main__':` block.
LAUNCHED_ENV = "GOWSGI_LAUNCHED_BY_PYTHON"

# How long server_close() and exit wait for gowsgi's graceful stop
# (--graceful-timeout defaults to 30s) before killing it.
STOP_WAIT = 40


class GowsgiError(RuntimeError):
    """The gowsgi binary exited with an error (its messages went to stderr)."""


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
        prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        return prctl
    except Exception:  # no ctypes in this build: the other guards remain
        return None


_prctl = _load_prctl()
PR_SET_PDEATHSIG = 1

_live = weakref.WeakSet()


def _spawn(argv, pass_fds):
    env = dict(os.environ)
    env[LAUNCHED_ENV] = str(os.getpid())
    parent = os.getpid()

    def child_setup():
        os.setpgid(0, 0)
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl
                os._exit(1)

    return subprocess.Popen(argv, env=env, pass_fds=pass_fds, preexec_fn=child_setup)


class Server(object):
    """A running (or ready to run) gowsgi, with the methods of
    wsgiref.simple_server.WSGIServer that scripts call: serve_forever(),
    shutdown(), server_close(), and use as a context manager."""

    def __init__(self, argv, sock=None):
        self.argv = list(argv)
        self.socket = sock
        self.server_address = sock.getsockname()[:2] if sock is not None else None
        self.server_port = self.server_address[1] if sock is not None else None
        self._proc = None
        self._lock = threading.Lock()
        self._stopping = False
        self._serving_done = threading.Event()
        self._serving_done.set()
        _live.add(self)

    @property
    def server_name(self):
        return socket.getfqdn(self.server_address[0]) if self.server_address else None

    @property
    def pid(self):
        """The gowsgi process's id once serve_forever() started it."""
        return self._proc.pid if self._proc is not None else None

    def _start(self):
        with self._lock:
            if self._stopping:
                return None
            if self._proc is None:
                fds = (self.socket.fileno(),) if self.socket is not None else ()
                self._proc = _spawn(self.argv, fds)
            return self._proc

    def _signal(self, sig):
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def serve_forever(self, poll_interval=0.5):
        """Run gowsgi until it stops: shutdown(), Ctrl-C (KeyboardInterrupt
        is raised again once gowsgi has stopped), SIGTERM, or an error
        (GowsgiError). poll_interval is accepted for compatibility."""
        self._serving_done.clear()
        try:
            proc = self._start()
            if proc is None:
                return
            restore = self._forward_sigterm()
            try:
                interrupted = self._wait(proc)
            finally:
                restore()
            if interrupted:
                raise KeyboardInterrupt from None  # gowsgi has stopped; as wsgiref, end with it
            if proc.returncode != 0 and not self._stopping:
                raise GowsgiError("gowsgi exited with status %s (its messages are above)" % proc.returncode)
        finally:
            self._serving_done.set()

    def _wait(self, proc):
        """Wait for gowsgi to exit, forwarding Ctrl-C; True if there was one."""
        interrupted = False
        sent = 0
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:
                interrupted = True
                self._stopping = True
                sent += 1
                # 1st: finish in-flight requests; 2nd: now; 3rd: kill.
                self._signal(signal.SIGINT if sent < 3 else signal.SIGKILL)
        return interrupted

    def _forward_sigterm(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_term(signum, frame):
            self._stopping = True
            self._signal(signal.SIGTERM)

        try:
            old = signal.signal(signal.SIGTERM, on_term)
        except ValueError:
            return lambda: None
        return lambda: signal.signal(signal.SIGTERM, old)

    def shutdown(self):
        """Stop serving (gowsgi finishes in-flight requests) and wait until
        serve_forever() has returned. Call it from another thread."""
        self._stopping = True
        self._signal(signal.SIGTERM)
        self._serving_done.wait()

    def server_close(self):
        """Stop gowsgi if it still runs (bounded), and close the socket."""
        self._stopping = True
        self._stop(STOP_WAIT)
        if self.socket is not None:
            self.socket.close()

    def _stop(self, wait):
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server_close()


@atexit.register
def _stop_all():
    for s in list(_live):
        s._stopping = True
        s._stop(10)


def _refuse_in_workers(what):
    if os.environ.get(LAUNCHED_ENV):
        raise RuntimeError(
            "gowsgi: %s() was called while gowsgi's workers were importing the app: the script starts "
            "a server when it is imported. Put that call under `if __name__ == '__main__':`." % what
        )


def _option_args(options):
    """Keyword arguments as gowsgi flags: workers=4 -> --workers 4,
    max_requests=100 -> --max-requests 100, preload_app=True ->
    --preload-app, a list repeats the flag, None leaves it out."""
    args = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if value is True:
            args.append(flag)
        elif value is False:
            args.append(flag + "=false")
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [flag, str(v)]
        else:
            args += [flag, str(value)]
    return args


def _base_argv(app, caller, options):
    target, pythonpath = _target.find(app, caller)
    argv = [find_gowsgi_bin(), target]
    if options.get("python") is None and sys.executable:
        argv += ["--python", sys.executable]  # the workers import the app with this interpreter
    for p in pythonpath:
        argv += ["--pythonpath", p]
    return argv + _option_args(options)


def _listen(host, port):
    family = socket.AF_INET6 if ":" in (host or "") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return sock


def make_server(host, port, app, server_class=None, handler_class=None, **options):
    """Bind host:port and return a Server that serves app through gowsgi,
    in place of wsgiref.simple_server.make_server:

        from gowsgi import make_server
        make_server('', 5000, app).serve_forever()

    The socket is bound here, as wsgiref does (port 0 picks a free port:
    see server_port). server_class and handler_class are not used. Other
    keyword arguments are gowsgi settings, as for serve(): workers=4,
    threads=8, ...
    """
    _refuse_in_workers("make_server")
    for key in ("bind", "listen", "host", "port"):
        if key in options:
            raise TypeError("make_server() takes the address as host and port; use serve() for %s=" % key)
    argv = _base_argv(app, sys._getframe(1).f_globals, options)
    sock = _listen(host, port)
    return Server(argv[:2] + ["--bind", "fd://%d" % sock.fileno()] + argv[2:], sock)


def _hostport(host, port):
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "%s:%d" % (host, int(port))


def serve(app, **options):
    """Serve app with gowsgi until Ctrl-C or SIGTERM, as waitress.serve does:

        import gowsgi
        gowsgi.serve(app, host='0.0.0.0', port=8080, workers=4, threads=8)

    Addresses: host and port (default 0.0.0.0:8080, waitress's), or
    listen='127.0.0.1:8080 [::1]:8080' (waitress's), or bind='...' (a
    string or a list: gowsgi's --bind forms, unix:/path included). Every
    other keyword is a gowsgi command-line setting, dashes as underscores:
    workers=4, threads=8, timeout=30, max_requests=1000, access_log='-',
    static=['/static=./static'], preload_app=True...
    """
    _refuse_in_workers("serve")
    binds = []
    bind = options.pop("bind", None)
    listen = options.pop("listen", None)
    host = options.pop("host", None)
    port = options.pop("port", None)
    if bind is not None:
        binds += [bind] if isinstance(bind, str) else list(bind)
    if listen is not None:
        binds += listen.split()
    if binds and (host is not None or port is not None):
        raise TypeError("serve(): give the address as bind= or listen=, or as host= and port=, not both")
    if not binds:
        binds.append(_hostport(host if host is not None else "0.0.0.0", port if port is not None else 8080))
    options["bind"] = binds
    server = Server(_base_argv(app, sys._getframe(1).f_globals, options))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # gowsgi has stopped; return, as waitress.serve does
    finally:
        server.server_close()
