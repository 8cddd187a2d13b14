"""gowsgi: a production WSGI server, run from Python.

The gowsgi command (installed with this package) serves an app:

    gowsgi myproject.wsgi:application --workers 4 --threads 8

From Python, in place of wsgiref.simple_server (change one import):

    from gowsgi import make_server
    make_server('', 5000, app).serve_forever()

or waitress-style:

    import gowsgi
    gowsgi.serve(app, host='0.0.0.0', port=8080, workers=4)

Either runs the gowsgi binary, which imports the app in its own worker
processes by module and name; keep the call under
``if __name__ == '__main__':``. Standard library only; Python 3.8+.
"""

from ._binary import find_gowsgi_bin
from ._server import GowsgiError, Server, make_server, serve
from ._target import AppNotImportable

try:
    from ._version import __version__
except ImportError:  # a source checkout: the wheel writes _version.py
    __version__ = "0+source"

__all__ = ["make_server", "serve", "Server", "GowsgiError", "AppNotImportable", "find_gowsgi_bin", "__version__"]
