#!/usr/bin/env bash
# `make serve`: Reviewflow the way production runs it, on this machine. Production
# settings against PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), migrations, collected
# static files, the demo review, one Celery worker, one Celery beat (scheduled searches)
# and gunicorn. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

: "${DATABASE_URL:?make serve needs DATABASE_URL=postgres://USER@HOST:5432/NAME (PostgreSQL)}"
: "${REDIS_URL:?make serve needs REDIS_URL=redis://127.0.0.1:6379/0}"
export DATABASE_URL REDIS_URL
export DJANGO_SETTINGS_MODULE=config.settings.production

if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
    # A key of this machine's own, kept between runs so that sessions survive a restart.
    mkdir -p var
    if [ ! -s var/secret_key ]; then
        (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret_key)
        echo "make serve: wrote a new secret key to var/secret_key"
    fi
    DJANGO_SECRET_KEY="$(cat var/secret_key)"
    export DJANGO_SECRET_KEY
fi
export DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS:-$HOST,localhost,127.0.0.1}"
# No TLS proxy in front of it here, so plain HTTP: no redirect to HTTPS, cookies that
# travel over HTTP. Behind nginx with TLS (docs/deploy.md) both stay at their default, true.
export DJANGO_SECURE_SSL_REDIRECT="${DJANGO_SECURE_SSL_REDIRECT:-false}"
export DJANGO_SECURE_COOKIES="${DJANGO_SECURE_COOKIES:-false}"
export REVIEWFLOW_PROXY_COUNT="${REVIEWFLOW_PROXY_COUNT:-0}"
export DJANGO_CSRF_TRUSTED_ORIGINS="${DJANGO_CSRF_TRUSTED_ORIGINS:-http://$HOST:$PORT}"

"$BIN/python" manage.py check --deploy --fail-level ERROR
"$BIN/python" manage.py migrate --noinput
"$BIN/python" manage.py collectstatic --noinput -v0
if [ "${SERVE_DEMO:-1}" = 1 ]; then
    "$BIN/python" manage.py load_demo
fi

# The worker at a lower CPU priority than the web server: a refit or an import must not
# slow reviewers' requests. Its pool processes lower themselves (REVIEWFLOW_WORKER_NICE,
# default 10) in a scheduling group of their own: `nice -n 10` here would not count
# against gunicorn once the two are in different autogroups (config/priority.py).
"$BIN/celery" -A config worker --loglevel=INFO \
    --concurrency="${CELERY_CONCURRENCY:-2}" --hostname="worker1@%h" &
worker=$!
# One beat beside the worker, in a process of its own (not the worker's -B: with more
# workers that would run several beats, and each would queue every scheduled search).
# It queues `reviews.search_schedules_due` every hour (CELERY_BEAT_SCHEDULE); the file keeps
# when each entry last ran, so a restart does not run them all again at once.
BEAT_SCHEDULE="${BEAT_SCHEDULE:-var/celerybeat-schedule}"
mkdir -p "$(dirname "$BEAT_SCHEDULE")"
"$BIN/celery" -A config beat --loglevel=INFO --schedule="$BEAT_SCHEDULE" &
beat=$!
trap 'kill -TERM "$worker" "$beat" 2>/dev/null; wait "$worker" "$beat" 2>/dev/null' EXIT

echo "Reviewflow (production settings, gunicorn + Celery worker and beat) on http://$HOST:$PORT/ ; health: http://$HOST:$PORT/healthz"
GUNICORN_BIND="$HOST:$PORT" "$BIN/gunicorn" -c config/gunicorn.conf.py
