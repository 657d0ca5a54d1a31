"""Turn domain errors that escape a view into a clear message and a 4xx, never a 500."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from .errors import DomainError


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
