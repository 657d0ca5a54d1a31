"""Meta-regression, three-level models and cluster-robust inference against metafor 3.8
and clubSandwich (fixtures from reference/make_models.R).

Every combination of moderator set x method x test x robust variant in the fixtures is run
through the command line (``multilevel`` / ``metareg``) and each key compared at rtol 1e-6 /
atol 1e-8; profile-likelihood CIs, coefficient names and omnibus-test df through the API.
Where R stops with an error, the engine must refuse too (exit 1, one line on stderr).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from analysis.stats import StatsInputError
from analysis.stats.moderators import design_matrix
from analysis.stats.regression import FIELDS, metareg, multilevel

from .helpers import as_list, assert_close

MODELS_DIR = Path(__file__).resolve().parent / "reference" / "models"

pytestmark = pytest.mark.metafor


def _cases() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.json"))


@cache
def _load(case: str) -> dict:
    return json.loads((MODELS_DIR / f"{case}.json").read_text())


@cache
def _data(case: str) -> pd.DataFrame:
    return pd.read_csv(MODELS_DIR / f"{case}.csv", dtype={"study": str})


def _combos(model: str) -> list[tuple[str, str]]:
    return [(c, key) for c in _cases() for key in _load(c)[model]]


def _split(case: str, key: str, model: str) -> tuple[list[str], str, str, str | None]:
    mset, method, test, robust = key.split("_")
    sets = _load(case)["mod_sets" if model == "multilevel" else "metareg_sets"]
    return as_list(sets[mset]), method, test, None if robust == "none" else robust


def _close(got, want, tol: float, where: str, atol: float = 1e-8) -> None:
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got!r} != R {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, tol, f"{where}[{i}]", atol)
        return
    if want is None:
        assert got is None, f"{where}: {got!r} != NA"
        return
    assert got is not None, f"{where}: got None, R gives {want!r}"
    assert math.isclose(got, want, rel_tol=tol, abs_tol=atol), f"{where}: {got!r} != R {want!r}"


def _compare_at(got: dict, ref: dict, where: str, tol: float) -> None:
    b, se = as_list(ref["b"]), as_list(ref["se"])
    for field in FIELDS:
        g, r = got[field], ref[field]
        if field in ("ci_low", "ci_high") and r is not None:
            for i, (gi, ri) in enumerate(zip(as_list(g), as_list(r), strict=True)):
                scale = abs(b[i]) + 4 * se[i]
                assert abs(gi - ri) <= tol * scale, f"{where} {field}[{i}]: {gi!r} != R {ri!r}"
        elif field == "stat" and r is not None:
            for i, (gi, ri) in enumerate(zip(as_list(g), as_list(r), strict=True)):
                assert abs(gi - ri) <= tol * (1 + abs(ri)), f"{where} stat[{i}]: {gi!r} != R {ri!r}"
        elif field == "p" and r is not None:
            stat = as_list(ref["stat"])
            for i, (gi, ri) in enumerate(zip(as_list(g), as_list(r), strict=True)):
                t = tol * (1 + stat[i] ** 2)
                assert math.isclose(gi, ri, rel_tol=t, abs_tol=1e-12), (
                    f"{where} p[{i}]: {gi!r} != R {ri!r}"
                )
        elif field in ("I2", "R2"):
            # percentages: 1e-6 % is the 1e-8 of a proportion (a σ² at 0 here is ~1e-10 in R)
            _close(g, r, tol, f"{where} {field}", atol=1e-6)
        else:
            _close(g, r, tol, f"{where} {field}")


def _compare(got: dict, ref: dict, where: str, multilevel: bool = False) -> None:
    """Every key at rtol 1e-6; CI bounds and statistics at 1e-6 of their terms' size.

    A CI bound b ± crit·SE near zero (or a statistic b/SE near zero) loses digits to
    cancellation, so it is compared at 1e-6 of |b| + crit·SE; a p-value moves by a factor
    z² more than its statistic (d ln p/dz ≈ z), so it is compared at rtol 1e-6·(1 + z²).

    metafor fits ``rma.mv`` with nlminb on log σ², which can stop ~1e-6 (relative) short of
    the likelihood maximum the engine finds exactly. Only when metafor's log-likelihood is
    *lower* than the engine's (its optimiser stopped short) is a three-level fit compared
    at 1e-5 instead.
    """
    try:
        _compare_at(got, ref, where, 1e-6)
    except AssertionError:
        if not (multilevel and got["logLik"] > ref["logLik"]):
            raise
        _compare_at(got, ref, where + " (metafor's optimiser stopped short)", 1e-5)


def _degenerate(case: str, key: str, model: str, ref: dict) -> bool:
    """R's robust SE is rounding noise (or NaN): the coefficient rests on one study."""
    if "error" in ref or key.endswith("_none"):
        return False
    plain = _load(case)[model][key.rsplit("_", 1)[0] + "_none"]
    return any(
        s is None or s < 1e-5 * s0
        for s, s0 in zip(as_list(ref["se"]), as_list(plain["se"]), strict=True)
    )


