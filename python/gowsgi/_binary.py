"""Finds the gowsgi binary that pip installed with this package.

The wheel puts the binary in the environment's scripts directory (a venv's
bin/, ~/.local/bin for --user, PREFIX/bin for --prefix, TARGET/bin for
--target), the way ruff's and uv's wheels do; this looks in each of those,
then on PATH.
"""

import os
import shutil
import sys
import sysconfig

EXE = "gowsgi.exe" if os.name == "nt" else "gowsgi"


def _user_scheme():
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        return "osx_framework_user"
    return "%s_user" % os.name


def _candidates():
    yield sysconfig.get_path("scripts")
    try:
        yield sysconfig.get_path("scripts", _user_scheme())
    except KeyError:
        pass
    pkg = os.path.dirname(os.path.abspath(__file__))
    # pip install --target T: T/gowsgi/ and T/bin/gowsgi.
    # pip install --prefix P: P/lib/pythonX.Y/site-packages/gowsgi/ and P/bin/gowsgi.
    up = pkg
    for _ in range(4):
        up = os.path.dirname(up)
        yield os.path.join(up, "bin")


def find_gowsgi_bin():
    """Return the path of the gowsgi binary: $GOWSGI_BIN when set, else the
    one installed with this package, else gowsgi on PATH."""
    env = os.environ.get("GOWSGI_BIN")
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env
        raise FileNotFoundError("gowsgi: GOWSGI_BIN=%s is not an executable file" % env)
    looked = []
    for d in _candidates():
        if not d or d in looked:
            continue
        looked.append(d)
        p = os.path.join(d, EXE)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    p = shutil.which(EXE)
    if p:
        return p
    raise FileNotFoundError(
        "gowsgi: the gowsgi binary is not installed with this package (looked in %s and PATH); "
        "reinstall the platform wheel (pip install --force-reinstall gowsgi) or set GOWSGI_BIN"
        % ", ".join(looked)
    )
