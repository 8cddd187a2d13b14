# Reproduces tiangolo/uvicorn-gunicorn-docker docker-images/gunicorn_conf.py:
# the same environment variables, defaults and gunicorn settings (the
# image's /gunicorn_conf.py, run by its start.sh).
import json
import multiprocessing
import os

per_core = float(os.getenv("WORKERS_PER_CORE", "1"))
concurrency = os.getenv("WEB_CONCURRENCY", None)
host = os.getenv("HOST", "0.0.0.0")
port = os.getenv("PORT", "80")
bind = os.getenv("BIND", None) or f"{host}:{port}"
loglevel = os.getenv("LOG_LEVEL", "info")
if concurrency:
    workers = int(concurrency)
    assert workers > 0
else:
    workers = max(int(per_core * multiprocessing.cpu_count()), 2)
worker_class = os.getenv("WORKER_CLASS", "uvicorn.workers.UvicornWorker")
graceful_timeout = int(os.getenv("GRACEFUL_TIMEOUT", "120"))
timeout = int(os.getenv("TIMEOUT", "120"))
keepalive = int(os.getenv("KEEPALIVE", "120"))
errorlog = "-"
worker_tmp_dir = "/dev/shm"

print(json.dumps({"loglevel": loglevel, "workers": workers, "bind": bind, "workers_per_core": per_core,
                  "host": host, "port": port, "worker_class": worker_class}))
