"""/api/v1/: the router of review-scoped endpoints, the schema and its docs."""

from csp.constants import SELF
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from . import views
from .docs import RedocView, redoc_script

REVIEW = r"reviews/(?P<slug>[-a-zA-Z0-9_]+)"
STAGE = r"(?P<stage>ta|ft)"

router = SimpleRouter()
router.register(rf"{REVIEW}/records", views.RecordViewSet, basename="record")
router.register(rf"{REVIEW}/imports", views.ImportViewSet, basename="import")
router.register(rf"{REVIEW}/jobs", views.JobViewSet, basename="job")
router.register(rf"{REVIEW}/screening/{STAGE}", views.ScreeningViewSet, basename="screening")
router.register(
    rf"{REVIEW}/screening/{STAGE}/conflicts", views.ConflictViewSet, basename="conflict"
)
router.register(rf"{REVIEW}/prisma", views.PrismaViewSet, basename="prisma")
router.register(rf"{REVIEW}/studies", views.StudyViewSet, basename="study")
router.register(rf"{REVIEW}/outcomes", views.OutcomeViewSet, basename="outcome")
router.register(rf"{REVIEW}/rob", views.RobViewSet, basename="rob")
router.register(rf"{REVIEW}/analyses", views.AnalysisViewSet, basename="analysis")
router.register(rf"{REVIEW}/certainty", views.CertaintyViewSet, basename="certainty")
router.register(rf"{REVIEW}/sof", views.SofViewSet, basename="sof")
router.register(rf"{REVIEW}/rounds", views.RoundViewSet, basename="round")
router.register(rf"{REVIEW}/searches", views.SearchViewSet, basename="search")
router.register(rf"{REVIEW}/versions", views.VersionViewSet, basename="version")
router.register(rf"{REVIEW}/exports", views.ExportViewSet, basename="export")
router.register(rf"{REVIEW}/revman", views.RevManViewSet, basename="revman")

app_name = "api"

urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves its script as a file: the Content-Security-Policy allows no inline one
    path("v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Redoc's bundle is served without the CDN logo its sidebar asks for (api/docs.py); its
    # search index runs in a worker it makes from a blob: of its own code
    path(
        "v1/redoc/",
        csp_update({"worker-src": [SELF, "blob:"]})(RedocView.as_view(url_name="api:schema")),
        name="redoc",
    ),
    path("v1/redoc/redoc.standalone.js", redoc_script, name="redoc_js"),
]