# Fits R answers but the engine refuses on purpose: σ²₃ is not identified (two studies, a
# study-level moderator: the likelihood is flat in σ²₃, R reports where nlminb stopped).
NOT_IDENTIFIED = {("two_studies", "m1", "REML")}


def _expect_refusal(case: str, key: str, ref: dict, model: str) -> bool:
    """Whether the engine must refuse: R refused, R's robust SE is noise, R silently dropped
    a collinear moderator column, or σ²₃ is not identified."""
    if "error" in ref or _degenerate(case, key, model, ref):
        return True
    mods = _split(case, key, model)[0]
    d = _data(case)
    try:
        design_matrix({m: d[m].tolist() for m in mods}, len(d))
    except StatsInputError as exc:
        return "collinear" in str(exc)
    return model == "multilevel" and (case, *key.split("_")[:2]) in NOT_IDENTIFIED


def _optimiser_failed(ref: dict) -> bool:
    """metafor's nlminb failed to converge: not a refusal of the model, nothing to compare."""
    return "did not achieve convergence" in ref.get("error", "")


def _refused(result, where: str) -> None:
    code, out, err = result
    assert code == 1, f"{where}: R refuses this model but the engine answered {out[:200]}"
    assert err.startswith("error: ") and err.count("\n") == 1


def test_model_fixtures_come_from_metafor_38_and_clubsandwich():
    for case in _cases():
        versions = _load(case)["versions"]
        assert versions["metafor"].startswith("3.8")
        assert versions["clubSandwich"]


ML = _combos("multilevel")


@pytest.mark.parametrize(("case", "key"), ML, ids=[f"{c}-{k}" for c, k in ML])
def test_multilevel_cli_matches_metafor(run_cli, case, key):
    ref = _load(case)["multilevel"][key]
    mods, method, test, robust = _split(case, key, "multilevel")
    argv = ["multilevel", MODELS_DIR / f"{case}.csv", "--method", method, "--test", test]
    if robust:
        argv += ["--robust", robust]
    if mods:
        argv += ["--mods", *mods]
    result = run_cli(*argv)
    if _optimiser_failed(ref):
        pytest.skip("metafor's optimiser did not converge")
    if _expect_refusal(case, key, ref, "multilevel"):
        _refused(result, f"{case} {key}")
        return
    code, out, err = result
    assert code == 0, err
    got = json.loads(out)
    assert tuple(got) == FIELDS
    _compare(got, ref, f"{case} {key}", multilevel=True)


