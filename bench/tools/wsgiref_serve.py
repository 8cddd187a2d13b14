#!/usr/bin/env python3
"""Serve module:callable with the stdlib reference server (wsgiref.simple_server),
as the seed tutorial does, minus the per-request log line on stderr.

    wsgiref_serve.py --chdir DIR --bind 127.0.0.1:PORT module:callable
"""

from wsgiref.simple_server import WSGIRequestHandler, make_server

from serve_target import load


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    app, host, port = load()
    make_server(host, port, app, handler_class=QuietHandler).serve_forever()


if __name__ == '__main__':
    main()
