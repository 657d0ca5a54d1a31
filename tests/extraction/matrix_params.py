"""URL parameters of the extraction app for the permission matrix test.

Arms, outcomes and timepoints are given with extracted data, so the delete URLs
answer every member alike (the service refuses to delete data) instead of
deleting the object for the first member who posts; all ids of one cast belong
to the same study, so URLs taking several of them agree.
"""

from extraction import services
from extraction.models import StudyReport
from tests.extraction.factories import arm_data, with_structure
from tests.factories import RecordFactory


def _study(cast):
    record = RecordFactory(review=cast.review)
    return services.study_create(review=cast.review, records=[record], actor=cast.lead)


def _report(cast):
    study = _study(cast)
    extra = RecordFactory(review=cast.review)
    StudyReport.objects.create(study=study, record=extra)
    return extra.study_report.pk


def _with_data(cast) -> dict:
    """One study with structure and data per cast, so URLs with several ids agree."""
    if hasattr(cast, "_extraction_params"):
        return cast._extraction_params
    study = _study(cast)
    s = with_structure(study, cast.lead)
    s["study"] = study
    extraction = services.extraction_start(study=study, user=cast.lead)
    services.outcome_data_save(
        extraction=extraction,
        outcome=s["outcome"],
        timepoint=s["post"],
        raw=arm_data(s),
        actor=cast.lead,
    )
    cast._extraction_params = s
    return s


PARAMS = {
    "study_id": lambda cast: _with_data(cast)["study"].pk,
    "report_id": _report,
    "arm_id": lambda cast: _with_data(cast)["peer"].pk,
    "outcome_id": lambda cast: _with_data(cast)["outcome"].pk,
    "timepoint_id": lambda cast: _with_data(cast)["post"].pk,
}

from .rob_matrix_params import PARAMS as _ROB  # noqa: E402

PARAMS.update(_ROB)

# The RoB 2 URLs' parameters live beside the RoB tests.
try:
    from tests.extraction.rob_matrix_params import PARAMS as ROB_PARAMS
except ImportError:  # RoB 2 not in this checkout
    ROB_PARAMS = {}
PARAMS.update(ROB_PARAMS)
