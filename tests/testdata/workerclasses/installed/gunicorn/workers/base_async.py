from gunicorn.workers.base import Worker


class AsyncWorker(Worker):
    pass
