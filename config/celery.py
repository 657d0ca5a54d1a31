"""The Celery application, configured from Django's settings (keys prefixed CELERY_).

Workers run `celery -A config worker`; every app's `tasks.py` is discovered.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("reviewflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
