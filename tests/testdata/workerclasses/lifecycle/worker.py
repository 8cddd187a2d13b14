# After authentik's lifecycle/worker.py (its timeout comes from authentik's
# CONFIG; a constant here).
from uvicorn.workers import UvicornWorker


class DjangoUvicornWorker(UvicornWorker):
    """Custom configured Uvicorn Worker without lifespan"""

    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "off",
        "ws": "wsproto",
        "timeout_graceful_shutdown": 10,
    }

    _worker_id: int
