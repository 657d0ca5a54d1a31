"""The one place that answers "may this user do this in this review?".

Every review-scoped view goes through `review_view`, which loads the review by
slug for the user: a non-member gets 404 (the review's existence is not
revealed), a member without the role gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from .models import Membership, Review, Role


def get_review_for(user: Any, slug: str, *, role: Role | None = None) -> tuple[Review, Membership]:
    """Return (review, membership) for a member of the review, else raise 404/403."""
    if not user.is_authenticated:
        raise Http404("No such review")
    membership = (
        Membership.objects.select_related("review").filter(review__slug=slug, user=user).first()
    )
    if membership is None:
        raise Http404("No such review")
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in this review.")
    return membership.review, membership


def review_view(role: Role | None = None) -> Callable:
    """Decorate a function view taking `(request, review, ...)` instead of `(request, slug, ...)`.

    The membership is available as `request.membership`. The required role is
    kept on the view (`view.review_role`) so the permission matrix test can
    check every review URL automatically.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            review, membership = get_review_for(request.user, slug, role=role)
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, review, *args, **kwargs)

        wrapper.review_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorator
