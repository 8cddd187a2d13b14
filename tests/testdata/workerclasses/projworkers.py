# Worker classes of a made-up project: one on meinheld's, one on
# uvicorn_worker's H11 worker, one with a spread of the base's CONFIG_KWARGS,
# and ones gowsgi cannot stand in for.
from meinheld.gmeinheld import MeinheldWorker
from uvicorn_worker import UvicornH11Worker, UvicornWorker


class FastWorker(MeinheldWorker):
    pass


class H11Worker(UvicornH11Worker):
    pass


class ProxiedWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "proxy_headers": False,
        "forwarded_allow_ips": ["10.0.0.1", "10.0.0.2"],
        "limit_concurrency": 50,
        "timeout_keep_alive": 9,
        "log_config": None,
        "headers": [["x-a", "b"]],
    }


class Plain(object):
    pass


class Nothing:
    pass


not_a_class = 3


# CONFIG_KWARGS as real projects write them: every key a uvicorn option
# spells is read as that option (UKHSA-Internal/coronavirus-dashboard-
# frontend-server's app/uvicorn_worker.py sets these keys; a factory worker
# and a log-level/lifespan worker are common in FastAPI projects).
class QuietWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "uvloop", "proxy_headers": True, "access_log": False, "reload": False, "backlog": 32}


class FactoryWorker(UvicornWorker):
    CONFIG_KWARGS = {"factory": True, "http": "auto", "loop": "auto"}


class LoudWorker(UvicornWorker):
    CONFIG_KWARGS = {"log_level": "debug", "lifespan": "on", "reload": True, "use_colors": True, "ssl_keyfile_password": None}


# CONFIG_KWARGS with Python values, as FastAPI projects write them: a
# logging dict for log_config, logging.DEBUG for log_level, uvicorn's
# header switches and WebSocket pings.
import logging

LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": {"uvicorn.error": {"level": "INFO"}}}


class DictLogWorker(UvicornWorker):
    CONFIG_KWARGS = {"log_config": LOGGING, "log_level": logging.DEBUG, "timeout_notify": 300}


class BareWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools", "lifespan": "on", "server_header": False, "date_header": False,
                     "access_log": False, "ws_ping_interval": 20, "ws_ping_timeout": 30}
