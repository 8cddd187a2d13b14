# After mozilla/ichnaea's ichnaea/webapp/worker.py.
import gevent
from gunicorn.workers.ggevent import GeventWorker


class LocationGeventWorker(GeventWorker):
    """A gevent worker with a timeout on each request."""

    def handle_request(self, *args):
        with gevent.Timeout(self.cfg.timeout, False):
            super(LocationGeventWorker, self).handle_request(*args)
