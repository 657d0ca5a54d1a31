"""/reviews/<slug>/exchange/: files for other tools, decisions from other tools."""

from django.urls import path

from . import pages

app_name = "api_pages"

urlpatterns = [
    path("", pages.exchange, name="exchange"),
    path("decisions/", pages.exchange_decisions, name="exchange_decisions"),
    path("decisions/<int:import_id>/", pages.decisions_report, name="decisions_report"),
    path("decisions/preview/<int:preview_id>/", pages.decisions_preview, name="decisions_preview"),
    # A RevMan 5 review file: upload and preview, then confirm
    path("revman/", pages.exchange_revman, name="exchange_revman"),
    path("revman/confirm/", pages.exchange_revman_confirm, name="exchange_revman_confirm"),
    path("<str:name>", pages.exchange_download, name="exchange_download"),
]
