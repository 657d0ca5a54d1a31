"""Settings shared by every environment; values come from the environment."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
import xstatic.pkg.bootstrap
from csp.constants import NONE, SELF

from .env import env_bool, env_int, env_list, env_required, env_str, pg_parallel_options

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Real third-party data sets live beside the repository (../shared/data).
SHARED_DATA_DIR = Path(env_str("REVIEWFLOW_SHARED_DATA", str(BASE_DIR.parent / "shared" / "data")))

# No built-in key: a deployment sets its own; local.py and test.py put a development key in
# the environment before they import this module.
SECRET_KEY = env_required(
    "DJANGO_SECRET_KEY",
    "a long random string that signs sessions and password-reset links, the same on every "
    "app server (python -c 'import secrets; print(secrets.token_urlsafe(50))')",
)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",
    "csp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "reviews",
    "screening",
    "extraction",
    "analysis",
    # The API imports from every app above and nothing imports from it.
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "reviews.middleware.DomainErrorMiddleware",
    "reviews.middleware.DatabaseUnavailableMiddleware",
    # Last: it answers a locked-out login before the view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let several reviewers write at once without
    # "database is locked" errors on the demo server.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
else:
    # Parallel query workers of this process's connections (env.pg_parallel_options).
    DATABASES["default"].setdefault("OPTIONS", {}).update(pg_parallel_options())
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "reviews:list"
LOGOUT_REDIRECT_URL = "login"

# --- Security ------------------------------------------------------------------------------
# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username
# from one address, that pair is locked out for AXES_COOLOFF_TIME; a success resets it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("REVIEWFLOW_LOGIN_THROTTLING", True)
AXES_FAILURE_LIMIT = env_int("REVIEWFLOW_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("REVIEWFLOW_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# No start-up banner on stderr: a command's stderr holds its error alone.
AXES_VERBOSE = False
# Django's database sessions, read with one hand-written statement (config/sessions.py).
SESSION_ENGINE = "config.sessions"
# Sessions end after a working day, and at once when the browser closes if asked to.
SESSION_COOKIE_AGE = env_int("REVIEWFLOW_SESSION_SECONDS", 12 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("REVIEWFLOW_SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
PASSWORD_RESET_TIMEOUT = 3 * 3600
# Headers: no sniffing of uploaded files' types, no referrer sent to other sites, no
# framing (the full-text PDF viewer alone allows same-origin frames: xframe_options_sameorigin).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4): scripts only from our own static files, never
# inline (templates carry data-* attributes that static/reviewflow/app.js reads). Inline
# style attributes stay allowed (Bootstrap widths, progress bars); htmx's own indicator
# <style> is switched off in base.html. No page may be framed (frame-ancestors 'none',
# X-Frame-Options DENY) but the full-text PDF, which our own pages frame.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-src": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Bootstrap comes from the xstatic-bootstrap package: no CDN, no vendored copy.
STATICFILES_DIRS = [("bootstrap", xstatic.pkg.bootstrap.BASE_DIR)]
STORAGES = {
    # Uploads appear whole or not at all (a full disk leaves no truncated file).
    "default": {"BACKEND": "reviews.storage.AtomicFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("REVIEWFLOW_MEDIA_ROOT", str(BASE_DIR / "media")))
# Uploaded search exports can be large (100,000 records ~ 150 MB of RIS).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
REVIEWFLOW_MAX_IMPORT_BYTES = env_int("REVIEWFLOW_MAX_IMPORT_BYTES", 500 * 1024 * 1024)
REVIEWFLOW_MAX_PDF_BYTES = env_int("REVIEWFLOW_MAX_PDF_BYTES", 50 * 1024 * 1024)
# Files the app can rebuild at any time (the screening ranking's text features).
REVIEWFLOW_CACHE_DIR = Path(env_str("REVIEWFLOW_CACHE_DIR", str(BASE_DIR / "var" / "cache")))
# Memory each process (a Celery worker's child) may keep the ranking's features of recently
# refitted reviews in, least recently used evicted first; the files above stay the source.
# A 20,000-record review takes ~350 MB, a 5,000-record one ~90 MB (ranking_refit_bench.py).
REVIEWFLOW_RANKING_CACHE_MB = env_int("REVIEWFLOW_RANKING_CACHE_MB", 512)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "reviewflow@localhost")

MESSAGE_TAGS = {40: "danger"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}

# REST API (/api/v1/): personal tokens or the browser's session, the pages' access rule,
# cursor pages, a request budget per token. Docs are served from drf-spectacular-sidecar.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env_str("REVIEWFLOW_API_RATE", "3600/hour")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Reviewflow API",
    "DESCRIPTION": "Records, screening, extraction, risk of bias, analyses and PRISMA of a review.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge: Swagger UI would load it from validator.swagger.io (on any host
    # but localhost), which the CSP blocks.
    # No deep links either: they put a link inside each operation's button (nested
    # interactive controls, which screen readers cannot reach; axe-core refuses them).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "VoteDecisionEnum": "screening.models.Decision",
        "FinalDecisionEnum": "screening.models.FinalDecision",
    },
}

# Background jobs: Celery with Redis as broker and result store when REDIS_URL is set.
# Without it (`make run`, the test suite) tasks run in-process, eagerly, so the embedded
# default needs no Redis and the same job/progress code paths run everywhere.
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool process whose peak resident memory passed this many MB is replaced by a fresh one
# once its task has ended (Celery reads the peak, ru_maxrss, in KiB): a worker refitting
# many reviews no longer keeps what the allocator held after each feature build (1.7 GB
# after 7 refits). The replacement starts in milliseconds (a fork of the worker) and
# reads the features from REVIEWFLOW_CACHE_DIR. 0: never replaced.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("REVIEWFLOW_WORKER_MAX_MEMORY_MB", 1024) * 1024 or None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Scheduled searches (reviews.SearchSchedule): `celery -A config beat` (one per deployment;
# `make serve` starts it) asks every hour which are due (docs/deploy.md). NCBI allows 3
# requests a second, 10 with an API key.
CELERY_BEAT_SCHEDULE = {
    "search-schedules-due": {"task": "reviews.search_schedules_due", "schedule": 3600.0},
}
REVIEWFLOW_NCBI_EUTILS_URL = env_str(
    "REVIEWFLOW_NCBI_EUTILS_URL", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
)
REVIEWFLOW_NCBI_API_KEY = env_str("REVIEWFLOW_NCBI_API_KEY", "")
REVIEWFLOW_NCBI_EMAIL = env_str("REVIEWFLOW_NCBI_EMAIL", "")
REVIEWFLOW_OPENALEX_URL = env_str("REVIEWFLOW_OPENALEX_URL", "https://api.openalex.org")
REVIEWFLOW_OPENALEX_MAILTO = env_str("REVIEWFLOW_OPENALEX_MAILTO", "")
# A message a worker took but never acknowledged (the worker died) is delivered again after
# this many seconds. Jobs are idempotent, so a redelivery of a job still running is harmless.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
# Without a broker (make run) jobs run in a thread of the web process, so that the page that
# started one can show its progress; tests turn this off to run them in the calling thread.
REVIEWFLOW_JOBS_IN_THREAD = CELERY_TASK_ALWAYS_EAGER
# Background work yields the CPU to reviewers' requests: the niceness of Celery workers' pool
# processes and, without a broker, of the thread running a task (config/priority.py).
REVIEWFLOW_WORKER_NICE = env_int("REVIEWFLOW_WORKER_NICE", 10)
# A refit request pending this long (its task sent, not yet taken) is sent again: its task
# may have been lost. Requests made meanwhile are folded into the pending one.
SCREENING_REFIT_RESEND_SECONDS = env_int("SCREENING_REFIT_RESEND_SECONDS", 120)
# A review's first import of at least this many records has its ranking features built on a
# worker at once (screening.ranking.features_prepare), so its first refit is a warm one.
SCREENING_FEATURES_PREBUILD_MIN = env_int("SCREENING_FEATURES_PREBUILD_MIN", 2000)
# A queued or running job silent this long (no progress written) may be run again by a lead.
REVIEWFLOW_JOB_STALLED_AFTER = env_int("REVIEWFLOW_JOB_STALLED_AFTER", 15 * 60)
# A Celery worker running a job writes its heartbeat every REVIEWFLOW_JOB_HEARTBEAT seconds;
# a running job silent for REVIEWFLOW_JOB_LOST_AFTER seconds lost its worker (killed, out of
# memory) and is queued again by any live worker, which looks every REVIEWFLOW_JOB_REAP_EVERY
# seconds; after REVIEWFLOW_JOB_MAX_RESTARTS such restarts the job is failed instead.
REVIEWFLOW_JOB_HEARTBEAT = env_int("REVIEWFLOW_JOB_HEARTBEAT", 5)
REVIEWFLOW_JOB_LOST_AFTER = env_int("REVIEWFLOW_JOB_LOST_AFTER", 30)
REVIEWFLOW_JOB_REAP_EVERY = env_int("REVIEWFLOW_JOB_REAP_EVERY", 10)
REVIEWFLOW_JOB_MAX_RESTARTS = env_int("REVIEWFLOW_JOB_MAX_RESTARTS", 3)

# Caches (progress counters, the items-in-step check, analysis reports) are shared by every
# app server when Redis is there; a per-process memory cache otherwise (`make run`).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "reviewflow",
        }
    }
