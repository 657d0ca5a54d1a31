"""The demo review `manage.py load_demo` builds, and the steps apps add to it.

Apps register steps in AppConfig.ready(); each step takes (review, users) and must be
idempotent: `make run` may run twice. The demo has one topic, oral glucose-lowering drugs
for adults with type 2 diabetes, and every data set it uses is cited in the review's
"Data sources" (`reviews.services.review_source_add`) and in `docs/demo.md`; a step that
generates data rather than taking it from a source says so on the pages it fills
(`reviews.services.review_generated_note_set`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEMO_SLUG = "glucose-lowering"
DEMO_TITLE = "Oral glucose-lowering drugs for adults with type 2 diabetes"

DemoStep = Callable[[Any, dict[str, Any]], str | None]
_steps: list[tuple[int, DemoStep]] = []


def register_demo_step(step: DemoStep, *, order: int = 100) -> None:
    if all(existing is not step for _, existing in _steps):
        _steps.append((order, step))
        _steps.sort(key=lambda item: item[0])


def demo_steps() -> list[DemoStep]:
    return [step for _, step in _steps]


def demo_review() -> Any:
    """The demo review, or None before `manage.py load_demo` has run."""
    from .models import Review

    return Review.objects.filter(slug=DEMO_SLUG).first()
