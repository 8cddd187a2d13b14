# Reproduces tiangolo/uvicorn-gunicorn-docker docker-images/gunicorn_conf.py
# (the image's /gunicorn_conf.py, run by its start.sh): the same module
# globals, environment variables and defaults; its helper variables keep
# their names, since gunicorn (and gowsgi) must read past them.
import json
import multiprocessing
import os

workers_per_core_str = os.getenv("WORKERS_PER_CORE", "1")
web_concurrency_str = os.getenv("WEB_CONCURRENCY", None)
host = os.getenv("HOST", "0.0.0.0")
port = os.getenv("PORT", "80")
bind_env = os.getenv("BIND", None)
use_loglevel = os.getenv("LOG_LEVEL", "info")
use_bind = bind_env if bind_env else f"{host}:{port}"

cores = multiprocessing.cpu_count()
workers_per_core = float(workers_per_core_str)
default_web_concurrency = workers_per_core * cores
if web_concurrency_str:
    web_concurrency = int(web_concurrency_str)
    assert web_concurrency > 0
else:
    web_concurrency = max(int(default_web_concurrency), 2)
worker_class_str = os.getenv("WORKER_CLASS", "uvicorn.workers.UvicornWorker")
graceful_timeout_str = os.getenv("GRACEFUL_TIMEOUT", "120")
timeout_str = os.getenv("TIMEOUT", "120")
keepalive_str = os.getenv("KEEPALIVE", "120")

# Gunicorn config variables
loglevel = use_loglevel
workers = web_concurrency
bind = use_bind
errorlog = "-"
worker_tmp_dir = "/dev/shm"
worker_class = worker_class_str
graceful_timeout = int(graceful_timeout_str)
timeout = int(timeout_str)
keepalive = int(keepalive_str)

# The image prints what it computed, for its tests.
log_data = {"loglevel": loglevel, "workers": workers, "bind": bind, "workers_per_core": workers_per_core,
            "host": host, "port": port, "worker_class": worker_class, "graceful_timeout": graceful_timeout,
            "timeout": timeout, "keepalive": keepalive}
print(json.dumps(log_data))
