"""/reviews/<slug>/exchange/: files for other tools, decisions from other tools."""

from django.urls import path

from . import pages

app_name = "api_pages"

urlpatterns = [
    path("", pages.exchange, name="exchange"),
    path("decisions/", pages.exchange_decisions, name="exchange_decisions"),
    path("<str:name>", pages.exchange_download, name="exchange_download"),
]
