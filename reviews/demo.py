"""Demo steps run by `manage.py load_demo`; apps add theirs in AppConfig.ready().

Each step takes (review, users) and must be idempotent: `make run` may run twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DemoStep = Callable[[Any, dict[str, Any]], str | None]
_steps: list[tuple[int, DemoStep]] = []


def register_demo_step(step: DemoStep, *, order: int = 100) -> None:
    if all(existing is not step for _, existing in _steps):
        _steps.append((order, step))
        _steps.sort(key=lambda item: item[0])


def demo_steps() -> list[DemoStep]:
    return [step for _, step in _steps]
