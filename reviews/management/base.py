"""The base of every Reviewflow management command (all apps derive from it).

A command refused by the domain (a `DomainError`) or given a file it cannot read (missing,
a directory, not text, a damaged zip) ends with one line on stderr and exit status 1, the
way `CommandError` does, instead of a traceback. Anything else is a bug and keeps its
traceback. `tests/test_commands.py` checks that every command of the project derives from
`ReviewflowCommand`.
"""

from __future__ import annotations

import csv
import zipfile
import zlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, SystemCheckError

from reviews.errors import DomainError

# What reading a user's file raises when the file is wrong rather than the code.
BAD_FILE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    UnicodeError,
    EOFError,
    csv.Error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
)


def one_line(text: str) -> str:
    """A message on a single line (stderr readers and log scrapers read one line)."""
    return " ".join(str(text).split())


def bad_file_message(exc: BaseException) -> str:
    """Say which file could not be read and why, without a traceback."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"Cannot read {exc.filename}: {exc.strerror or exc}."
    if isinstance(exc, UnicodeDecodeError):
        return f"The file is not text in {exc.encoding} (byte {exc.start}: {exc.reason})."
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        return f"The zip file is damaged ({exc or type(exc).__name__})."
    return f"The file cannot be read: {exc or type(exc).__name__}."


class ReviewflowCommand(BaseCommand):
    """`BaseCommand` that turns refusals and unreadable files into a one-line `CommandError`.

    `call_command` sees the `CommandError`; `manage.py` prints it on one line of stderr and
    exits with status 1 (`--traceback` still shows where it came from).
    """

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except SystemCheckError:
            raise  # formats its own (multi-line) report
        except CommandError as exc:
            raise CommandError(one_line(str(exc)), returncode=exc.returncode) from exc
        except DomainError as exc:
            raise CommandError(one_line(exc.message)) from exc
        except BAD_FILE_ERRORS as exc:
            raise CommandError(one_line(bad_file_message(exc))) from exc
