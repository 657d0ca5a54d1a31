"""Dichotomous outcomes against R's metafor 3.8 (fixtures: reference/make_reference.R).

Every case in ``reference/binary`` (random 2×2 sets with k from 2 to 25, real data sets,
single- and double-zero tables, arms without any events) is pooled for every measure
(OR, RR, RD) × method (MH, Peto for OR, and the inverse-variance FE/DL/REML/ML/PM/SJ/HE with
z and Knapp-Hartung tests) through the command line and compared with
``rma.mh``/``rma.peto``/``rma(measure=...)`` at rtol 1e-6 / atol 1e-8; weights and per-study
``yi``/``vi`` through the Python API. Where metafor's estimate is NA or it stops with an
error, the engine must refuse (exit status 1, one-line message).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from analysis.stats.binary import pool_binary
from analysis.stats.effect_sizes import tables_from_totals

from .helpers import assert_close

BINARY_DIR = Path(__file__).resolve().parent / "reference" / "binary"
CLI_FIELDS = (
    "k",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "stat",
    "p",
    "tau2",
    "I2",
    "H2",
    "Q",
    "Q_df",
    "Q_p",
    "pi_low",
    "pi_high",
)

pytestmark = pytest.mark.metafor


def _cases() -> list[str]:
    return sorted(p.stem for p in BINARY_DIR.glob("*.json"))


@cache
def _load(case: str) -> dict:
    return json.loads((BINARY_DIR / f"{case}.json").read_text())


COMBOS = [(c, key) for c in _cases() for key in _load(c)["fits"]]
IDS = [f"{c}-{key}" for c, key in COMBOS]


def test_fixtures_cover_the_issue():
    ks = {_load(c)["k"] for c in _cases()}
    assert min(ks) == 2 and max(ks) >= 25
    for case in _cases():
        assert _load(case)["versions"]["metafor"].startswith("3.8")
        assert set(_load(case)["fits"]) >= {"OR_MH_z", "RR_MH_z", "RD_MH_z", "OR_PETO_z"}
    # MH with no events in one arm: metafor's OR/RR estimates are NA, RD and Peto exist
    fits = _load("control_arm_zero")["fits"]
    assert "error" in fits["OR_MH_z"] and "error" in fits["RR_MH_z"]
    assert "error" not in fits["RD_MH_z"] and "error" not in fits["OR_PETO_z"]
    # double-zero tables are left out of MH's Q (k_yi < k) but not of inverse variance
    fits = _load("zero_cells")["fits"]
    assert fits["OR_MH_z"]["k_yi"] < fits["OR_MH_z"]["k"] == fits["OR_REML_z"]["k_yi"]


@pytest.mark.parametrize(("case", "key"), COMBOS, ids=IDS)
def test_pool_matches_metafor(run_cli, case, key):
    measure, method, test = key.split("_")
    ref = _load(case)["fits"][key]
    code, out, err = run_cli(
        "pool",
        BINARY_DIR / f"{case}.csv",
        "--measure",
        measure,
        "--method",
        method,
        "--test",
        test,
    )
    if "error" in ref:
        assert code == 1, f"metafor gives no estimate here but the engine answered {out[:200]}"
        assert err.startswith("error: ") and err.count("\n") == 1
        return
    assert code == 0, err
    got = json.loads(out)
    for field in CLI_FIELDS:
        assert_close(got[field], ref[field], f"{case} {key} {field}")


@pytest.mark.parametrize(("case", "key"), COMBOS, ids=IDS)
def test_weights_and_study_effects_match_metafor(case, key):
    measure, method, test = key.split("_")
    ref = _load(case)["fits"][key]
    if "error" in ref:
        pytest.skip("metafor gives no estimate")
    data = pd.read_csv(BINARY_DIR / f"{case}.csv")
    cells = tables_from_totals(data.ai, data.n1i, data.ci, data.n2i)
    res = pool_binary(measure, *cells, method=method, test=test, study=data.study)
    assert_close(list(res.weights), ref["weights"], f"{case} {key} weights")
    # double-zero tables: NaN in the engine, NA in metafor
    assert_close([None if y != y else y for y in res.yi], ref["yi"], f"{case} {key} yi")
    assert_close([None if v != v else v for v in res.vi], ref["vi"], f"{case} {key} vi")
    assert res.k == ref["k"] and res.Q_df == ref["Q_df"]


@pytest.mark.parametrize("measure", ["OR", "RR", "RD", "MD"])
def test_escalc_measure_matches_metafor(run_cli, tmp_path, measure):
    ref = json.loads((BINARY_DIR.parent / "cases" / "escalc.json").read_text())[measure.lower()]
    cols = (
        ["ai", "bi", "ci", "di"]
        if measure != "MD"
        else ["m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"]
    )
    path = tmp_path / "in.csv"
    pd.DataFrame({c: ref[c] for c in cols}).to_csv(path, index=False)
    code, out, err = run_cli("escalc", path, "--measure", measure)
    assert code == 0, err
    rows = [line.split(",") for line in out.strip().splitlines()]
    assert rows[0][-2:] == ["yi", "vi"]
    assert_close([float(r[-2]) for r in rows[1:]], ref["yi"], f"escalc {measure} yi")
    assert_close([float(r[-1]) for r in rows[1:]], ref["vi"], f"escalc {measure} vi")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--measure", "RR", "--method", "PETO"], "odds ratios only"),
        (["--measure", "OR", "--method", "MH", "--test", "knha"], "no Knapp-Hartung"),
        (["--measure", "SMD", "--method", "MH"], "dichotomous measures only"),
    ],
)
def test_impossible_combinations_are_refused(run_cli, args, message):
    code, out, err = run_cli("pool", BINARY_DIR / "linde2005.csv", *args)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err


def test_bad_tables_are_refused_with_the_study_named(run_cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("study,ai,n1i,ci,n2i\nA,3,20,4,20\nB,25,20,1,20\n")
    code, _, err = run_cli("pool", path, "--measure", "RR", "--method", "MH")
    assert code == 1 and "study B" in err and "more events than patients" in err
    path.write_text("study,yi,vi\nA,0.1,0.02\nB,0.3,0.05\n")
    code, _, err = run_cli("pool", path, "--measure", "OR", "--method", "MH")
    assert code == 1 and "needs the 2x2 tables" in err


def test_smd_stays_the_default(run_cli):
    case = BINARY_DIR.parent / "cases" / "normand1999_raw.csv"
    assert run_cli("pool", case)[1] == run_cli("pool", case, "--measure", "SMD")[1]
