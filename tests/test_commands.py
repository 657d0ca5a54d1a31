"""Every management command: a refusal or a bad file is one line on stderr and exit status 1."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.management import (
    CommandError,
    call_command,
    get_commands,
    load_command_class,
)

from reviews.errors import DomainError
from reviews.management.base import ReviewflowCommand
from tests.reviews.damage import corrupt_member

ROOT = Path(__file__).resolve().parent.parent
PROJECT_APPS = {"reviews", "screening", "extraction", "analysis", "api", "config"}


def _project_commands() -> dict[str, str]:
    return {name: app for name, app in get_commands().items() if app in PROJECT_APPS}


def test_every_project_command_derives_from_the_shared_base():
    commands = _project_commands()
    assert {"import_review", "import_records", "simulate_screening"} <= set(commands)
    plain = [
        name
        for name, app in commands.items()
        if not isinstance(load_command_class(app, name), ReviewflowCommand)
    ]
    assert not plain, f"derive these from reviews.management.base.ReviewflowCommand: {plain}"


class _Raises(ReviewflowCommand):
    def __init__(self, error: BaseException) -> None:
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO())
        self.error = error

    def handle(self, *args, **options) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error,message",
    [
        (DomainError("Refused:\nthe review is closed."), "Refused: the review is closed."),
        (FileNotFoundError(2, "No such file or directory", "x.csv"), "Cannot read x.csv"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not text in utf-8"),
        (zlib.error("Error -3 while decompressing data"), "zip file is damaged"),
        (zipfile.BadZipFile("Bad CRC-32 for file 'a'"), "zip file is damaged"),
        (CommandError("two\nlines"), "two lines"),
    ],
    ids=["domain", "missing", "encoding", "zlib", "badzip", "command-error"],
)
def test_refusals_and_bad_files_become_a_one_line_command_error(error, message):
    with pytest.raises(CommandError) as info:
        _Raises(error).execute(no_color=True, force_color=False, skip_checks=True)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_bug_keeps_its_traceback():
    with pytest.raises(KeyError):
        _Raises(KeyError("bug")).execute(no_color=True, force_color=False, skip_checks=True)


def test_domain_errors_of_a_command_reach_the_user_as_the_message(cast):
    with pytest.raises(CommandError, match="longer than 100 characters"):
        call_command("create_api_token", "alice", "--name", "x" * 101)


def test_import_records_refuses_a_file_it_cannot_parse(cast, tmp_path):
    path = tmp_path / "records.ris"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not a search export")
    with pytest.raises(CommandError, match="PNG image, not a text export"):
        call_command("import_records", cast.review.slug, str(path))
    assert not cast.review.records.exists()


def _manage(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        # Never touched by these refusals; a private file so that no real database is.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _damaged_archive(path: Path) -> Path:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        manifest = {"format": "reviewflow-review-archive", "version": 1, "files": {}}
        manifest["padding"] = [f"entry {i}" for i in range(200)]
        archive.writestr("manifest.json", json.dumps(manifest))
    path.write_bytes(corrupt_member(out.getvalue(), "manifest.json"))
    return path


@pytest.mark.parametrize("case", ["damaged-zip", "directory", "missing"])
def test_manage_py_prints_one_line_and_exits_1(tmp_path, case):
    target = {
        "damaged-zip": lambda: str(_damaged_archive(tmp_path / "review.zip")),
        "directory": lambda: str(tmp_path),
        "missing": lambda: str(tmp_path / "nothing.zip"),
    }[case]()
    result = _manage("import_review", target, tmp_path=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("CommandError: ") and "Traceback" not in result.stderr
