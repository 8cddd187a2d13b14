"""Imports a module that does not exist: the traceback must be shown."""
import this_module_does_not_exist_anywhere  # noqa: F401


def app(environ, start_response):
    return []
