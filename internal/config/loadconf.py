# Reads a gunicorn configuration file the way gunicorn does, for gowsgi.
#
# Usage: python -c <pyshim.Loader> LOCATION, with this file and
# pyshim.GunicornCompat (which executes the file) in a bundle on fd 3.
#
# LOCATION is a file (optionally "file:FILE"), "python:module.name", or
# hypercorn's "python:module.object" (the object's attributes, read with
# hypercorn's key names: "hypercorn": true in the answer),
# executed by gunicorn_compat.load_config as gunicorn does it, so its
# globals, os.environ, and imports from the current directory and from the
# file's own directory work. Anything it prints goes to stderr; stdout carries one
# JSON object: {"settings": {name: value}, "file": path, "worker_class":
# {"mro": [...], "config_kwargs": {...}} when worker_class is a class} or {"error": text,
# "traceback": text}. Callables are {"callable": "module.qualname"}, Python
# loggers {"logger": name}; modules
# and _private names are left out. Standard library only, Python 3.8+.
import json
import logging
import os
import sys
import traceback
import types

from _gowsgi_gunicorn_compat import answers_stdout, load_config


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
    if isinstance(v, logging.Logger):  # hypercorn's accesslog = logging.getLogger(...)
        return {"logger": v.name}
    if callable(v):
        name = getattr(v, "__qualname__", None) or getattr(v, "__name__", None) or type(v).__name__
        mod = getattr(v, "__module__", None)
        if mod and mod not in ("__config__", "builtins"):
            name = mod + "." + name
        return {"callable": name}
    return {"repr": repr(v)}


def main():
    location = sys.argv[1]
    out = answers_stdout()
    path = None
    try:
        if not location.startswith("python:"):
            filename = location[len("file:"):] if location.startswith("file:") else location
            if not os.path.exists(filename):
                out.write(json.dumps({"error": "%s doesn't exist" % filename}))
                return
            path = os.path.abspath(filename)
        mod, obj = load(location)
        path = path or getattr(mod, "__file__", None)
    except BaseException as e:  # SystemExit too: the file must not end gowsgi
        out.write(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "traceback": traceback.format_exc()}))
        return
    settings = {}
    for k, v in (vars(mod) if obj is None else attributes(obj)).items():
        if k.startswith("_") or isinstance(v, types.ModuleType):
            continue
        settings[k] = encode(v)
    answer = {"settings": settings, "file": path, "hypercorn": obj is not None}
    cls = (vars(mod) if obj is None else attributes(obj)).get("worker_class")
    if isinstance(cls, type):
        # A class object (gunicorn takes one), perhaps defined in the file
        # itself: classified here, where it exists, as workerclass.py
        # classifies a dotted path.
        kwargs = getattr(cls, "CONFIG_KWARGS", None)
        answer["worker_class"] = {
            "mro": ["%s.%s" % (c.__module__, c.__qualname__) for c in cls.__mro__],
            "config_kwargs": encode(kwargs) if isinstance(kwargs, dict) else None,
        }
    out.write(json.dumps(answer))


def load(location):
    """The config module, and the object in it that hypercorn's
    python:module.object names (None for a module or a file)."""
    try:
        return load_config(location), None
    except ImportError:
        name = location[len("python:"):] if location.startswith("python:") else ""
        if "." not in name:
            raise
        path, attr = name.rsplit(".", 1)
        mod = load_config("python:" + path)
        return mod, getattr(mod, attr)


def attributes(obj):
    """hypercorn's Config.from_object reading of an object: its public
    attributes. A hypercorn Config instance gives only what was set on it
    (its class holds hypercorn's defaults); its properties keep their
    values under _name."""
    cls = type(obj)
    if cls.__module__ == "hypercorn.config" and cls.__name__ == "Config":
        return {k.lstrip("_"): v for k, v in vars(obj).items() if k not in ("_log",)}
    out = {}
    for k in dir(obj):
        if k.startswith("_"):
            continue
        v = getattr(obj, k)
        if not callable(v):
            out[k] = v
    return out
