"""Screening prioritisation core: relevance ranking, simulation and stopping aids.

No Django here: :mod:`screening.ranking` wires it to the models and the queue.
"""

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
