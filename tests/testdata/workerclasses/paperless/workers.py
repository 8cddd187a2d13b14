# After paperless-ngx's src/paperless/workers.py (which reads Django's
# FORCE_SCRIPT_NAME; an environment variable here).
import os

from uvicorn.workers import UvicornWorker


class ConfigurableWorker(UvicornWorker):
    CONFIG_KWARGS = {
        "root_path": os.environ.get("PAPERLESS_FORCE_SCRIPT_NAME") or "",
    }
