# Reproduces UKHSA-Internal/coronavirus-dashboard-frontend-server
# server/gunicorn_conf.py ("settings courtesy of tiangolo/uvicorn-gunicorn-
# docker": the uvicorn-gunicorn-fastapi variant with MAX_WORKERS,
# ACCESS_LOG, ERROR_LOG and KEEP_ALIVE): the same module globals,
# environment variables and defaults.
from json import dumps
from multiprocessing import cpu_count
from os import getenv

workers_per_core_str = getenv("WORKERS_PER_CORE", "1")
max_workers_str = getenv("MAX_WORKERS")
use_max_workers = None
if max_workers_str:
    use_max_workers = int(max_workers_str)
web_concurrency_str = getenv("WEB_CONCURRENCY", None)

host = getenv("HOST", "0.0.0.0")
port = getenv("PORT", "5200")
use_bind = getenv("BIND", f"{host}:{port}")
use_loglevel = getenv("LOG_LEVEL", "info")

cores = cpu_count()
workers_per_core = float(workers_per_core_str)
default_web_concurrency = workers_per_core * cores
if web_concurrency_str:
    web_concurrency = int(web_concurrency_str)
    assert web_concurrency > 0
else:
    web_concurrency = max(int(default_web_concurrency), 2)
    if use_max_workers:
        web_concurrency = min(web_concurrency, use_max_workers)

accesslog_var = getenv("ACCESS_LOG", "-")
use_accesslog = accesslog_var or None
errorlog_var = getenv("ERROR_LOG", "-")
use_errorlog = errorlog_var or None
graceful_timeout_str = getenv("GRACEFUL_TIMEOUT", "120")
timeout_str = getenv("TIMEOUT", "120")
keepalive_str = getenv("KEEP_ALIVE", "5")

# Gunicorn config variables
loglevel = use_loglevel
workers = web_concurrency
bind = use_bind
errorlog = use_errorlog
worker_tmp_dir = "/dev/shm"
accesslog = use_accesslog
graceful_timeout = int(graceful_timeout_str)
timeout = int(timeout_str)
keepalive = int(keepalive_str)

log_data = {"loglevel": loglevel, "workers": workers, "bind": bind, "keepalive": keepalive,
            "errorlog": errorlog, "accesslog": accesslog, "use_max_workers": use_max_workers}
print(dumps(log_data))
