# Reproduces UKHSA-Internal/coronavirus-dashboard-frontend-server
# app/uvicorn_worker.py: a uvicorn worker with these CONFIG_KWARGS.
from uvicorn.workers import UvicornWorker


class ServerUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "uvloop", "proxy_headers": True, "access_log": False, "reload": False, "backlog": 32}
