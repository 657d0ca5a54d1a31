"""axe-core (the npm package, installed by `make test` with `npm ci`) in Playwright pages.

The script is added as an init script: Playwright injects those through the DevTools
protocol, outside the page's Content-Security-Policy, which would refuse an inline copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: `make test` installs it (npm ci)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page) -> list[str]:
    """axe's WCAG 2.1 A/AA violations on the page as it is now, one line per node."""
    results = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
            }));
        }""",
        WCAG_TAGS,
    )
    path = page.url.split("//", 1)[-1].partition("/")[2]
    return [
        f"/{path} [{v['id']}, {v['impact']}] {v['help']}: {node['target']} — "
        f"{' '.join(node['summary'].split())}"
        for v in results
        for node in v["nodes"]
    ]
