"""``manage.py simulate_screening`` on the 200-record excerpt (no database needed)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

EXCERPT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "screening" / "cohen2006_adhd_excerpt.csv"
)


def test_command_prints_per_seed_and_mean_rows() -> None:
    out = StringIO()
    call_command(
        "simulate_screening",
        str(EXCERPT),
        "--label-column",
        "label_included",
        "--seeds",
        "1",
        "2",
        "--refit-every",
        "10",
        "--model",
        "svm",
        stdout=out,
    )
    text = out.getvalue()
    assert "200 records, 20 relevant" in text
    assert "linear SVM" in text
    rows = [
        line.split() for line in text.splitlines() if line.split()[:1] in (["1"], ["2"], ["mean"])
    ]
    assert [r[0] for r in rows] == ["1", "2", "mean"]
    wss = [float(r[5]) for r in rows]
    assert all(w > 0 for w in wss)
    assert wss[2] == pytest.approx((wss[0] + wss[1]) / 2, abs=1e-3)


def test_command_names_a_missing_label_column() -> None:
    with pytest.raises(CommandError, match="label_final"):
        call_command("simulate_screening", str(EXCERPT), "--label-column", "label_final")
