"""URL parameters of the analysis app's review-scoped URLs, for the permission matrix test."""

from analysis import services
from analysis.models import Analysis, TimepointWindow
from analysis.versions.models import ReviewVersion
from analysis.versions.selectors import snapshot_digest, version_snapshot


def _window(cast) -> TimepointWindow:
    services.windows_ensure_default(review=cast.review, actor=cast.lead)
    return TimepointWindow.objects.filter(review=cast.review).order_by("position").first()


def _analysis(cast):
    window = _window(cast)
    return services.analysis_save(
        review=cast.review,
        actor=cast.lead,
        values={"title": "Clinical recovery", "domain": "", "window": window},
    ).pk


def _spare_window(cast):
    return services.window_save(
        review=cast.review,
        actor=cast.lead,
        label="Spare window",
        kind="follow_up",
        weeks_min=100,
        weeks_max=120,
    ).pk


def _version(cast) -> int:
    """A published version (its snapshot as version_snapshot writes it, nothing included)."""
    snapshot = version_snapshot(cast.review)
    return ReviewVersion.objects.create(
        review=cast.review, number=1, round=1, snapshot=snapshot, digest=snapshot_digest(snapshot)
    ).number


PARAMS = {
    "number": _version,
    "analysis_id": _analysis,
    "window_id": _spare_window,
    "fmt": lambda cast: "svg",
}

# A plot/export format is not an object of a review.
UNSCOPED = {"fmt"}


# --- GRADE certainty and SoF tables (analysis.certainty) ---------------------------------------


def _sof_table(cast):
    from analysis.certainty import services as certainty_services
    from analysis.certainty.models import SofTable

    table = SofTable.objects.filter(review=cast.review, title="Matrix table").first()
    return table or certainty_services.sof_table_save(
        review=cast.review, actor=cast.lead, values={"title": "Matrix table"}
    )


def _sof_row(cast):
    """A row of the matrix table. The assessment is written directly: the matrix checks who
    may reach a row, not the ratings (the analysis has no data, so the row shows why)."""
    from django.utils import timezone

    from analysis.certainty.models import CertaintyAssessment, SofRow

    table = _sof_table(cast)
    analysis = Analysis.objects.filter(review=cast.review, title="Certainty matrix").first()
    if analysis is None:
        analysis = services.analysis_save(
            review=cast.review,
            actor=cast.lead,
            values={"title": "Certainty matrix", "domain": "", "window": _window(cast)},
        )
    assessment, _ = CertaintyAssessment.objects.get_or_create(
        review=cast.review,
        analysis=analysis,
        defaults={
            "start_level": 4,
            "certainty": 4,
            "inputs_hash": "-",
            "confirmed_at": timezone.now(),
        },
    )
    row, _ = SofRow.objects.get_or_create(table=table, assessment=assessment)
    return row.pk


def certainty_assessment(cast) -> int:
    """The matrix table's row's assessment (for the API's certainty/{pk}/)."""
    from analysis.certainty.models import SofRow

    return SofRow.objects.get(pk=_sof_row(cast)).assessment_id


PARAMS["table_id"] = lambda cast: _sof_table(cast).pk
PARAMS["sof_row_id"] = _sof_row
