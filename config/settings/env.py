"""Typed readers for settings taken from the environment.

A malformed value fails at start-up with ImproperlyConfigured instead of
surfacing later as a confusing error deep in a request.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_required(name: str, why: str) -> str:
    """A variable a deployment must set; refuse to start, saying what it is for, without it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set: {why}")
    return value


def pg_parallel_options() -> dict[str, str]:
    """PostgreSQL connection options for ``REVIEWFLOW_PG_PARALLEL_WORKERS``: the parallel
    workers per query (max_parallel_workers_per_gather) of this process's connections, or
    nothing (the server's own setting) when unset or empty.

    The web server sets 0 (config/gunicorn.conf.py): a lead page that forks two parallel
    workers to hash a 200,000-item stage ran 3x slower on a busy 2-CPU server than the
    one-process index walk the planner picks without them (64 -> 20 ms), and took the
    cores the reviewers' votes wait for. Celery workers keep the server's setting.
    """
    if not env_str("REVIEWFLOW_PG_PARALLEL_WORKERS", "").strip():
        return {}
    workers = env_int("REVIEWFLOW_PG_PARALLEL_WORKERS", 0)
    return {"options": f"-c max_parallel_workers_per_gather={workers}"}
