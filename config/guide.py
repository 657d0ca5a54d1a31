"""The user guide (docs/guide/*.md) served as pages of the app, linked from every footer.

The Markdown files are the repository's own (not user input), rendered with Python-Markdown;
links between them and their screenshots (docs/guide/img/) are rewritten to these views.
Only files that exist in the guide's folder are served: names never reach a path as typed.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import markdown
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

GUIDE_DIR = Path(settings.BASE_DIR) / "docs" / "guide"
INDEX = "README"
_LINK = re.compile(r'href="(?P<page>[A-Za-z0-9_-]+)\.md(?P<anchor>#[^"]*)?"')
_IMAGE = re.compile(r'src="img/(?P<name>[A-Za-z0-9_.-]+\.png)"')
_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)


def _pages() -> dict[str, Path]:
    return {path.stem: path for path in sorted(GUIDE_DIR.glob("*.md"))}


@functools.lru_cache(maxsize=64)
def _render(path: Path, mtime: float) -> tuple[str, str]:
    """(title, HTML) of one page; cached until the file changes."""
    text = path.read_text(encoding="utf-8")
    match = _TITLE.search(text)
    html = markdown.markdown(text, extensions=["tables", "fenced_code"], output_format="html")
    html = _LINK.sub(
        lambda m: 'href="{}{}"'.format(
            reverse("guide_page", kwargs={"page": m["page"]})
            if m["page"] != INDEX
            else reverse("guide"),
            m["anchor"] or "",
        ),
        html,
    )
    html = _IMAGE.sub(
        lambda m: 'src="{}" loading="lazy"'.format(
            reverse("guide_image", kwargs={"name": m["name"]})
        ),
        html,
    )
    return (match[1].strip() if match else "Guide"), html


def guide_page(request: HttpRequest, page: str = INDEX) -> HttpResponse:
    path = _pages().get(page)
    if path is None:
        raise Http404("No such page in the guide.")
    title, html = _render(path, path.stat().st_mtime)
    body: SafeString = mark_safe(html)  # the repository's own Markdown, not user input
    return render(request, "guide/page.html", {"title": title, "body": body, "page": page})


def guide_image(request: HttpRequest, name: str) -> HttpResponse:
    images = {path.name: path for path in (GUIDE_DIR / "img").glob("*.png")}
    if name not in images:
        raise Http404("No such image in the guide.")
    response = FileResponse(images[name].open("rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    return response
