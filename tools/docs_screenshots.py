"""Take the user guide's screenshots (docs/guide/img/*.png) on the demo: `make docs-screenshots`.

    python -m tools.docs_screenshots [--out DIR] [--server URL] [--review TITLE]

Without ``--server`` it builds a fresh demo site in a temporary folder (`migrate`,
`load_demo`, `runserver`: tools/demo_site.py), logs in as the demo's users and captures
each page of SHOTS with Debian's Chromium. Pages are reached the way a user reaches them:
the review from "My reviews", then the side navigation's links by their names and the
first row of a list, never a record id, so the script keeps working when the demo's data
change. The PNGs are reduced to 256 colours to keep the guide small.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.demo_site import DEMO_PASSWORD, ROOT, demo_site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1280, "height": 800}
OUT = ROOT / "docs" / "guide" / "img"

Step = Callable[..., None]


@dataclass(frozen=True)
class Shot:
    name: str  # docs/guide/img/<name>.png
    user: str  # the demo user who looks: lead, alice (reviewer), carol (adjudicator)
    go: Step  # from the review's dashboard to the page


def nav(label: str) -> Step:
    """Follow the review's side navigation link called ``label``."""

    def go(page) -> None:
        page.locator("nav.review-nav").get_by_role("link", name=label, exact=True).click()

    return go


def then(*steps: Step) -> Step:
    def go(page) -> None:
        for step in steps:
            step(page)
            page.wait_for_load_state("load")

    return go


def click(selector: str) -> Step:
    """Click the first element matching ``selector`` (e.g. the first row of a list)."""

    def go(page) -> None:
        target = page.locator(selector).first
        if target.count() == 0:
            raise RuntimeError(f"the demo shows nothing to click for {selector!r} on {page.url}")
        target.click()

    return go


def scroll_to(selector: str) -> Step:
    """Bring a section of the page (e.g. the model section of a report) into view."""

    def go(page) -> None:
        page.locator(selector).first.scroll_into_view_if_needed()

    return go


def link(name: str, *, within: str = "main") -> Step:
    def go(page) -> None:
        page.locator(within).get_by_role("link", name=name).first.click()

    return go


def top_bar(name: str) -> Step:
    def go(page) -> None:
        page.locator("nav.navbar").get_by_role("link", name=name, exact=True).click()

    return go


def footer(name: str) -> Step:
    def go(page) -> None:
        page.locator("footer").get_by_role("link", name=name, exact=True).click()

    return go


def noop(page) -> None:
    return None


def goto(path: str) -> Step:
    """A page no link leads to (what a load balancer asks)."""

    def go(page) -> None:
        page.goto(path)

    return go


SHOTS: list[Shot] = [
    # set up
    Shot("review-list", "lead", top_bar("My reviews")),
    Shot("review-new", "lead", then(top_bar("My reviews"), link("New review"))),
    Shot("dashboard", "lead", noop),
    Shot("protocol", "lead", nav("Protocol")),
    Shot("team", "lead", nav("Team")),
    Shot("exclusion-reasons", "lead", nav("Exclusion reasons")),
    # import
    Shot("search-log", "lead", nav("Search log")),
    Shot("imports", "lead", nav("Imports")),
    Shot("import-upload", "lead", then(nav("Imports"), link("Import a file"))),
    Shot("records", "lead", nav("Records")),
    Shot("duplicates", "lead", nav("Duplicates")),
    # screen
    Shot("screen-ta", "alice", nav("Screen titles/abstracts")),
    Shot("screening-overview", "lead", nav("Overview")),
    Shot("screening-settings", "lead", nav("Screening settings")),
    # adjudicate
    Shot("conflicts", "carol", nav("Conflicts")),
    Shot("adjudicate", "carol", then(nav("Conflicts"), click("main a.btn:text-is('Resolve')"))),
    Shot("agreement", "lead", nav("Agreement")),
    # full text
    Shot("fulltexts", "alice", nav("Full texts")),
    # PRISMA
    Shot("prisma", "lead", nav("PRISMA diagram")),
    # extract
    Shot("studies", "lead", nav("Studies")),
    Shot("study", "lead", then(nav("Studies"), click("main table tbody td:first-child a"))),
    Shot("extraction-form", "lead", nav("Extraction form")),
    Shot("outcomes", "lead", nav("Outcome table")),
    # risk of bias
    Shot("rob-overview", "lead", nav("RoB 2 assessments")),
    Shot("rob-figures", "lead", nav("RoB figures")),
    # analyse
    Shot("analyses", "lead", nav("Analyses")),
    Shot("analysis", "lead", then(nav("Analyses"), click("main table tbody td:first-child a"))),
    Shot("analysis-new", "lead", nav("New analysis")),
    Shot(
        "analysis-model",
        "lead",
        then(nav("Analyses"), link("HbA1c by drug class"), scroll_to("#model-section")),
    ),
    Shot("certainty", "lead", nav("Certainty (GRADE)")),
    Shot("summary-of-findings", "lead", nav("Summary of findings")),
    # export
    Shot("screening-exports", "lead", nav("Exports")),
    Shot("other-tools", "lead", nav("Other tools")),
    Shot("activity", "lead", nav("Activity")),
    Shot("versions", "lead", nav("Versions")),
    # API
    Shot("api-tokens", "lead", top_bar("API tokens")),
    Shot("api-docs", "lead", footer("API docs")),
    # deploy
    Shot("healthz", "lead", goto("/healthz")),
]


def _log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _open_review(page, title: str | None) -> None:
    """The review from "My reviews": the one whose title contains ``title``, or the first."""
    page.goto("/")
    reviews = page.locator(".list-group a.list-group-item")
    if title:
        reviews = reviews.filter(has_text=title)
    if reviews.count() == 0:
        raise RuntimeError(f"no review {'titled ' + repr(title) if title else ''} on My reviews")
    reviews.first.click()
    page.wait_for_load_state("load")


def _settle(page) -> None:
    """Wait for htmx fragments and the API docs' scripts (a polling page never idles)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_load_state("load")
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=5_000)
    time.sleep(0.3)  # let transitions (Bootstrap fades) end


def _save_small(png: bytes, path: Path) -> None:
    """Save the screenshot reduced to a 256-colour palette (a third of the size or less)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def capture(base_url: str, out: Path, *, review: str | None = None) -> list[Path]:
    """Take every shot of SHOTS from the site at ``base_url`` into ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for user in dict.fromkeys(shot.user for shot in SHOTS):
                context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
                context.set_default_timeout(30_000)
                page = context.new_page()
                _log_in(page, user)
                for shot in (s for s in SHOTS if s.user == user):
                    _open_review(page, review)
                    shot.go(page)
                    _settle(page)
                    path = out / f"{shot.name}.png"
                    _save_small(page.screenshot(), path)
                    written.append(path)
                    print(f"{path.name}: {page.url.removeprefix(base_url)} as {user}", flush=True)
                context.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNGs ({OUT})")
    parser.add_argument("--server", help="a demo site already running (default: build one)")
    parser.add_argument("--review", help="part of the review's title (default: the first)")
    args = parser.parse_args(argv)
    if args.server:
        written = capture(args.server.rstrip("/"), args.out, review=args.review)
    else:
        with tempfile.TemporaryDirectory(prefix="reviewflow-docs-") as tmp:
            print("Building a fresh demo site (migrate, load_demo)...", flush=True)
            with demo_site(Path(tmp)) as url:
                written = capture(url, args.out, review=args.review)
    size = sum(path.stat().st_size for path in written)
    print(f"{len(written)} screenshots, {size / 1e6:.1f} MB, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
