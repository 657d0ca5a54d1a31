"""Command-line contract: JSON on stdout, exit 1 and a one-line stderr message on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import CASES_DIR

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_module_entry_point_runs_without_django_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.stats",
            "pool",
            str(CASES_DIR / "bcg.csv"),
            "--method",
            "DL",
            "--test",
            "knha",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["method"] == "DL" and out["test"] == "knha" and out["k"] == 13
    assert "django" not in proc.stderr.lower()


def test_module_entry_point_reports_bad_input_on_one_line(tmp_path):
    bad = _write(tmp_path, "yi,vi\n0.1,0.1\n0.2,-0.1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.stats", "pool", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "vi of study 2" in proc.stderr


def test_json_uses_null_for_non_finite_numbers(run_cli):
    code, out, _ = run_cli("pool", CASES_DIR / "identical.csv", "--test", "knha")
    assert code == 0
    assert "NaN" not in out and "Infinity" not in out
    got = json.loads(out)
    assert got["se"] == 0.0 and got["stat"] is None  # metafor: 0/0 -> NaN -> null


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("a,b\n1,2\n", ("pool",), "columns yi,vi or m1i"),
        ("yi,vi\n0.1,0.1\n", ("pool",), "at least 2"),
        ("yi,vi\n0.1,0.1\nabc,0.2\n", ("pool",), "row 2, column 'yi'"),
        ("yi,vi\n0.1,0.1\n0.3,\n", ("pool",), "row 2, column 'vi'"),
        (
            "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,1,1,10,0,1,10\nB,1,0,10,0,1,10\n",
            ("pool",),
            "study B, field 'sd1'",
        ),
        (
            "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,1,1,1,0,1,10\nB,1,1,10,0,1,10\n",
            ("escalc",),
            "study A, field 'n1'",
        ),
        ("yi,vi\n0.1,0.1\n0.2,0.1\n0.3,0.2\n", ("subgroup",), "'group' column"),
        ("yi,vi\n0.1,0.1\n0.2,0.1\n", ("egger",), "at least 3"),
        ("yi,vi\n0.1,0.1\n0.2,0.1\n", ("leave1out",), "at least 3"),
        ("", ("pool",), "cannot read"),
    ],
)
def test_bad_input_exits_1_with_one_line_message(run_cli, tmp_path, text, args, message):
    path = _write(tmp_path, text)
    code, out, err = run_cli(*args, path)
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err


def test_missing_file_exits_1(run_cli, tmp_path):
    code, _, err = run_cli("pool", tmp_path / "nope.csv")
    assert code == 1 and "not found" in err


def test_unknown_method_is_a_usage_error(run_cli):
    with pytest.raises(SystemExit) as info:
        run_cli("pool", CASES_DIR / "bcg.csv", "--method", "XYZ")
    assert info.value.code == 2


def test_level_option_changes_interval_width(run_cli):
    _, out95, _ = run_cli("pool", CASES_DIR / "bcg.csv")
    _, out90, _ = run_cli("pool", CASES_DIR / "bcg.csv", "--level", "90")
    a, b = json.loads(out95), json.loads(out90)
    assert a["estimate"] == b["estimate"]
    assert b["ci_high"] - b["ci_low"] < a["ci_high"] - a["ci_low"]


def test_study_labels_flow_into_leave1out_and_outliers(run_cli):
    _, out, _ = run_cli("leave1out", CASES_DIR / "bcg.csv")
    rows = json.loads(out)["rows"]
    assert rows[0]["study"] == "Aronson 1948"
    assert set(rows[0]) == {"study", "estimate", "ci_low", "ci_high", "tau2", "I2", "Q"}
    _, out, _ = run_cli("outliers", CASES_DIR / "bcg.csv")
    got = json.loads(out)
    assert all(isinstance(s, str) for s in got["outliers"]) and got["model"]["k"] == 13 - len(
        got["outliers"]
    )
