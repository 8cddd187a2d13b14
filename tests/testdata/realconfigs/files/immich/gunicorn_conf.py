# Reproduces immich-app/immich machine-learning/app/gunicorn_conf.py: a
# pre_fork hook that gives each worker a device id.
import os

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

device_ids = os.environ.get("MACHINE_LEARNING_DEVICE_IDS", "0").replace(" ", "").split(",")
env = os.environ


def pre_fork(arbiter: Arbiter, _: Worker):
    device_id = device_ids[len(arbiter.WORKERS) % len(device_ids)]
    env["MACHINE_LEARNING_DEVICE_ID"] = str(device_id)
