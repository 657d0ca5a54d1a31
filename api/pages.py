"""The user's own API-token page (HTML): create a token (its key shown once), revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from reviews.errors import DomainError

from . import services
from .models import ApiToken


def _page(request: HttpRequest, *, new_key: str = "", error: str = "", status: int = 200):
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "api/token_list.html",
        {"tokens": tokens, "new_key": new_key, "error": error},
        status=status,
    )


@never_cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    try:
        _token, key = services.token_create(user=request.user, name=request.POST.get("name", ""))
    except DomainError as exc:
        return _page(request, error=exc.message, status=exc.status)
    # Rendered, not redirected: the key is in this one response and stored nowhere.
    return _page(request, new_key=key)


@require_POST
@login_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens")
