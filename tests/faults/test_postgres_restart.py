"""PostgreSQL restarted while five reviewers screen, against real server processes.

A private PostgreSQL (initdb in a temporary directory, its own port) serves gunicorn (2
workers × 4 threads); five reviewers vote over HTTP; half-way the database restarts. Every
answer is a 2xx/3xx or a 503 "try again" (which the client retries), never another 5xx; and
afterwards every vote that was answered 2xx/3xx is stored exactly once.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
from collections import Counter

import pytest

from tests.faults.pg import (
    app_env,
    free_port,
    manage,
    private_postgres_running,
    start_gunicorn,
)

pytestmark = [pytest.mark.slow]

N_REVIEWERS, N_RECORDS = 5, 60
CSRF = "f" * 32  # a CSRF secret: cookie and header carry the same value

SETUP = f"""
import json
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from reviews.models import Membership, Review
from screening import services
from tests.factories import RecordFactory

User = get_user_model()
review = Review.objects.create(title="Fault test", slug="faults")
sessions = {{}}
for i in range({N_REVIEWERS}):
    user = User.objects.create_user(username=f"r{{i}}", password="pw-for-faults-1")
    Membership.objects.create(review=review, user=user, is_reviewer=True, is_lead=(i == 0))
    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s.create()
    sessions[user.username] = s.session_key
records = [RecordFactory(review=review).pk for _ in range({N_RECORDS})]
services.items_sync(review, force=True)
print(json.dumps({{"sessions": sessions, "records": records}}))
"""

CHECK = """
import json
from screening.models import Vote
print(json.dumps([[v.reviewer.username, v.record_id, v.decision]
                  for v in Vote.objects.select_related("reviewer").filter(stage="ta")]))
"""


@pytest.fixture
def private_postgres():
    with private_postgres_running() as pg:
        yield pg


def _vote(port: int, session: str, record_id: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            f"/reviews/faults/screening/ta/records/{record_id}/vote/",
            body="decision=include",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"sessionid={session}; csrftoken={CSRF}",
                "X-CSRFToken": CSRF,
                "Referer": f"http://127.0.0.1:{port}/",
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_postgres_restart_while_five_reviewers_screen(private_postgres):
    pg = private_postgres
    env = app_env(pg.url, tempfile.mkdtemp(prefix="reviewflow-faults-media-"))
    manage(env, "migrate", "--noinput")
    data = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    port = free_port()
    server = start_gunicorn(env, port)
    statuses: Counter = Counter()
    answered: list[tuple[str, int]] = []
    lock = threading.Lock()
    done_votes = threading.Semaphore(0)

    def reviewer(index: int, username: str, session: str) -> None:
        # Dual screening: each record gets the votes of two neighbouring reviewers.
        mine = [
            r
            for k, r in enumerate(data["records"])
            if k % N_REVIEWERS in (index, index - 1)
            or (index == 0 and k % N_REVIEWERS == N_REVIEWERS - 1)
        ]
        for record_id in mine:
            for _attempt in range(40):
                try:
                    status = _vote(port, session, record_id)
                except (ConnectionError, OSError):
                    status = -1  # the socket itself failed: not an answer, try again
                with lock:
                    statuses[status] += 1
                if status in (200, 302):
                    with lock:
                        answered.append((username, record_id))
                    done_votes.release()
                    break
                assert status in (503, -1), f"{username} record {record_id}: HTTP {status}"
                time.sleep(0.25)  # "try again"

    threads = [
        threading.Thread(target=reviewer, args=(i, name, key), daemon=True)
        for i, (name, key) in enumerate(sorted(data["sessions"].items()))
    ]
    try:
        for t in threads:
            t.start()
        for _ in range(2 * N_RECORDS // 3):  # a third of the votes, then restart
            assert done_votes.acquire(timeout=120)
        restart_at = len(answered)
        pg.pg_ctl("restart")
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\nanswers: {dict(statuses)}; restart after {restart_at} votes")
    assert set(statuses) <= {200, 302, 503, -1}, statuses  # never a 500
    stored = json.loads(manage(env, "shell", "-c", CHECK).strip().splitlines()[-1])
    pairs = Counter((user, record) for user, record, _ in stored)
    assert len(answered) == 2 * N_RECORDS
    for pair in answered:
        assert pairs[pair] == 1, pair  # every answered vote is there exactly once
    assert all(decision == "include" for _, _, decision in stored)
