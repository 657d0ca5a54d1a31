"""URL parameters of the analysis app's review-scoped URLs, for the permission matrix test."""

from analysis import services
from analysis.models import TimepointWindow


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


PARAMS = {
    "analysis_id": _analysis,
    "window_id": _spare_window,
    "fmt": lambda cast: "svg",
}

# A plot/export format is not an object of a review.
UNSCOPED = {"fmt"}
