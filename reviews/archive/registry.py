"""Which tables a review archive holds: every app registers its review-scoped tables.

`reviews` cannot import the apps to its right, so each app describes its own tables in
`AppConfig.ready()` (``register_tables``) and names the review-scoped models it leaves out
on purpose, with the reason (``register_exclusion``). `tests/reviews/test_archive.py`
fails when a model that reaches a review is in neither list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

# (row as written to the archive, the id maps) -> row; see codec.IdMaps
RowHook = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class Table:
    """One model's rows in the archive.

    ``review_path`` is the lookup from the model to its review (``"review"``,
    ``"study__review"``). ``skip`` names fields that are not archived (derived data, secrets
    regenerated on import). ``depends`` names tables whose new ids ``decode`` needs beyond
    the model's foreign keys; ``encode``/``decode`` rewrite ids kept inside JSON values.
    """

    model: type[models.Model]
    review_path: str
    skip: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    encode: RowHook | None = None
    decode: RowHook | None = None
    label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", self.model._meta.label_lower)


_tables: dict[str, Table] = {}
_exclusions: dict[str, str] = {}


def register_tables(*tables: Table) -> None:
    for table in tables:
        _tables[table.label] = table


def register_exclusion(label: str, reason: str) -> None:
    """A review-scoped model the archive leaves out on purpose (``app_label.modelname``)."""
    _exclusions[label.lower()] = reason


def archive_tables() -> dict[str, Table]:
    return dict(_tables)


def archive_exclusions() -> dict[str, str]:
    return dict(_exclusions)


def ordered_tables() -> list[Table]:
    """The registered tables, every one after the tables its foreign keys and hooks name."""
    from graphlib import CycleError, TopologicalSorter

    tables = archive_tables()
    graph: dict[str, set[str]] = {}
    for label, table in tables.items():
        needs = set(table.depends)
        for f in table.model._meta.concrete_fields:
            if f.is_relation and f.related_model is not table.model:
                needs.add(f.related_model._meta.label_lower)
        graph[label] = {need for need in needs if need in tables}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # pragma: no cover - a registration mistake
        raise RuntimeError(f"Archive tables depend on each other in a cycle: {exc}") from exc
    return [tables[label] for label in order]
