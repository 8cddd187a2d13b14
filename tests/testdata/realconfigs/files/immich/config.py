# Reproduces immich-app/immich machine-learning/app/config.py as far as the
# server sees it: CustomUvicornWorker (a uvicorn worker overriding _serve,
# no CONFIG_KWARGS) and the CustomRichHandler its log_conf.json names. The
# settings classes, and rich's handler, are left out (pydantic-settings and
# rich are immich's dependencies, not the server's); a StreamHandler stands
# in for rich's.
import logging
import sys
from socket import socket

from gunicorn.arbiter import Arbiter
from uvicorn import Server
from uvicorn.workers import UvicornWorker


class CustomRichHandler(logging.StreamHandler):
    pass


class CustomUvicornServer(Server):
    async def shutdown(self, sockets: "list[socket] | None" = None) -> None:
        for sock in sockets or []:
            sock.close()
        await super().shutdown()


class CustomUvicornWorker(UvicornWorker):
    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = CustomUvicornServer(config=self.config)
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
