from gunicorn.workers.base_async import AsyncWorker


class GeventWorker(AsyncWorker):
    pass
