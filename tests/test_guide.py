"""The user guide (docs/guide/): one page per stage, served in the app and linked from the
footer, with screenshots that `make docs-screenshots` regenerates on the demo."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "guide"
STAGES = [
    "set-up",
    "import",
    "screen",
    "adjudicate",
    "full-text",
    "prisma",
    "extract",
    "rob",
    "analyse",
    "export",
    "api",
    "deploy",
]
IMAGE = re.compile(r"!\[[^\]]*\]\(img/([A-Za-z0-9_.-]+\.png)\)")


def _pages() -> dict[str, Path]:
    return {path.stem: path for path in GUIDE.glob("*.md")}


def _referenced() -> set[str]:
    return {name for path in GUIDE.glob("*.md") for name in IMAGE.findall(path.read_text())}


def test_one_page_per_stage_each_with_a_screenshot_and_linked_from_the_index():
    pages = _pages()
    index = pages.pop("README").read_text()
    stems = sorted(pages)
    assert [re.sub(r"^\d+-", "", stem) for stem in stems] == STAGES
    for stem in stems:
        assert f"]({stem}.md)" in index, stem
        assert IMAGE.search(pages[stem].read_text()), f"{stem} has no screenshot"


def test_the_committed_images_are_exactly_the_referenced_ones_and_small():
    committed = {path.name for path in (GUIDE / "img").glob("*.png")}
    assert committed == _referenced()
    total = sum((GUIDE / "img" / name).stat().st_size for name in committed)
    assert total < 5_000_000, f"{total / 1e6:.1f} MB of screenshots"


def test_the_guide_is_served_and_linked_from_the_footer(client, cast):
    client.force_login(cast.alice)
    page = client.get(f"/reviews/{cast.review.slug}/").content.decode()
    assert 'href="/guide/"' in page
    index = client.get("/guide/")
    assert index.status_code == 200
    for stem in sorted(_pages()):
        if stem != "README":
            assert f'href="/guide/{stem}/"' in index.content.decode()
    screen = client.get("/guide/03-screen/").content.decode()
    assert 'src="/guide/img/screen-ta.png"' in screen and ".md" not in screen.split("<article")[1]
    image = client.get("/guide/img/screen-ta.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    for missing in ("/guide/nothing/", "/guide/img/nothing.png", "/guide/img/..%2FREADME.md"):
        assert client.get(missing).status_code == 404, missing


@pytest.mark.e2e
def test_docs_screenshots_script_produces_every_image_the_guide_shows(demo_site_url, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.docs_screenshots", "--server", demo_site_url]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    produced = {path.name for path in tmp_path.glob("*.png")}
    assert _referenced() <= produced, sorted(_referenced() - produced)
    for name in produced:
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.size == (1280, 800), name
