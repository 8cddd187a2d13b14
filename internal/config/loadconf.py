# Reads a gunicorn configuration file the way gunicorn does, for gowsgi.
#
# Usage: python -c <this source> LOCATION
#
# LOCATION is a file (optionally "file:FILE") or "python:module.name". A
# file is executed as module __config__ (importlib, as gunicorn's
# get_config_from_filename), so its globals, os.environ, and imports from
# the current directory (gunicorn puts it on sys.path) and from the file's
# own directory work. Anything it prints goes to stderr; stdout carries one
# JSON object: {"settings": {name: value}, "file": path} or {"error": text,
# "traceback": text}. Callables are {"callable": "module.qualname"}; modules
# and _private names are left out. Standard library only, Python 3.8+.
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import traceback
import types


def encode(v, depth=0):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if depth > 4:
        return {"repr": repr(v)}
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, (list, tuple, set, frozenset)):
        return [encode(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {str(k): encode(x, depth + 1) for k, x in v.items()}
    if callable(v):
        name = getattr(v, "__qualname__", None) or getattr(v, "__name__", None) or type(v).__name__
        mod = getattr(v, "__module__", None)
        if mod and mod not in ("__config__", "builtins"):
            name = mod + "." + name
        return {"callable": name}
    return {"repr": repr(v)}


def main():
    location = sys.argv[1]
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the config file's print() goes to stderr
    sys.stdout = sys.stderr
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    path = None
    try:
        if location.startswith("python:"):
            mod = importlib.import_module(location[len("python:"):])
            path = getattr(mod, "__file__", None)
        else:
            filename = location[len("file:"):] if location.startswith("file:") else location
            if not os.path.exists(filename):
                out.write(json.dumps({"error": "%s doesn't exist" % filename}))
                return
            path = os.path.abspath(filename)
            here = os.path.dirname(path)
            if here not in sys.path:
                sys.path.insert(1, here)
            name = "__config__"
            if os.path.splitext(filename)[1] in (".py", ".pyc"):
                spec = importlib.util.spec_from_file_location(name, filename)
            else:
                loader = importlib.machinery.SourceFileLoader(name, filename)
                spec = importlib.util.spec_from_file_location(name, filename, loader=loader)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
    except BaseException as e:  # SystemExit too: the file must not end gowsgi
        out.write(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "traceback": traceback.format_exc()}))
        return
    settings = {}
    for k, v in vars(mod).items():
        if k.startswith("_") or isinstance(v, types.ModuleType):
            continue
        settings[k] = encode(v)
    out.write(json.dumps({"settings": settings, "file": path}))


main()
