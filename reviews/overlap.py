"""What an update import would add: new records, records seen before, records decided before.

The import preview (``services.import_preview``) compares the export with every record
the review ever held, with the same de-duplication that confirming runs, and reports how
many records are new, already in the review (undecided), already decided, possibly
duplicates (a pair a lead must look at) or duplicates of another record of the export.

Screening decides records, and the reviews app cannot import it (dependencies run
reviews <- screening), so screening registers which records carry a final decision:

    from reviews.overlap import register_decided_provider
    register_decided_provider(my_function)  # in ScreeningConfig.ready()

``my_function(review, record_ids)`` returns the subset of ``record_ids`` that is decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from . import dedup

DecidedProvider = Callable[[Any, set[int]], set[int]]
_providers: list[DecidedProvider] = []


def register_decided_provider(provider: DecidedProvider) -> None:
    """Register a function giving the decided ones among some record ids of a review."""
    if all(existing is not provider for existing in _providers):
        _providers.append(provider)


def decided_ids(review: Any, record_ids: set[int]) -> set[int]:
    """The record ids some registered provider calls decided (none without a provider)."""
    decided: set[int] = set()
    for provider in _providers:
        decided |= provider(review, record_ids)
    return decided & record_ids


@dataclass(frozen=True)
class Overlap:
    """How an export's records relate to a review's records (each record counted once)."""

    new: int  # genuinely new: they enter the current round's queue
    seen: int  # duplicates of a record the review holds that is not decided yet
    decided: int  # duplicates of a decided record: linked to it, never queued again
    possible: int  # similar to a record of the review: a lead decides (queued until then)
    within_file: int  # duplicates of another record of the same export

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def overlap_classify(
    old_keys: Sequence[dedup.DedupKey],
    new_values: Sequence[tuple],
    *,
    decided: Callable[[set[int]], set[int]],
) -> Overlap:
    """Classify an export's records (``new_values``: DedupKey fields without the id).

    The new records get ids above every old one, as the import gives them, so that the
    groups' kept records are the ones the import would keep.
    """
    first = max((k.id for k in old_keys), default=0) + 1
    new_keys = [dedup.DedupKey(first + i, *values) for i, values in enumerate(new_values)]
    new_ids = {k.id for k in new_keys}
    pairs = dedup.find_duplicates([*old_keys, *new_keys], new_ids=new_ids)
    kept_of: dict[int, int] = {}
    possible: set[int] = set()
    for pair in pairs:
        if pair.duplicate_id not in new_ids:
            continue
        if pair.tier == "auto":
            kept_of[pair.duplicate_id] = pair.kept_id
        elif pair.kept_id not in new_ids:
            possible.add(pair.duplicate_id)
    old_kept = {kept for kept in kept_of.values() if kept not in new_ids}
    decided_old = decided(old_kept) if old_kept else set()
    counts = {"new": 0, "seen": 0, "decided": 0, "possible": 0, "within_file": 0}
    for key in new_keys:
        kept = kept_of.get(key.id)
        if kept is None:
            counts["possible" if key.id in possible else "new"] += 1
        elif kept in new_ids:
            counts["within_file"] += 1
        else:
            counts["decided" if kept in decided_old else "seen"] += 1
    return Overlap(**counts)
