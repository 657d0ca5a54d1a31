"""What a process carries from start-up: the drawing and spreadsheet libraries are loaded by
the functions that use them, not by every web and worker process (issue 24: a refit worker's
memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Imported only where a figure is drawn or a spreadsheet written.
LAZY = ("matplotlib", "openpyxl", "PIL")

STARTUP = """
import json, sys
import django
django.setup()
from config.celery import app
app.loader.import_default_modules()  # every app's tasks.py, as a worker at its start
import config.urls  # every view, as the web server at its first request
print(json.dumps(sorted(m for m in %r if m in sys.modules)))
from extraction.rob.figures import figure_to_bytes, summary_plot
figure_to_bytes(summary_plot([("Study", {"D1": "low"}, "low")], [("D1", "Domain 1")]), "svg")
print(json.dumps(sorted(m for m in %r if m in sys.modules)))
"""


def test_a_process_starts_without_the_drawing_and_spreadsheet_libraries(tmp_path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    out = subprocess.run(
        [sys.executable, "-c", STARTUP % (LAZY, LAZY)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    at_start, after_drawing = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    assert at_start == []
    assert "matplotlib" in after_drawing  # and the figure was drawn when asked for
