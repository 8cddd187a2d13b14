# Reproduces goauthentik/authentik lifecycle/gunicorn.conf.py: its gunicorn
# settings and hooks. authentik's own imports (CONFIG, get_logger_config,
# the prometheus multiprocess plumbing, the analytics ping) are replaced by
# their values: 2 workers, 4 threads, a structlog-style dict config.
import os
from os import makedirs
from pathlib import Path
from tempfile import gettempdir

_tmp = Path(gettempdir())
worker_class = "lifecycle.worker.DjangoUvicornWorker"
worker_tmp_dir = str(_tmp.joinpath("authentik_worker_tmp"))
prometheus_tmp_dir = str(_tmp.joinpath("authentik_prometheus_tmp"))

makedirs(worker_tmp_dir, exist_ok=True)
makedirs(prometheus_tmp_dir, exist_ok=True)

bind = f"unix://{str(_tmp.joinpath('authentik-core.sock'))}"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authentik.root.settings")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", prometheus_tmp_dir)

preload = True

max_requests = 1000
max_requests_jitter = 50

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

workers = 2
threads = 4


def post_fork(server, worker):
    pass


def worker_exit(server, worker):
    pass


def on_starting(server):
    server._worker_id_overload = set()


def nworkers_changed(server, new_value, old_value):
    server._worker_id_current_workers = new_value


def on_reload(server):
    server._worker_id_overload = set(range(1, server.cfg.workers + 1))


def pre_fork(server, worker):
    pass


def post_worker_init(worker):
    pass
