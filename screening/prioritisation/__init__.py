"""Screening prioritisation core: relevance ranking, simulation and stopping aids.

No Django here: :mod:`screening.ranking` wires it to the models and the queue.

The names below are loaded from their submodules when first used (PEP 562): the ranker
needs scikit-learn, which brings scipy.stats and pandas (~100 MB with it), and web
processes and workers import :mod:`screening.ranking` at start-up but fit a ranking only
in a refit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import schedule, stopping
    from .errors import PrioritisationError
    from .ranker import (
        DEFAULT_MODEL,
        MODEL_NAMES,
        TITLE_REPEATS,
        USE_KEYWORDS,
        Corpus,
        RankedRecord,
        Ranker,
        Ranking,
        VectoriserSettings,
        rank_records,
        record_text,
    )
    from .schedule import refit_interval

#: exported name -> the submodule that defines it (``None``: the name is that submodule)
_SOURCES: dict[str, str | None] = {
    "schedule": None,
    "stopping": None,
    "PrioritisationError": "errors",
    "DEFAULT_MODEL": "ranker",
    "MODEL_NAMES": "ranker",
    "TITLE_REPEATS": "ranker",
    "USE_KEYWORDS": "ranker",
    "Corpus": "ranker",
    "RankedRecord": "ranker",
    "Ranker": "ranker",
    "Ranking": "ranker",
    "VectoriserSettings": "ranker",
    "rank_records": "ranker",
    "record_text": "ranker",
    "refit_interval": "schedule",
}

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_NAMES",
    "Corpus",
    "PrioritisationError",
    "TITLE_REPEATS",
    "USE_KEYWORDS",
    "RankedRecord",
    "Ranker",
    "Ranking",
    "VectoriserSettings",
    "rank_records",
    "record_text",
    "refit_interval",
    "schedule",
    "stopping",
]


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _SOURCES[name]
    if module is None:
        return importlib.import_module(f".{name}", __name__)  # binds itself on the package
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