@pytest.mark.parametrize(("case", "key"), ML, ids=[f"{c}-{k}" for c, k in ML])
def test_multilevel_names_and_qm_df_match_metafor(case, key):
    model = "multilevel"
    ref = _load(case)["multilevel"][key]
    if _expect_refusal(case, key, ref, model):
        pytest.skip("the engine refuses this model")
    mods, method, test, robust = _split(case, key, "multilevel")
    d = _data(case)
    res = multilevel(
        d.yi,
        d.vi,
        d.study,
        es=d.es,
        mods={m: d[m].tolist() for m in mods},
        method=method,
        test=test,
        robust=robust,
        profile=False,
    )
    assert list(res.names) == as_list(ref["names"])
    assert_close(list(res.QM_df), as_list(ref["QM_df"]), f"{case} {key} QM_df")


CI = [(c, key) for c in _cases() for key in _load(c)["confint"]]


@pytest.mark.parametrize(("case", "key"), CI, ids=[f"{c}-{k}" for c, k in CI])
def test_profile_likelihood_cis_match_confint(case, key):
    ref = _load(case)["confint"][key]  # {"1": [lb, ub], "2": [lb, ub]} by sigma2 position
    if "error" in ref:
        pytest.skip("confint fails in R")
    mset, method = key.split("_")
    mods = as_list(_load(case)["mod_sets"][mset])
    d = _data(case)
    try:
        design_matrix({m: d[m].tolist() for m in mods}, len(d))
    except StatsInputError as exc:
        assert "collinear" in str(exc)  # R dropped a column; the engine refuses
        return
    if (case, mset, method) in NOT_IDENTIFIED:
        with pytest.raises(StatsInputError, match="not identified"):
            multilevel(d.yi, d.vi, d.study, es=d.es, mods={m: d[m].tolist() for m in mods})
        return
    res = multilevel(
        d.yi, d.vi, d.study, es=d.es, mods={m: d[m].tolist() for m in mods}, method=method
    )
    assert res.sigma2_ci is not None
    compared = 0
    for level, (got, want) in enumerate(zip(res.sigma2_ci, (ref["1"], ref["2"]), strict=True)):
        for bound, g, w in zip(("lower", "upper"), got, want, strict=True):
            # metafor leaves a bound NA when its profile refits fail (a component at ~1e-10
            # on the log scale); the engine gives the bound, which is not compared then
            if w is not None:
                assert_close(g, w, f"{case} {key} sigma2[{level}] CI {bound}")
                compared += 1
    assert compared >= 2


MR = _combos("metareg")


@pytest.mark.parametrize(("case", "key"), MR, ids=[f"{c}-{k}" for c, k in MR])
def test_metareg_cli_matches_metafor(run_cli, case, key):
    ref = _load(case)["metareg"][key]
    mods, method, test, robust = _split(case, key, "metareg")
    argv = ["metareg", MODELS_DIR / f"{case}.csv", "--method", method, "--test", test]
    if robust:
        argv += ["--robust", robust]
    result = run_cli(*argv, "--mods", *mods)
    if _expect_refusal(case, key, ref, "metareg"):
        _refused(result, f"{case} {key}")
        return
    code, out, err = result
    assert code == 0, err
    got = json.loads(out)
    assert tuple(got) == FIELDS
    _compare(got, ref, f"{case} {key}")


@pytest.mark.parametrize(("case", "key"), MR, ids=[f"{c}-{k}" for c, k in MR])
def test_metareg_names_and_qm_df_match_metafor(case, key):
    model = "metareg"
    ref = _load(case)["metareg"][key]
    if _expect_refusal(case, key, ref, model):
        pytest.skip("the engine refuses this model")
    mods, method, test, robust = _split(case, key, "metareg")
    d = _data(case)
    res = metareg(
        d.yi,
        d.vi,
        {m: d[m].tolist() for m in mods},
        method=method,
        test=test,
        study=d.study,
        robust=robust,
    )
    assert list(res.names) == as_list(ref["names"])
    assert_close(list(res.QM_df), as_list(ref["QM_df"]), f"{case} {key} QM_df")
