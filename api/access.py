"""The pages' access rule for the API: non-members 404, members without the role 403.

A review-scoped viewset names the role each action needs (`review_roles`, falling back to
`review_role`); `ReviewAccess` loads the review with `reviews.access.get_review_for` before
the action runs, so every object an action looks up is looked up within `request.review`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from reviews.access import get_review_for
from reviews.models import Role


class ReviewAccess(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False  # 401 with the token challenge
        review, membership = get_review_for(
            request.user, view.kwargs["slug"], role=required_role(view)
        )
        request.review = review
        request.membership = membership
        return True


def required_role(view: Any, action: str | None = None) -> Role | None:
    """The role `action` (default: the view's current action) of a review viewset needs."""
    action = action or getattr(view, "action", None)
    roles = getattr(view, "review_roles", {})
    return roles.get(action, getattr(view, "review_role", None))
