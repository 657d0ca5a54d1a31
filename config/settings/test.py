"""Test settings: only what makes the suite faster or isolated."""

import os
import tempfile
from pathlib import Path

# base.py requires a secret key; any will do for the tests.
os.environ.setdefault("DJANGO_SECRET_KEY", "django-insecure-test-key")

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Fault tests start server processes that must share one media directory.
MEDIA_ROOT = Path(
    os.environ.get("REVIEWFLOW_TEST_MEDIA_ROOT")
    or tempfile.mkdtemp(prefix="reviewflow-test-media-")
)
REVIEWFLOW_CACHE_DIR = Path(tempfile.mkdtemp(prefix="reviewflow-test-cache-"))
DEBUG = False
# Tasks run in the calling thread unless a test starts a real worker itself.
CELERY_TASK_ALWAYS_EAGER = True
REVIEWFLOW_JOBS_IN_THREAD = False
# A per-process cache whatever the environment says: tests must not share state via Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
