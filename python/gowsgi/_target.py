"""Turns a WSGI callable into the target gowsgi's workers import.

gowsgi runs the app in separate worker processes. Each imports it afresh by
module and name (or by file path and name), so make_server() and serve()
must name the callable they were given: its module and __qualname__, or a
module-level name bound to it (an app object such as Flask's). A script run
as __main__ is named by its file path: the workers import the file as a
module, so its ``if __name__ == '__main__':`` block does not run there.
"""

import os
import sys


class AppNotImportable(TypeError):
    """The app is not reachable by module and name, so the workers cannot
    import it."""


def _walk(obj, dotted):
    for part in dotted.split("."):
        obj = getattr(obj, part, _missing)
        if obj is _missing:
            return _missing
    return obj


_missing = object()


def _name_in(module, app):
    """The module-level name bound to app in module, else None ('app' and
    'application' first, as gowsgi looks for them)."""
    if module is None:
        return None
    ns = vars(module)
    for name in ("app", "application"):
        if ns.get(name) is app:
            return name
    for name, value in list(ns.items()):
        if value is app and not name.startswith("__"):
            return name
    return None


def _why(app, qualname):
    if qualname and "<lambda>" in qualname:
        return "it is a lambda, which has no name the workers can import"
    if qualname and "<locals>" in qualname:
        return "it is defined inside a function (%s), where the workers cannot reach it" % qualname
    return "no module-level name is bound to it (a functools.partial, or an object made inside a function?)"


def find(app, caller=None):
    """Return (target, pythonpath) for app: target is 'module:name' or
    '/abs/path/file.py:name'; pythonpath lists directories the workers need
    on sys.path to import it. caller is the globals() of make_server's or
    serve()'s caller, searched for a name bound to app.

    A string is taken as a target already ('myproject.wsgi:application').
    """
    if isinstance(app, str):
        return app, []
    if not callable(app):
        raise TypeError("gowsgi: the app must be a WSGI callable or a 'module:callable' string, not %r" % (app,))
    module, name = None, None
    # Functions and classes carry __qualname__; instances (a Flask app) do not.
    qualname = getattr(app, "__qualname__", None)
    modname = getattr(app, "__module__", None)
    if isinstance(qualname, str) and isinstance(modname, str):
        if _walk(sys.modules.get(modname), qualname) is app:
            module, name = modname, qualname
    if name is None and caller is not None:
        modname = caller.get("__name__")
        found = _name_in(sys.modules.get(modname), app)
        if found:
            module, name = modname, found
    if name is None:
        found = _name_in(sys.modules.get("__main__"), app)
        if found:
            module, name = "__main__", found
    if name is None:
        raise AppNotImportable(
            "gowsgi: cannot serve %r: %s. gowsgi's worker processes import the app by module and name. "
            "Define it at module level (def app(environ, start_response): ..., or app = make_app()) "
            "and pass that, or pass a 'module:callable' string." % (app, _why(app, qualname))
        )
    if module == "__main__":
        main = sys.modules["__main__"]
        spec = getattr(main, "__spec__", None)
        if spec is not None and spec.name and not spec.name.endswith("__main__"):
            # python -m pkg.mod: the workers import pkg.mod.
            return "%s:%s" % (spec.name, name), [_first_path()]
        path = getattr(main, "__file__", None)
        if not path:
            raise AppNotImportable(
                "gowsgi: cannot serve %r: it is defined in __main__ with no file (an interactive session or "
                "python -c), which the workers cannot import. Put it in a file and pass that module's callable, "
                "or a 'path/to/file.py:name' string." % (app,)
            )
        return "%s:%s" % (os.path.abspath(path), name), []
    return "%s:%s" % (module, name), [_first_path()]


def _first_path():
    """The directory the caller's imports resolve from: the script's
    directory, or the current one for python -m and -c."""
    p = sys.path[0] if sys.path else ""
    return os.path.abspath(p or os.getcwd())
