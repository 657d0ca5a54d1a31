"""Reviewflow statistics engine: effect sizes and meta-analysis equal to R's metafor 3.8.

Pure numpy/scipy (no Django). See ``python -m analysis.stats --help`` for the command line.

The names below are loaded from their submodules when first used (PEP 562), so that
``from analysis.stats import StatsInputError`` or ``METHODS`` (numpy only) does not load
scipy.stats (~57 MB) into every web and worker process that never runs an analysis.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bias import EggerResult, TrimFillResult, egger_test, trimfill
    from .binary import BINARY_MEASURES, MH_METHODS, pool_binary, rma_mh, rma_peto
    from .effect_sizes import (
        EffectSizes,
        ci_from_se,
        combine_groups,
        double_zero,
        escalc_binary,
        escalc_md,
        escalc_or,
        escalc_peto,
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
        tables_from_totals,
    )
    from .errors import ConvergenceError, EffectSizeError, StatsInputError
    from .moderators import Moderator, design_matrix
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
    from .regression import ModelResult, metareg, multilevel
    from .robust import ROBUST_TYPES, RobustResult
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

#: exported name -> the submodule that defines it
_SOURCES = {
    "EggerResult": "bias",
    "TrimFillResult": "bias",
    "egger_test": "bias",
    "trimfill": "bias",
    "BINARY_MEASURES": "binary",
    "MH_METHODS": "binary",
    "pool_binary": "binary",
    "rma_mh": "binary",
    "rma_peto": "binary",
    "EffectSizes": "effect_sizes",
    "ci_from_se": "effect_sizes",
    "combine_groups": "effect_sizes",
    "double_zero": "effect_sizes",
    "escalc_binary": "effect_sizes",
    "escalc_md": "effect_sizes",
    "escalc_or": "effect_sizes",
    "escalc_peto": "effect_sizes",
    "escalc_rd": "effect_sizes",
    "escalc_rr": "effect_sizes",
    "escalc_smd": "effect_sizes",
    "hedges_correction": "effect_sizes",
    "hedges_g": "effect_sizes",
    "logor_to_smd": "effect_sizes",
    "sd_from_ci": "effect_sizes",
    "sd_from_se": "effect_sizes",
    "se_from_ci": "effect_sizes",
    "smd_from_p": "effect_sizes",
    "smd_from_t": "effect_sizes",
    "tables_from_totals": "effect_sizes",
    "ConvergenceError": "errors",
    "EffectSizeError": "errors",
    "StatsInputError": "errors",
    "Moderator": "moderators",
    "design_matrix": "moderators",
    "MetaResult": "pooling",
    "ModsResult": "pooling",
    "Prediction": "pooling",
    "i2_ci_qprofile": "pooling",
    "i2_ci_test_based": "pooling",
    "predict": "pooling",
    "rma": "pooling",
    "rma_mods": "pooling",
    "tau2_ci_qprofile": "pooling",
    "ModelResult": "regression",
    "metareg": "regression",
    "multilevel": "regression",
    "ROBUST_TYPES": "robust",
    "RobustResult": "robust",
    "LeaveOneOutResult": "sensitivity",
    "LeaveOneOutRow": "sensitivity",
    "OutlierResult": "sensitivity",
    "find_outliers": "sensitivity",
    "leave1out": "sensitivity",
    "rma_subset": "sensitivity",
    "SubgroupEstimate": "subgroups",
    "SubgroupResult": "subgroups",
    "subgroup_analysis": "subgroups",
    "METHODS": "tau2",
    "estimate_tau2": "tau2",
}

__all__ = [
    "BINARY_MEASURES",
    "MH_METHODS",
    "double_zero",
    "escalc_binary",
    "escalc_peto",
    "pool_binary",
    "rma_mh",
    "rma_peto",
    "tables_from_totals",
    "METHODS",
    "ConvergenceError",
    "EffectSizeError",
    "EffectSizes",
    "EggerResult",
    "LeaveOneOutResult",
    "LeaveOneOutRow",
    "MetaResult",
    "ModelResult",
    "Moderator",
    "ROBUST_TYPES",
    "RobustResult",
    "design_matrix",
    "metareg",
    "multilevel",
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


def __getattr__(name: str) -> Any:
    module = _SOURCES.get(name)
    if module is None:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f".{name}", __name__)  # a submodule, e.g. ``binary``
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = importlib.import_module(f".{module}", __name__)
    # Bind every name of that submodule: later lookups skip this function.
    globals().update({n: getattr(loaded, n) for n, m in _SOURCES.items() if m == module})
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Importing the submodule ``multilevel`` binds it on the package, where the name is
        # the function ``regression.multilevel``: the function must win, as it did when
        # this package imported everything eagerly.
        if name in _SOURCES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
