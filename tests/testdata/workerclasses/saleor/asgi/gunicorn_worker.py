# After saleor's saleor/asgi/gunicorn_worker.py.
from uvicorn.workers import UvicornWorker as BaseUvicornWorker


class UvicornWorker(BaseUvicornWorker):
    # Override default config args, that cannot be passed as gunicorn parameters.
    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "off",
        "ws": "none",
    }
