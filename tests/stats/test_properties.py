"""Property-based checks (hypothesis) of the pooling engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from analysis.stats import ConvergenceError, rma


def fit(yi, vi, method, test):
    """rma, rejecting the rare examples where Fisher scoring diverges (metafor 3.8 stops
    with the same error on them, e.g. yi = 0,0,0,0,0,1 with vi = 1,1,1,1,1,0.125)."""
    try:
        return rma(yi, vi, method, test)
    except ConvergenceError:
        assume(False)
        raise


METHODS = ("DL", "REML", "ML", "PM", "SJ", "HE", "FE")

effects = st.floats(min_value=-3, max_value=3, allow_nan=False)
variances = st.floats(min_value=1e-3, max_value=2.0, allow_nan=False)


@st.composite
def datasets(draw, min_k=2, max_k=25):
    k = draw(st.integers(min_value=min_k, max_value=max_k))
    yi = draw(st.lists(effects, min_size=k, max_size=k))
    vi = draw(st.lists(variances, min_size=k, max_size=k))
    return np.array(yi), np.array(vi)


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(
    data=datasets(),
    method=st.sampled_from(METHODS),
    test=st.sampled_from(("z", "knha")),
    seed=st.integers(0, 2**32 - 1),
)
def test_order_invariance(data, method, test, seed):
    yi, vi = data
    perm = np.random.default_rng(seed).permutation(len(yi))
    a = fit(yi, vi, method, test)
    b = fit(yi[perm], vi[perm], method, test)
    for field in ("estimate", "se", "tau2", "Q", "I2", "ci_low", "ci_high"):
        assert getattr(b, field) == pytest.approx(
            getattr(a, field), rel=1e-6, abs=1e-8, nan_ok=True
        )
    assert sorted(b.weights) == pytest.approx(sorted(a.weights), rel=1e-6, abs=1e-8)


@st.composite
def homogeneous(draw):
    """Effects within ±0.3 SE of a common value: Q < df, so τ̂² is usually 0."""
    _, vi = draw(datasets())
    mu = draw(effects)
    u = np.array(draw(st.lists(st.floats(-0.3, 0.3), min_size=len(vi), max_size=len(vi))))
    return mu + u * np.sqrt(vi), vi


@common
@given(
    data=homogeneous(), method=st.sampled_from(METHODS[:-1]), test=st.sampled_from(("z", "knha"))
)
def test_random_effects_equals_common_effect_when_tau2_is_zero(data, method, test):
    yi, vi = data
    re = fit(yi, vi, method, test)
    assume(re.tau2 == 0.0)
    fe = fit(yi, vi, "FE", test)
    for field in ("estimate", "se", "ci_low", "ci_high", "p"):
        assert getattr(re, field) == pytest.approx(
            getattr(fe, field), rel=1e-12, abs=1e-14, nan_ok=True
        )


@common
@given(data=datasets(), method=st.sampled_from(METHODS), test=st.sampled_from(("z", "knha")))
def test_ci_contains_estimate_and_pi_contains_ci(data, method, test):
    yi, vi = data
    res = fit(yi, vi, method, test)
    assert res.ci_low <= res.estimate <= res.ci_high
    if method != "FE":
        assert res.pi_low <= res.ci_low and res.ci_high <= res.pi_high
    assert 0 <= res.I2 <= 100 and 0 <= res.I2_q <= 100
    if res.I2_qprofile_ci_low is not None and res.I2_qprofile_ci_high is not None:
        assert res.I2_qprofile_ci_low <= res.I2_qprofile_ci_high


@common
@given(data=datasets(min_k=3))
def test_test_based_i2_ci_brackets_i2_q(data):
    yi, vi = data
    res = rma(yi, vi, "DL")
    assert res.I2_test_ci_low <= res.I2_q + 1e-9
    assert res.I2_q <= res.I2_test_ci_high + 1e-9
