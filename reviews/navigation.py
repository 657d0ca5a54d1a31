"""Sections of a review's side navigation; apps add theirs in AppConfig.ready()."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    role: Role | None = None
    order: int = 100
    group: str = ""


_items: list[NavItem] = []


def register_nav(item: NavItem) -> None:
    if item not in _items:
        _items.append(item)
        _items.sort(key=lambda i: i.order)


def nav_items() -> list[NavItem]:
    return list(_items)


register_nav(NavItem("Dashboard", "reviews:dashboard", order=0, group="Review"))
register_nav(NavItem("Protocol", "reviews:edit", Role.LEAD, order=5, group="Review"))
register_nav(NavItem("Team", "reviews:members", order=10, group="Review"))
register_nav(NavItem("Activity", "reviews:activity", Role.LEAD, order=12, group="Review"))
register_nav(NavItem("Exclusion reasons", "reviews:exclusion_reasons", order=15, group="Review"))
register_nav(NavItem("Search log", "reviews:searches", order=20, group="Identification"))
register_nav(NavItem("Imports", "reviews:imports", order=25, group="Identification"))
register_nav(NavItem("Records", "reviews:records", order=30, group="Identification"))
register_nav(
    NavItem("Duplicates", "reviews:duplicates", Role.LEAD, order=35, group="Identification")
)
