from django.urls import path, register_converter

from . import views


class StageConverter:
    """`ta` (title/abstract) or `ft` (full text)."""

    regex = "ta|ft"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


class ExportFormatConverter:
    regex = "svg|png|pdf|csv"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(StageConverter, "stage")
register_converter(ExportFormatConverter, "diagramformat")

app_name = "screening"

urlpatterns = [
    path("", views.overview, name="overview"),
    # Screening (the queue, one record, a vote, undo)
    path("title-abstract/", views.screen_ta, name="screen_ta"),
    path("full-text/", views.screen_ft, name="screen_ft"),
    path("<stage:stage>/records/<int:record_id>/", views.screen_record, name="screen_record"),
    path("<stage:stage>/records/<int:record_id>/vote/", views.vote, name="vote"),
    path("<stage:stage>/undo/", views.undo, name="undo"),
    path("records/<int:record_id>/correct/", views.record_correct, name="record_correct"),
    path("shortcuts/", views.preferences, name="preferences"),
    # Full texts
    path("full-texts/", views.fulltexts, name="fulltexts"),
    path("full-texts/<int:record_id>/upload/", views.fulltext_upload, name="fulltext_upload"),
    path(
        "full-texts/<int:record_id>/not-retrievable/",
        views.fulltext_not_retrievable,
        name="fulltext_not_retrievable",
    ),
    path("full-texts/<int:record_id>/pdf/", views.fulltext_pdf, name="fulltext_pdf"),
    # Conflicts
    path("conflicts/", views.conflicts, name="conflicts"),
    path("conflicts/<stage:stage>/<int:record_id>/", views.adjudicate, name="adjudicate"),
    # Agreement, PRISMA, exports, settings
    path("agreement/", views.agreement, name="agreement"),
    path("prisma/", views.prisma_view, name="prisma"),
    path("prisma/diagram.<diagramformat:fmt>", views.prisma_download, name="prisma_download"),
    path("prisma/counts/", views.prisma_extra, name="prisma_extra"),
    path("exports/", views.exports, name="exports"),
    path("exports/decisions.csv", views.export_decisions, name="export_decisions"),
    path("exports/agreement.csv", views.export_agreement, name="export_agreement"),
    path("exports/included.ris", views.export_included, name="export_included"),
    path("settings/", views.screening_settings, name="settings"),
    path("ranking/refit/", views.ranking_refit, name="ranking_refit"),
    path("stopping/sampling/", views.stopping_sampling, name="stopping_sampling"),
]
