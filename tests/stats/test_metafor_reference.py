"""Every command-line field against R's metafor 3.8 (fixtures from reference/make_reference.R).

For each reference case and every method x test combination, the subcommands ``pool``,
``trimfill`` (L0, R0), ``leave1out``, ``outliers``, ``subgroup`` (both modes) and ``egger``
are run through the CLI and compared with metafor at rtol 1e-6 / atol 1e-8. Where metafor
stops with an error, the engine must refuse too (exit status 1, one-line message).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.stats import rma, trimfill
from analysis.stats.pooling import POOL_FIELDS

from .helpers import CASES_DIR, as_list, assert_close, case_names, load_case

METHODS = ("DL", "REML", "ML", "PM", "SJ", "HE", "FE")
TESTS = ("z", "knha")
COMBOS = [(c, m, t) for c in case_names() for m in METHODS for t in TESTS]
IDS = [f"{c}-{m}-{t}" for c, m, t in COMBOS]

pytestmark = pytest.mark.metafor


def _csv(case: str) -> str:
    return str(CASES_DIR / f"{case}.csv")


def _expect_refusal(result, where: str) -> None:
    code, out, err = result
    assert code == 1, f"{where}: metafor fails here but the engine answered {out[:200]}"
    assert err.startswith("error: ") and err.count("\n") == 1


def test_reference_fixtures_come_from_metafor_38():
    for name in case_names():
        assert load_case(name)["versions"]["metafor"].startswith("3.8")


@pytest.mark.parametrize(("case", "method", "test"), COMBOS, ids=IDS)
def test_pool_matches_metafor(run_cli, case, method, test):
    ref = load_case(case)["pool"][f"{method}_{test}"]
    result = run_cli("pool", _csv(case), "--method", method, "--test", test)
    if "error" in ref:
        _expect_refusal(result, case)
        return
    code, out, _ = result
    assert code == 0
    got = json.loads(out)
    assert tuple(got) == POOL_FIELDS
    for field in POOL_FIELDS:
        assert_close(got[field], ref[field], f"{case} {method}/{test} {field}")


@pytest.mark.parametrize(("case", "method", "test"), COMBOS, ids=IDS)
def test_weights_and_tau2_ci_match_metafor(case, method, test):
    ref = load_case(case)["pool"][f"{method}_{test}"]
    if "error" in ref:
        pytest.skip("metafor cannot fit this model")
    data = pd.read_csv(CASES_DIR / f"{case}.csv")
    res = rma(data.yi, data.vi, method=method, test=test)
    assert_close(list(res.weights), ref["weights"], f"{case} weights")
    assert_close(res.tau2_ci_low, ref["tau2_ci_low"], f"{case} tau2_ci_low")
    assert_close(res.tau2_ci_high, ref["tau2_ci_high"], f"{case} tau2_ci_high")


@pytest.mark.parametrize("estimator", ["L0", "R0"])
@pytest.mark.parametrize(("case", "method", "test"), COMBOS, ids=IDS)
def test_trimfill_matches_metafor(run_cli, case, method, test, estimator):
    ref = (load_case(case)["trimfill"] or {}).get(f"{method}_{test}_{estimator}")
    if ref is None:
        pytest.skip("metafor could not fit the model itself")
    result = run_cli(
        "trimfill", _csv(case), "--method", method, "--test", test, "--estimator", estimator
    )
    if "error" in ref:
        _expect_refusal(result, case)
        return
    code, out, _ = result
    assert code == 0
    got = json.loads(out)
    assert set(got) == {"k0", "side", "k", "estimate", "se", "ci_low", "ci_high", "tau2"}
    for field in got:
        assert_close(got[field], ref[field], f"{case} {method}/{test}/{estimator} {field}")
    data = pd.read_csv(CASES_DIR / f"{case}.csv")
    tf = trimfill(data.yi, data.vi, estimator=estimator, method=method, test=test)
    assert_close(list(tf.filled_yi), as_list(ref["filled_yi"]), f"{case} filled yi")
    assert_close(list(tf.filled_vi), as_list(ref["filled_vi"]), f"{case} filled vi")


@pytest.mark.parametrize(("case", "method", "test"), COMBOS, ids=IDS)
def test_leave1out_matches_metafor(run_cli, case, method, test):
    ref = (load_case(case)["leave1out"] or {}).get(f"{method}_{test}")
    if ref is None:
        pytest.skip("leave-one-out needs k >= 3 and a model metafor can fit")
    code, out, _ = run_cli("leave1out", _csv(case), "--method", method, "--test", test)
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [r["study"] for r in rows] == ref["study"]
    if method == "FE":  # metafor's leave1out reports no tau2 for common-effect models
        assert all(r["tau2"] == 0 for r in rows)
        ref = ref | {"tau2": [0.0] * len(rows)}
    for field in ("estimate", "ci_low", "ci_high", "tau2", "I2", "Q"):
        assert_close(
            [r[field] for r in rows], ref[field], f"{case} {method}/{test} leave1out {field}"
        )


@pytest.mark.parametrize(("case", "method", "test"), COMBOS, ids=IDS)
def test_outliers_match_dmetar_definition(run_cli, case, method, test):
    ref = (load_case(case)["outliers"] or {}).get(f"{method}_{test}")
    if ref is None:
        pytest.skip("metafor could not fit the model")
    result = run_cli("outliers", _csv(case), "--method", method, "--test", test)
    if "error" in ref["model"]:
        _expect_refusal(result, case)
        return
    code, out, _ = result
    assert code == 0
    got = json.loads(out)
    assert got["outliers"] == as_list(ref["outliers"])
    for field in POOL_FIELDS:
        assert_close(
            got["model"][field], ref["model"][field], f"{case} {method}/{test} outliers {field}"
        )


SUBGROUP_COMBOS = [
    (c, m, t, mode)
    for c, m, t in COMBOS
    for mode in ("separate", "common")
    if f"{m}_{t}_{mode}" in (load_case(c)["subgroup"] or {})
]


@pytest.mark.parametrize(
    ("case", "method", "test", "mode"),
    SUBGROUP_COMBOS,
    ids=[f"{c}-{m}-{t}-{mode}" for c, m, t, mode in SUBGROUP_COMBOS],
)
def test_subgroup_matches_metafor(run_cli, case, method, test, mode):
    ref = load_case(case)["subgroup"][f"{method}_{test}_{mode}"]
    extra = ["--common-tau2"] if mode == "common" else []
    result = run_cli("subgroup", _csv(case), "--method", method, "--test", test, *extra)
    if "error" in ref:
        _expect_refusal(result, case)
        return
    code, out, _ = result
    assert code == 0
    got = json.loads(out)
    for field in ("Q_between", "Q_between_df", "Q_between_p", "Q_between_df2"):
        assert_close(got[field], ref[field], f"{case} {mode} {field}")
    assert [g["group"] for g in got["groups"]] == [g["group"] for g in ref["groups"]]
    for g_got, g_ref in zip(got["groups"], ref["groups"], strict=True):
        for field in g_ref:
            assert_close(g_got[field], g_ref[field], f"{case} {mode} {g_ref['group']} {field}")


@pytest.mark.parametrize("case", case_names())
def test_egger_matches_regtest(run_cli, case):
    ref = load_case(case)["egger"]
    result = run_cli("egger", _csv(case))
    if "error" in ref:
        _expect_refusal(result, case)
        return
    code, out, _ = result
    assert code == 0
    got = json.loads(out)
    assert set(got) == {"k", "stat", "df", "p", "limit_estimate"}
    for field in got:
        assert_close(got[field], ref[field], f"{case} egger {field}")
