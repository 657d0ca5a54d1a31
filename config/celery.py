"""The Celery application, configured from Django's settings (keys prefixed CELERY_).

Workers run `celery -A config worker`; every app's `tasks.py` is discovered.
"""

import logging
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from config.priority import process_lower, worker_nice

log = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("reviewflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _worker_lower_priority(**_: object) -> None:
    """The worker below the web server in CPU priority (``REVIEWFLOW_WORKER_NICE``)."""
    nice = process_lower(worker_nice(), own_group=False)
    log.info("Celery worker at niceness %d", nice)


@worker_process_init.connect
def _pool_process_lower_priority(**_: object) -> None:
    # Pool processes run the tasks: each also gets a scheduling group of its own, so that
    # its niceness counts against the web server's processes (see config.priority).
    process_lower(worker_nice(), own_group=True)
