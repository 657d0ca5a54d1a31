"""Settings for `make run` on a developer's machine."""

import os

# base.py requires a secret key; this one is good only for the demo on one's own machine.
os.environ.setdefault("DJANGO_SECRET_KEY", "django-insecure-local-development-key")

from .base import *  # noqa: E402, F403
from .env import env_bool  # noqa: E402

DEBUG = env_bool("DJANGO_DEBUG", True)
