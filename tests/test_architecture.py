"""The import rules of docs/architecture.md, checked on the source.

Apps import only from apps to their left (reviews <- screening <- extraction <- analysis);
`analysis/stats` imports no Django and is the one leaf every app may use, and no app has an import loop between its modules —
counting imports inside functions, which would otherwise hide a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["reviews", "screening", "extraction", "analysis"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at any depth of the file, resolved to absolute names."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    # Imports for type checkers count too: a loop hidden behind TYPE_CHECKING is still a loop.
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from . import views` imports the module `<package>.views`
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _sources() -> dict[str, set[str]]:
    graph = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            graph[_module_name(path)] = _imports(path)
    return graph


GRAPH = _sources()


def _app(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("app", APPS)
def test_apps_import_only_to_their_left(app):
    allowed = set(APPS[: APPS.index(app) + 1])
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _app(module) == app
        for target in targets
        if _app(target) in APPS
        and _app(target) not in allowed
        and not target.startswith("analysis.stats")
    )
    assert wrong == []


def test_stats_engine_has_no_django():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.startswith("analysis.stats")
        for target in targets
        if target.split(".")[0] in {"django", *APPS} and not target.startswith("analysis.stats")
    )
    assert wrong == []


def _cycles(app: str) -> list[list[str]]:
    modules = {m for m in GRAPH if _app(m) == app}
    edges = {m: {t for t in GRAPH[m] if t in modules and t != m} for m in modules}
    # A package's __init__ re-exporting its modules is not a loop of the code that uses it.
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def strongconnect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges[node]):
            if succ not in index:
                strongconnect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(modules):
        if node not in index:
            strongconnect(node)
    return result


@pytest.mark.parametrize("app", APPS)
def test_no_import_loop_inside_an_app(app):
    assert _cycles(app) == []
