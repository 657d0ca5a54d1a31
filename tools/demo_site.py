"""A fresh demo site in a folder of its own: `migrate` and `load_demo` into a new SQLite
database, then `runserver` on a free port. Used by `make docs-screenshots` and by the
browser tests that walk the demo (accessibility, the guide's screenshots).

Everything lives under the folder given (database, media, cache): the developer's
`db.sqlite3` and media are never touched, and two runs never share state.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from reviews.demo import DEMO_SLUG  # noqa: F401  (the guide and tests open the demo review)

ROOT = Path(__file__).resolve().parent.parent
# `load_demo` prints these; the guide and the tests log in with them.
DEMO_PASSWORD = "reviewflow-demo"


def demo_env(workdir: Path) -> dict[str, str]:
    """The environment of a demo site kept under ``workdir``."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Jobs run in the web process and the database is this folder's own.
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="true",  # runserver serves the static files
        DATABASE_URL=f"sqlite:///{workdir / 'demo.sqlite3'}",
        REVIEWFLOW_MEDIA_ROOT=str(workdir / "media"),
        REVIEWFLOW_CACHE_DIR=str(workdir / "cache"),
        REVIEWFLOW_LOGIN_THROTTLING="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed; see {log}")


def demo_build(workdir: Path) -> dict[str, str]:
    """Create the demo database under ``workdir``; return the environment to serve it."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = demo_env(workdir)
    log = workdir / "build.log"
    _manage(["migrate", "--noinput"], env, log)
    _manage(["load_demo"], env, log)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def demo_serve(workdir: Path, env: dict[str, str], timeout: float = 120) -> Iterator[str]:
    """Run the demo site's server while the block runs; yield its base URL."""
    port = _free_port()
    log = (workdir / "server.log").open("a")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the demo server stopped; see {workdir / 'server.log'}")
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=5).close()
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError("the demo server did not answer in time") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@contextlib.contextmanager
def demo_site(workdir: Path) -> Iterator[str]:
    """Build a fresh demo under ``workdir`` and serve it; yield its base URL."""
    env = demo_build(workdir)
    with demo_serve(workdir, env) as url:
        yield url
