"""Reviewflow statistics engine: effect sizes and meta-analysis equal to R's metafor 3.8.

Pure numpy/scipy (no Django). See ``python -m analysis.stats --help`` for the command line.
"""

from .bias import EggerResult, TrimFillResult, egger_test, trimfill
from .effect_sizes import (
    EffectSizes,
    ci_from_se,
    combine_groups,
    escalc_md,
    escalc_or,
    escalc_rd,
    escalc_rr,
    escalc_smd,
    hedges_correction,
    hedges_g,
    logor_to_smd,
    sd_from_ci,
    sd_from_se,
    se_from_ci,
    smd_from_p,
    smd_from_t,
)
from .errors import ConvergenceError, EffectSizeError, StatsInputError
from .pooling import (
    MetaResult,
    ModsResult,
    Prediction,
    i2_ci_qprofile,
    i2_ci_test_based,
    predict,
    rma,
    rma_mods,
    tau2_ci_qprofile,
)
from .sensitivity import (
    LeaveOneOutResult,
    LeaveOneOutRow,
    OutlierResult,
    find_outliers,
    leave1out,
    rma_subset,
)
from .subgroups import SubgroupEstimate, SubgroupResult, subgroup_analysis
from .tau2 import METHODS, estimate_tau2

__all__ = [
    "METHODS",
    "ConvergenceError",
    "EffectSizeError",
    "EffectSizes",
    "EggerResult",
    "LeaveOneOutResult",
    "LeaveOneOutRow",
    "MetaResult",
    "ModsResult",
    "OutlierResult",
    "Prediction",
    "StatsInputError",
    "SubgroupEstimate",
    "SubgroupResult",
    "TrimFillResult",
    "ci_from_se",
    "combine_groups",
    "egger_test",
    "escalc_md",
    "escalc_or",
    "escalc_rd",
    "escalc_rr",
    "escalc_smd",
    "estimate_tau2",
    "find_outliers",
    "hedges_correction",
    "hedges_g",
    "i2_ci_qprofile",
    "i2_ci_test_based",
    "leave1out",
    "logor_to_smd",
    "predict",
    "rma",
    "rma_mods",
    "rma_subset",
    "sd_from_ci",
    "sd_from_se",
    "se_from_ci",
    "smd_from_p",
    "smd_from_t",
    "subgroup_analysis",
    "tau2_ci_qprofile",
    "trimfill",
]
