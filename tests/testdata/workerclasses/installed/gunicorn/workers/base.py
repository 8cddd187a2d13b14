class Worker(object):
    """A fake gunicorn base worker: an installed gunicorn."""
