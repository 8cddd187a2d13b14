"""bench/asgi_profile.sh's cProfile wrapper: imports the ASGI app named by
CPROFILE_APP (module:attr) and profiles the whole worker process (the
event loop, the shim and the app) from this import until the process exits,
writing pstats to CPROFILE_OUT."""
import atexit
import cProfile
import importlib
import os
import signal
import sys

_mod, _, _attr = os.environ['CPROFILE_APP'].partition(':')
_prof = cProfile.Profile()


def _dump(*_a):
    _prof.disable()
    _prof.dump_stats(os.environ['CPROFILE_OUT'])


atexit.register(_dump)
app = getattr(importlib.import_module(_mod), _attr or 'app')
_prof.enable()
