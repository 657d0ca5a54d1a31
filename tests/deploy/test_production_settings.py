"""Production settings: refuse to start without what a deployment must set; pass check --deploy."""

from __future__ import annotations

import json

import pytest

from .conftest import production_env, run_python


def test_check_deploy_passes_without_any_warning():
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env()
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY must be set"),
        ("DATABASE_URL", "DATABASE_URL must be set"),
        ("REDIS_URL", "REDIS_URL must be set"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS must name the host names"),
    ],
)
def test_refuses_to_start_without_a_required_variable(missing, message):
    result = run_python(
        ["-c", "import config.settings.production"], production_env(**{missing: None})
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DATABASE_URL": "sqlite:///reviewflow.db"}, "DATABASE_URL must point to PostgreSQL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL must be a redis://"),
        ({"DJANGO_SECRET_KEY": "   "}, "DJANGO_SECRET_KEY must be set"),
    ],
)
def test_refuses_to_start_with_a_wrong_value(overrides, message):
    result = run_python(["-c", "import config.settings.production"], production_env(**overrides))
    assert result.returncode != 0
    assert message in result.stderr


def test_base_settings_have_no_built_in_secret_key():
    env = production_env(DJANGO_SETTINGS_MODULE="config.settings.base", DJANGO_SECRET_KEY=None)
    result = run_python(["-c", "import config.settings.base"], env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_values_come_from_the_environment(tmp_path):
    env = production_env(
        DJANGO_ALLOWED_HOSTS="reviews.example.org,.example.net",
        REVIEWFLOW_MEDIA_ROOT=str(tmp_path / "media"),
    )
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: str(getattr(s, k)) for k in ("
        "'ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'MEDIA_ROOT', 'SECURE_PROXY_SSL_HEADER', "
        "'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'DEBUG', "
        "'CELERY_TASK_ALWAYS_EAGER', 'CELERY_BROKER_URL')} | {"
        "'static': s.STORAGES['staticfiles']['BACKEND'], "
        "'cache': s.CACHES['default']['BACKEND'], 'log': s.LOGGING['handlers']['stdout']}))"
    )
    result = run_python(["-c", script], env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])  # after axes' banner
    assert values["ALLOWED_HOSTS"] == "['reviews.example.org', '.example.net']"
    assert values["CSRF_TRUSTED_ORIGINS"] == (
        "['https://reviews.example.org', 'https://*.example.net']"
    )
    assert values["MEDIA_ROOT"] == str(tmp_path / "media")
    assert values["SECURE_PROXY_SSL_HEADER"] == "('HTTP_X_FORWARDED_PROTO', 'https')"
    assert values["SECURE_SSL_REDIRECT"] == values["SESSION_COOKIE_SECURE"] == "True"
    assert values["CSRF_COOKIE_SECURE"] == "True"
    assert values["DEBUG"] == values["CELERY_TASK_ALWAYS_EAGER"] == "False"
    assert values["CELERY_BROKER_URL"] == env["REDIS_URL"]
    assert values["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert values["cache"] == "config.cache.RedisCache"  # Django's, one client per pool
    assert values["log"]["stream"] == "ext://sys.stdout"


def test_collected_static_files_are_served_with_hashed_names(tmp_path):
    """collectstatic with the manifest storage succeeds (every file a stylesheet refers to
    exists), and pages then link the hashed, cacheable names, which whitenoise serves."""
    env = production_env(DJANGO_STATIC_ROOT=str(tmp_path / "static"))
    result = run_python(["manage.py", "collectstatic", "--noinput", "-v0"], env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()
    script = (
        "import json, re, django; django.setup(); from django.test import Client; "
        "c = Client(HTTP_HOST='reviewflow.example.org', HTTP_X_FORWARDED_PROTO='https'); "
        "page = c.get('/accounts/login/'); "
        "css = re.search(r'/static/bootstrap/css/bootstrap\\.min\\.[0-9a-f]{12}\\.css', "
        "page.content.decode()).group(); "
        "served = c.get(css); "
        "plain = Client(HTTP_HOST='reviewflow.example.org').get('/accounts/login/'); "
        "print(json.dumps([page.status_code, css, served.status_code, "
        "served.headers['Cache-Control'], plain.status_code, plain.headers['Location'], "
        "page.headers['Strict-Transport-Security']]))"
    )
    result = run_python(["-c", script], env)
    assert result.returncode == 0, result.stderr
    status, css, served, cache_control, plain_status, location, hsts = json.loads(
        result.stdout.strip().splitlines()[-1]
    )
    assert status == 200
    assert css.startswith("/static/bootstrap/css/bootstrap.min.")
    assert served == 200 and "immutable" in cache_control
    # Plain HTTP is sent to HTTPS; HTTPS answers carry HSTS.
    assert (plain_status, location) == (301, "https://reviewflow.example.org/accounts/login/")
    assert "max-age=31536000" in hsts and "preload" in hsts


def test_gunicorn_config_loads_the_app_with_production_settings():
    result = run_python(
        ["-m", "gunicorn", "--check-config", "-c", "config/gunicorn.conf.py"],
        production_env(WEB_CONCURRENCY="3", GUNICORN_BIND="127.0.0.1:0"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


GUNICORN_DEFAULTS = """
import json, runpy
config = runpy.run_path("config/gunicorn.conf.py")
from django.conf import settings
print(json.dumps({"workers": config["workers"], "threads": config["threads"],
                  "options": settings.DATABASES["default"].get("OPTIONS", {})}))
"""


@pytest.mark.parametrize(
    ("overrides", "workers", "threads", "options"),
    [
        # 2 x CPUs + 1 processes (at most 9) of 4 threads; no parallel query workers.
        ({}, None, 4, {"options": "-c max_parallel_workers_per_gather=0"}),
        (
            {"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "8", "REVIEWFLOW_PG_PARALLEL_WORKERS": ""},
            3,
            8,
            {},
        ),
    ],
)
def test_gunicorn_defaults_and_the_web_servers_database_options(
    overrides, workers, threads, options
):
    import os

    result = run_python(["-c", GUNICORN_DEFAULTS], production_env(**overrides))
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    cpus = os.cpu_count() or 1
    assert got == {
        "workers": workers or min(2 * cpus + 1, 9),
        "threads": threads,
        "options": options,
    }


def test_a_celery_worker_keeps_the_servers_parallel_query_setting():
    """Without gunicorn's config (a Celery worker, manage.py) no option is sent."""
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
    )
    result = run_python(["-c", code], production_env())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}
