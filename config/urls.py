"""Top-level URLs: accounts, then every review-scoped app under /reviews/<slug>/."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from api import pages as api_pages
from config.guide import guide_image, guide_page
from config.healthz import healthz


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask /favicon.ico of pages that link no icon (API JSON, admin): the static
    one (a temporary redirect, as its hashed name changes with its content)."""
    return redirect(static("reviewflow/favicon.ico"))


urlpatterns = [
    path("favicon.ico", favicon),
    # For load balancers and monitoring: no login, JSON, 503 when a part is down
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # The user guide (docs/guide/), open to anyone: newcomers read it before logging in
    path("guide/", guide_page, name="guide"),
    path("guide/img/<str:name>", guide_image, name="guide_image"),
    path("guide/<slug:page>/", guide_page, name="guide_page"),
    # Accounts
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # Password reset by e-mail (the console backend prints the mail in development)
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(
            email_template_name="registration/password_reset_email.txt",
            extra_context={"timeout_hours": settings.PASSWORD_RESET_TIMEOUT // 3600},
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            extra_context={"timeout_hours": settings.PASSWORD_RESET_TIMEOUT // 3600}
        ),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/tokens/", api_pages.token_list, name="api_tokens"),
    path("accounts/tokens/<int:token_id>/revoke/", api_pages.token_revoke, name="api_token_revoke"),
    # The REST API (its review-scoped routes carry their own access check: api.access)
    path("api/", include("api.urls")),
    # Reviews and everything inside one
    path("", include("reviews.urls")),
    path("reviews/<slug:slug>/screening/", include("screening.urls")),
    path("reviews/<slug:slug>/extraction/", include("extraction.urls")),
    path("reviews/<slug:slug>/analysis/", include("analysis.urls")),
    path("reviews/<slug:slug>/certainty/", include("analysis.certainty.urls")),
    path("reviews/<slug:slug>/exchange/", include("api.page_urls")),
]

# A database error outside a view (middleware) is a 503 "try again" too, never a 500.
handler500 = "reviews.middleware.server_error"
