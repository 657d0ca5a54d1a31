"""What a process carries from start-up: the drawing and spreadsheet libraries, the
statistics (scipy.stats), pandas and scikit-learn are loaded by the functions that use them,
not by every web and worker process (issue 24: a refit worker's memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Imported only where a figure is drawn or a spreadsheet written.
LAZY = ("matplotlib", "openpyxl", "PIL")
#: Imported only where an analysis runs or a ranking is fitted (scikit-learn brings the
#: other two): ~110 MB that every web and worker process carried.
LAZY_NUMERIC = ("scipy.stats", "pandas", "sklearn", "scipy.sparse")

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


def _printed(script: str, lines: int, tmp_path: Path) -> list:
    """The last ``lines`` JSON lines ``script`` prints in a fresh process with local settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.strip().splitlines()[-lines:]]


def test_a_process_starts_without_the_drawing_and_spreadsheet_libraries(tmp_path) -> None:
    at_start, after_drawing = _printed(STARTUP % (LAZY, LAZY), 2, tmp_path)
    assert at_start == []
    assert "matplotlib" in after_drawing  # and the figure was drawn when asked for


ANALYSIS = """
import json, sys
import django
django.setup()
from config.celery import app
app.loader.import_default_modules()
import config.urls
print(json.dumps(sorted(m for m in %(lazy)r if m in sys.modules)))
from analysis import report, stats
from screening import prioritisation
effects = [(0.2, 0.04), (0.5, 0.09), (0.1, 0.05), (0.35, 0.02)]
fit = report.fit_effects(
    [report.StudyEffect(study_id=i, label=f"S{i}", yi=y, vi=v) for i, (y, v) in enumerate(effects)],
    report.Settings(method="DL", hartung_knapp=False),
)
direct = stats.rma([y for y, _ in effects], [v for _, v in effects], method="DL")
ranker = prioritisation.Ranker(prioritisation.DEFAULT_MODEL, seed=1)
print(json.dumps(sorted(m for m in %(lazy)r if m in sys.modules)))
print(json.dumps([fit.estimate, direct.estimate, type(ranker).__name__]))
"""


def test_a_process_starts_without_the_statistics_and_ranking_libraries(tmp_path) -> None:
    at_start, after_use, (fitted, direct, ranker) = _printed(
        ANALYSIS % {"lazy": LAZY_NUMERIC}, 3, tmp_path
    )
    assert at_start == []
    # An analysis and a ranker load them when they run, and the analysis pools as before.
    assert {"scipy.stats", "sklearn"} <= set(after_use)
    assert fitted == direct and 0.1 < fitted < 0.5
    assert ranker == "Ranker"
