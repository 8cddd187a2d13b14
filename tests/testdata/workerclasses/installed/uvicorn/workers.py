from gunicorn.workers.base import Worker


class UvicornWorker(Worker):
    """A fake uvicorn worker: an installed uvicorn."""

    CONFIG_KWARGS = {"loop": "auto", "http": "auto"}


class UvicornH11Worker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "asyncio", "http": "h11"}
