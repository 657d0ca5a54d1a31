"""Turn domain errors that escape a view into a clear message and a 4xx, and a lost
database into a 503 "try again": never a 500."""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.views import defaults

from .errors import DomainError

log = logging.getLogger(__name__)


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        if request.headers.get("Accept", "").startswith("application/json"):
            return JsonResponse({"error": exception.message}, status=exception.status)
        response = TemplateResponse(
            request, "error.html", {"message": exception.message}, status=exception.status
        )
        return response.render()


# --- The database is restarting or unreachable -------------------------------------------------

DATABASE_ERRORS = (OperationalError, InterfaceError)
UNAVAILABLE = (
    "The database is unavailable for a moment (restarting?). Nothing was saved: try again."
)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 "try again", rendered without touching the database (no user, no session)."""
    if request.headers.get("Accept", "").startswith("application/json") or request.path.startswith(
        "/api/"
    ):
        response: HttpResponse = JsonResponse({"error": UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"message": UNAVAILABLE}), status=503)
    response["Retry-After"] = "5"
    return response


class DatabaseUnavailableMiddleware:
    """A view that meets a lost database connection answers 503, never a 500.

    Django closes the broken connection at the end of the request, so the next request
    connects again. Errors outside views (a session saved after the view) reach
    `server_error`, which answers the same.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            log.warning(
                "Database unavailable during %s %s: %s", request.method, request.path, exception
            )
            return database_unavailable(request)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database error anywhere (middleware too) is a 503, the rest a 500."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(request)
    return defaults.server_error(request)
