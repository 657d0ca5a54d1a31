"""Domain errors from the services become the same 4xx in the API as on the pages."""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import exception_handler

from reviews.errors import DomainError


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=exc.status)
    return exception_handler(exc, context)
