"""Settings for a deployment: PostgreSQL, Redis and Celery workers behind a TLS proxy.

Refuses to start without what a deployment must decide for itself (the secret key, the
database, Redis, the host names); everything else has a safe default that an environment
variable can change. `docs/deploy.md` lists them all.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import BASE_DIR
from .env import env_bool, env_int, env_list, env_required, env_str, pg_parallel_options

DEBUG = env_bool("DJANGO_DEBUG", False)

# --- Database and Redis -----------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_required("DATABASE_URL", "the PostgreSQL database, postgres://USER:PASSWORD@HOST/NAME"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    # SQLite serialises every writer: fine for one person's demo, not for a team.
    raise ImproperlyConfigured(
        "DATABASE_URL must point to PostgreSQL (postgres://...) in production, "
        f"not {DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
    )

DATABASES["default"].setdefault("OPTIONS", {}).update(pg_parallel_options())

REDIS_URL = env_required(
    "REDIS_URL", "the Redis server of the job queue and shared cache, redis://HOST:6379/0"
)
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must be a redis:// or rediss:// URL, got {REDIS_URL!r}")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# Jobs go to the workers; a deployment never runs them inside a web request.
CELERY_TASK_ALWAYS_EAGER = False
REVIEWFLOW_JOBS_IN_THREAD = False
CACHES = {
    "default": {
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "reviewflow",
    }
}

# --- HTTP: hosts, TLS behind the proxy, cookies ------------------------------------------------

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS must name the host names the site answers to "
        "(comma-separated, e.g. reviewflow.example.org)"
    )
# Forms posted from these origins pass the CSRF check; by default https:// + each host.
CSRF_TRUSTED_ORIGINS = env_list(
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    [f"https://{'*' if h.startswith('.') else ''}{h}" for h in ALLOWED_HOSTS if h != "*"],
)

# TLS ends at the proxy (nginx), which says so in X-Forwarded-Proto; it must set (not
# pass on) that header, or a client could claim HTTPS over plain HTTP.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Load balancers probe the app servers directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
# Proxies in front of the app servers (nginx: 1; a load balancer in front of nginx: 2).
# Login throttling counts failures per client address, which only they can tell.
REVIEWFLOW_PROXY_COUNT = env_int("REVIEWFLOW_PROXY_COUNT", 1)
AXES_CLIENT_IP_CALLABLE = "config.proxy.client_ip"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Files ------------------------------------------------------------------------------------

# Static files are collected (`manage.py collectstatic`) and served by whitenoise, with
# hashed names and pre-compressed copies, so they can be cached for ever.
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    # Uploads appear whole or not at all (a full disk leaves no truncated file).
    "default": {"BACKEND": "reviews.storage.AtomicFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
# Uploaded files (imports, full-text PDFs) and rebuildable caches: on storage every app
# server and worker shares when there are several machines (docs/deploy.md).
MEDIA_ROOT = Path(env_str("REVIEWFLOW_MEDIA_ROOT", str(BASE_DIR / "media")))
REVIEWFLOW_CACHE_DIR = Path(env_str("REVIEWFLOW_CACHE_DIR", str(BASE_DIR / "var" / "cache")))

# --- Logging: everything to stdout, for systemd's journal or the container runtime -----------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["stdout"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Requests that fail (4xx/5xx) are logged by django.request; gunicorn's access log
        # has the rest.
        "django.request": {"level": "WARNING"},
    },
}
