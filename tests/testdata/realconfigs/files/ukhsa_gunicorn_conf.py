# Reproduces UKHSA-Internal/coronavirus-dashboard-frontend-server
# server/gunicorn_conf.py ("settings courtesy of tiangolo/uvicorn-gunicorn-
# docker": the uvicorn-gunicorn-fastapi variant with MAX_WORKERS,
# ACCESS_LOG, ERROR_LOG and KEEP_ALIVE), with its defaults.
from json import dumps
from multiprocessing import cpu_count
from os import getenv

per_core = float(getenv("WORKERS_PER_CORE", "1"))
max_workers = int(getenv("MAX_WORKERS")) if getenv("MAX_WORKERS") else None
concurrency = getenv("WEB_CONCURRENCY", None)
host = getenv("HOST", "0.0.0.0")
port = getenv("PORT", "5200")

if concurrency:
    workers = int(concurrency)
    assert workers > 0
else:
    workers = max(int(per_core * cpu_count()), 2)
    if max_workers:
        workers = min(workers, max_workers)

loglevel = getenv("LOG_LEVEL", "info")
bind = getenv("BIND", f"{host}:{port}")
errorlog = getenv("ERROR_LOG", "-") or None
accesslog = getenv("ACCESS_LOG", "-") or None
worker_tmp_dir = "/dev/shm"
graceful_timeout = int(getenv("GRACEFUL_TIMEOUT", "120"))
timeout = int(getenv("TIMEOUT", "120"))
keepalive = int(getenv("KEEP_ALIVE", "5"))

print(dumps({"loglevel": loglevel, "workers": workers, "bind": bind, "keepalive": keepalive,
             "errorlog": errorlog, "accesslog": accesslog}))
