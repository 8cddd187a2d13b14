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
