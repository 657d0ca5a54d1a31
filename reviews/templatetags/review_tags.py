"""Template tags shared by every review page."""

from __future__ import annotations

from django import template
from django.urls import reverse

from ..navigation import nav_items

register = template.Library()


@register.inclusion_tag("includes/review_nav.html", takes_context=True)
def review_nav(context, review):
    """The side navigation: only the sections this member's roles allow."""
    request = context["request"]
    membership = getattr(request, "membership", None)
    groups: dict[str, list[dict]] = {}
    for item in nav_items():
        if membership is None or not membership.has_role(item.role):
            continue
        url = reverse(item.url_name, kwargs={"slug": review.slug})
        groups.setdefault(item.group, []).append(
            {"label": item.label, "url": url, "active": request.path == url}
        )
    return {"groups": groups, "review": review}


@register.filter
def percent(part, whole) -> int:
    try:
        return round(100 * part / whole) if whole else 0
    except (TypeError, ZeroDivisionError):
        return 0


@register.filter
def attr(obj, name: str):
    """`{{ record|attr:"title" }}`: read a field named in a variable."""
    return getattr(obj, name, "")


def page_area(resolver_match) -> str | None:
    """The part of the review a page belongs to, for the notes on generated contents."""
    if resolver_match is None:
        return None
    namespace, name = resolver_match.namespace, resolver_match.url_name or ""
    if namespace == "extraction":
        return "rob" if name.startswith("rob") else "extraction"
    if namespace in ("screening", "analysis"):
        return namespace
    if namespace == "reviews" and name in ("records", "record"):
        return "screening"  # the record pages show screening decisions
    return None


@register.inclusion_tag("includes/generated_notes.html", takes_context=True)
def generated_notes(context, review, every: bool = False):
    """The review's notes on generated contents that concern this page (``every``: all)."""
    notes = getattr(review, "generated_notes", None) or {}
    if every:
        shown = [notes[a] for a in sorted(notes) if notes[a]]
    else:
        area = page_area(getattr(context.get("request"), "resolver_match", None))
        shown = [notes[area]] if area and notes.get(area) else []
    return {"notes": shown}
