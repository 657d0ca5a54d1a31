"""API views: thin viewsets over the apps' selectors and services, one access check each.

Every viewset here derives from `ReviewViewSet`, whose `ReviewAccess` permission loads the
review from the URL's slug for the user (404 for non-members, 403 without the role the
action needs) before any object is read; objects are then looked up within that review.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from analysis import exports as analysis_exports
from analysis import selectors as analysis_selectors
from analysis.certainty import selectors as certainty_selectors
from analysis.data import ReviewReads
from analysis.models import Analysis
from analysis.report import ReportInputError
from analysis.versions import selectors as version_selectors
from analysis.versions import services as version_services
from analysis.versions.models import ReviewVersion
from extraction.models import Extraction, ExtractionKind, ExtractionStatus, Outcome, Study
from reviews import selectors as review_selectors
from reviews import services as review_services
from reviews import tasks as review_tasks
from reviews.errors import ConflictError, DomainError
from reviews.models import ImportBatch, Job, Record, Review, Role, Search
from screening import selectors as screening_selectors
from screening import services as screening_services
from screening.models import ScreeningItem, Vote
from screening.prisma import prisma_counts, prisma_pending

from . import selectors
from . import services as api_services
from . import tasks as api_tasks
from .access import ReviewAccess
from .exchange import exports as exchange_exports
from .exchange import revman_import, tools
from .filters import RecordFilter
from .pagination import IdCursorPagination
from .serializers import (
    AdjudicationInputSerializer,
    AnalysisResultsSerializer,
    AnalysisSerializer,
    CertaintySerializer,
    ConflictSerializer,
    DecisionFormatSerializer,
    DecisionsImportSerializer,
    DecisionsReportSerializer,
    ImportBatchSerializer,
    ImportUploadSerializer,
    JobSerializer,
    OutcomeRowSerializer,
    RecordDetailSerializer,
    RecordSerializer,
    ResolutionSerializer,
    ResultRowSerializer,
    RobRowSerializer,
    RoundOpenSerializer,
    RoundSerializer,
    ScreeningNextSerializer,
    SearchRunSerializer,
    SearchSerializer,
    SofTableSerializer,
    StudyExtractionSerializer,
    StudySerializer,
    VersionComparisonSerializer,
    VersionDetailSerializer,
    VersionPublishSerializer,
    VersionSerializer,
    VoteInputSerializer,
    VoteSerializer,
)


def export_response(review: Review, name: str) -> HttpResponse:
    """One export of `api.exchange.exports` as a download (pages and API alike)."""
    if name not in exchange_exports.EXPORTS:
        raise Http404("No such export.")
    content_type, build = exchange_exports.EXPORTS[name]
    response = HttpResponse(build(review), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{review.slug}-{name}"'
    return response


class ReviewViewSet(viewsets.GenericViewSet):
    """Base of every review-scoped endpoint: /api/v1/reviews/{slug}/..."""

    permission_classes = [ReviewAccess]
    # Only for the schema generator (the slug parameter); every view reads within request.review.
    queryset = Review.objects.none()
    review_role: Role | None = None  # any member
    review_roles: dict[str, Role | None] = {}

    @property
    def review(self):
        return self.request.review


class RecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """The review's records with their screening state as you may see it.

    Before a record is resolved you see only your own vote; for a blinded reviewer a
    conflict shows as `open`.
    """

    filterset_class = RecordFilter
    queryset = Record.objects.none()  # the schema's model; requests use get_queryset()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request review
            return Record.objects.none()
        return selectors.records_for(self.review, self.request.user, self.request.membership)

    def get_serializer_class(self):
        return RecordDetailSerializer if self.action == "retrieve" else RecordSerializer

    def get_object(self):
        record = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, record)
        return record

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "retrieve" and "pk" in self.kwargs:
            context["visible_votes"] = selectors.record_votes_visible(
                self.review, self.get_object(), self.request.user
            )
        return context


# --- Imports --------------------------------------------------------------------------------


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """Search-export uploads. An upload starts a job that reads it into a preview batch
    (the records it would add, the lines it skipped; follow it at `jobs/{id}/`, whose
    `result.batch_id` names the batch); `confirm/` starts the import job, `discard/` drops it."""

    serializer_class = ImportBatchSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    review_roles = {
        "create": Role.LEAD,
        "confirm": Role.LEAD,
        "discard": Role.LEAD,
        "decisions": Role.LEAD,
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ImportBatch.objects.none()
        return self.review.import_batches.all()

    @extend_schema(request=ImportUploadSerializer, responses={202: JobSerializer})
    def create(self, request, slug: str):
        form = ImportUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        if upload.size > settings.REVIEWFLOW_MAX_IMPORT_BYTES:
            raise DomainError("The file is larger than this server accepts.", field="file")
        search = None
        if form.validated_data.get("search"):
            search = get_object_or_404(self.review.searches, pk=form.validated_data["search"])
        fmt = form.validated_data.get("format") or None
        mapping = form.validated_data.get("csv_mapping") or None
        review_services.import_check(file=upload, fmt=fmt, csv_mapping=mapping)
        path = default_storage.save(
            default_storage.generate_filename(
                f"imports/{self.review.pk}/uploads/{uuid.uuid4().hex}/{upload.name}"
            ),
            upload,
        )
        job = review_services.job_create(
            review=self.review,
            kind=review_tasks.IMPORT_PREVIEW,
            actor=request.user,
            params={
                "path": path,
                "filename": upload.name,
                "fmt": fmt,
                "search_id": search.pk if search else None,
                "csv_mapping": mapping,
            },
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, slug: str, pk: str):
        batch = self.get_object()
        if batch.status != ImportBatch.Status.PREVIEW:
            raise ConflictError("This import has already been confirmed or discarded.")
        job = review_services.job_create(
            review=self.review,
            kind=review_tasks.IMPORT_CONFIRM,
            actor=request.user,
            params={"batch_id": batch.pk},
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def discard(self, request, slug: str, pk: str):
        review_services.import_discard(batch=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter("tool", str, enum=list(tools.TOOLS)),
            OpenApiParameter("covidence_list", str, enum=list(tools.COVIDENCE_LISTS)),
            OpenApiParameter("rayyan_rounds", str, enum=list(tools.RAYYAN_ROUNDS)),
        ],
        responses=DecisionsReportSerializer,
    )
    @extend_schema(
        methods=["POST"],
        request=DecisionsImportSerializer,
        responses={200: DecisionsReportSerializer, 202: JobSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def decisions(self, request, slug: str, pk: str):
        """Screening decisions of an imported ASReview, Rayyan or Covidence export.

        GET `?tool=` previews them with the names guessed for the tool's reviewers; POST
        with `dry_run: true` previews exactly what a POST would do; POST imports. Either
        way the report gives, per reviewer and per round or stage, the votes read, written
        and not written, and every vote not written with the reason (`unwritten`).
        `reviewers` maps each of the tool's names to a member's username (or null to leave
        them out); `covidence_list` says which Covidence list the file is (guessed from
        Covidence's file name in a preview); `rayyan_rounds` how Rayyan's rounds map
        (`last`: the last round decides; `stages`: round 1 title/abstract, round 2 full
        text); `create_reasons` adds the file's exclusion reasons this review lacks;
        `ft_reason` is the full-text reason for exclusions the file gives none for. The
        formats understood, with an example of each, are at `imports/decision-formats/`."""
        batch = self.get_object()
        if request.method == "GET":
            params = request.query_params
            tool = params.get("tool", "")
            if tool not in tools.TOOLS:
                raise DomainError("Choose the tool: asreview, rayyan or covidence.", field="tool")
            rounds = params.get("rayyan_rounds") or tools.ROUNDS_LAST
            return Response(
                api_services.decisions_import(
                    batch=batch,
                    actor=request.user,
                    tool=tool,
                    covidence_list=params.get("covidence_list", ""),
                    rayyan_rounds=rounds,
                    dry_run=True,
                )
            )
        form = DecisionsImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        options = {
            "tool": data["tool"],
            "reviewers": data.get("reviewers") if "reviewers" in data else None,
            "covidence_list": data.get("covidence_list", ""),
            "ft_reason_id": data.get("ft_reason"),
            "rayyan_rounds": data.get("rayyan_rounds") or tools.ROUNDS_LAST,
            "create_reasons": data.get("create_reasons", False),
        }
        dry_run = data.get("dry_run", False)
        if not data.get("background"):
            report = api_services.decisions_import(
                batch=batch, actor=request.user, dry_run=dry_run, **options
            )
            return Response(report)
        # What the import would refuse is said now; the writes run as a job.
        api_services.decisions_import(
            batch=batch, actor=request.user, dry_run=dry_run, check_only=True, **options
        )
        job = review_services.job_create(
            review=self.review,
            kind=api_tasks.DECISIONS_PREVIEW if dry_run else api_tasks.DECISIONS_IMPORT,
            actor=request.user,
            params={"batch_id": batch.pk, "options": options},
        )
        job.refresh_from_db()
        return Response(
            JobSerializer(job, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        responses=DecisionFormatSerializer(many=True),
        description="The other tools' exports whose screening decisions `decisions/` reads, "
        "by tool and version, with the columns it reads and an example of each.\n\n"
        + tools.formats_markdown(),
    )
    @action(detail=False, methods=["get"], url_path="decision-formats")
    def decision_formats(self, request, slug: str):
        """The formats and versions of other tools' exports whose decisions are understood."""
        return Response(
            [
                {"tool": tool, "tool_label": tools.TOOLS[tool], **version}
                for tool, versions in tools.FORMATS.items()
                for version in versions
            ]
        )


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """Background jobs of the review (imports, de-duplication...): status and progress."""

    serializer_class = JobSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return self.review.jobs.select_related("started_by")


# --- Screening ------------------------------------------------------------------------------


class ScreeningViewSet(ReviewViewSet):
    """Your queue at a stage (`ta` or `ft`) and your votes there, through the page's services."""

    review_role = Role.REVIEWER
    serializer_class = VoteSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Vote.objects.none()
        return Vote.objects.filter(
            review=self.review, stage=self.kwargs["stage"], reviewer=self.request.user
        ).select_related("reviewer", "reason")

    @extend_schema(responses=ScreeningNextSerializer)
    @action(detail=False, methods=["get"])
    def next(self, request, slug: str, stage: str):
        """Claim your next record at this stage (the same queue as the screening page:
        the current round's records; ``?round=all`` for every round's)."""
        item = screening_services.next_item_claim(
            review=self.review,
            stage=stage,
            actor=request.user,
            first_round=screening_selectors.since_round(
                self.review, request.query_params.get("round")
            ),
        )
        record = None
        if item is not None:
            record = selectors.records_for(self.review, request.user, request.membership).get(
                pk=item.record_id
            )
        return Response(
            {"stage": stage, "record": RecordSerializer(record).data if record else None}
        )

    @extend_schema(methods=["GET"], responses=VoteSerializer(many=True))
    @extend_schema(methods=["POST"], request=VoteInputSerializer, responses={201: VoteSerializer})
    @action(detail=False, methods=["get", "post"])
    def votes(self, request, slug: str, stage: str):
        """GET: your votes at this stage. POST: cast or change your vote on a record."""
        if request.method == "GET":
            page = self.paginate_queryset(self.get_queryset())
            return self.get_paginated_response(VoteSerializer(page, many=True).data)
        form = VoteInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        vote = screening_services.vote_cast(
            review=self.review,
            record_id=form.validated_data["record"],
            stage=stage,
            actor=request.user,
            decision=form.validated_data["decision"],
            reason_id=form.validated_data.get("reason"),
            note=form.validated_data.get("note", ""),
        )
        return Response(VoteSerializer(vote).data, status=status.HTTP_201_CREATED)


class ConflictViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """Records in conflict at a stage with every vote (adjudicators), and their adjudication."""

    review_role = Role.ADJUDICATOR
    serializer_class = ConflictSerializer
    lookup_field = "record_id"
    lookup_url_kwarg = "pk"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ScreeningItem.objects.none()
        return screening_selectors.conflicts(self.review, self.kwargs["stage"]).order_by("id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["votes"] = {}
        return context

    def list(self, request, slug: str, stage: str):
        page = self.paginate_queryset(self.get_queryset())
        votes = screening_selectors.conflict_votes(page, stage)
        data = ConflictSerializer(page, many=True, context={"votes": votes}).data
        return self.get_paginated_response(data)

    def retrieve(self, request, slug: str, stage: str, pk: str):
        item = self.get_object()
        votes = screening_selectors.conflict_votes([item], stage)
        return Response(ConflictSerializer(item, context={"votes": votes}).data)

    @extend_schema(request=AdjudicationInputSerializer, responses=ResolutionSerializer)
    @action(detail=True, methods=["post"])
    def adjudicate(self, request, slug: str, stage: str, pk: str):
        """The final decision on a record in conflict (recorded as adjudicated, by you)."""
        item = self.get_object()  # first: another review's record is 404 whatever the body
        form = AdjudicationInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        resolution = screening_services.conflict_resolve(
            review=self.review,
            record_id=item.record_id,
            stage=stage,
            actor=request.user,
            decision=form.validated_data["decision"],
            reason_id=form.validated_data.get("reason"),
            note=form.validated_data.get("note", ""),
        )
        return Response(ResolutionSerializer(resolution).data)


class PrismaViewSet(ReviewViewSet):
    """The PRISMA 2020 counts, as on the PRISMA page: in an update round with a version
    published before it, those of the template for updated reviews (``previous_*`` and the
    totals set); ``?template=new`` for the whole review as one flow."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def list(self, request, slug: str):
        found = prisma_counts(self.review, update=request.query_params.get("template") != "new")
        counts = asdict(found)
        counts |= {
            "is_update": found.is_update,
            "total_studies": found.total_studies,
            "total_reports": found.total_reports,
        }
        counts["pending"] = prisma_pending(self.review)
        return Response(counts)


# --- Extraction, risk of bias, analyses -------------------------------------------------------


class StudyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """Included studies with their reports, arms, outcomes and timepoints."""

    serializer_class = StudySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Study.objects.none()
        return (
            Study.objects.filter(review=self.review)
            .prefetch_related(
                "reports",
                "arms",
                "timepoints",
                Prefetch("outcomes", queryset=Outcome.objects.select_related("subdomain")),
                Prefetch(
                    "extractions",
                    queryset=Extraction.objects.filter(
                        kind=ExtractionKind.CONSENSUS, status=ExtractionStatus.SUBMITTED
                    ),
                    to_attr="consensus_list",
                ),
            )
            .order_by("id")
        )

    @extend_schema(responses=StudyExtractionSerializer)
    @action(detail=True, methods=["get"])
    def extraction(self, request, slug: str, pk: str):
        """The study's consensus: form answers with the form's labels and its outcome data.
        Shown once the consensus is finalised; independent extractions are never shown."""
        study = self.get_object()
        consensus = selectors.consensus_extractions(self.review).get(study.pk)
        if consensus is None:
            return Response(
                {
                    "study": study.pk,
                    "status": "not_final",
                    "template_version": None,
                    "fields": [],
                    "outcome_data": [],
                }
            )
        fields = [
            {
                "key": f["key"],
                "label": f.get("label", f["key"]),
                "section": section["title"],
                "value": consensus.answers.get(f["key"]),
            }
            for section in consensus.template.schema["sections"]
            for f in section["fields"]
        ]
        return Response(
            {
                "study": study.pk,
                "status": "final",
                "template_version": consensus.template.version,
                "fields": fields,
                "outcome_data": selectors.outcome_rows(self.review, study_id=study.pk),
            }
        )


class OutcomeViewSet(ReviewViewSet):
    """Consensus outcome data: one row per study × outcome × timepoint × arm."""

    @extend_schema(responses=OutcomeRowSerializer(many=True))
    def list(self, request, slug: str):
        return Response(selectors.outcome_rows(self.review))


class RobViewSet(ReviewViewSet):
    """Final consensus RoB 2 assessments: the five domain judgements and the overall one."""

    @extend_schema(responses=RobRowSerializer(many=True))
    def list(self, request, slug: str):
        return Response(RobRowSerializer(selectors.rob_rows(self.review), many=True).data)


class AnalysisViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """The review's meta-analyses and their results (the same numbers as the page and CSV)."""

    serializer_class = AnalysisSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Analysis.objects.none()
        return analysis_selectors.analyses_for(self.review).order_by("id")

    @extend_schema(
        parameters=[
            OpenApiParameter("method", str, description="τ² estimator (default: the analysis')"),
            OpenApiParameter("hk", str, enum=["0", "1"], description="Hartung-Knapp on/off"),
        ],
        responses=AnalysisResultsSerializer,
    )
    @action(detail=True, methods=["get"])
    def results(self, request, slug: str, pk: str):
        analysis = self.get_object()
        method = request.query_params.get("method") or None
        hk = {"1": True, "0": False}.get(request.query_params.get("hk", ""))
        try:
            report, _data = analysis_selectors.analysis_report(
                analysis, method=method, hartung_knapp=hk
            )
        except ReportInputError as exc:
            raise DomainError(str(exc)) from None
        return Response(
            {
                "analysis": analysis.pk,
                "method": method or analysis.tau2_method,
                "hartung_knapp": analysis.hartung_knapp if hk is None else hk,
                "rows": ResultRowSerializer(
                    analysis_exports.results_records(report), many=True
                ).data,
            }
        )


class CertaintyViewSet(ReviewViewSet):
    """GRADE certainty per rated analysis: each domain's suggestion for the current data, the
    lead's final rating and reason, the certainty and whether the data changed since rated.
    Built from finalised consensus data only."""

    @extend_schema(responses=CertaintySerializer(many=True))
    def list(self, request, slug: str):
        views = [
            line.view
            for line in certainty_selectors.certainty_index(self.review)
            if line.view.assessment
        ]
        return Response(CertaintySerializer(views, many=True).data)

    @extend_schema(responses=CertaintySerializer)
    def retrieve(self, request, slug: str, pk: str):
        assessment = get_object_or_404(
            certainty_selectors.assessments_for(self.review), pk=pk if pk.isdigit() else 0
        )
        view = certainty_selectors.assessment_view_of(assessment.analysis, assessment)
        return Response(CertaintySerializer(view).data)


class SofViewSet(ReviewViewSet):
    """Summary of Findings tables: rows in the lead's order with relative and absolute
    effects, participants (studies), certainty and footnotes."""

    @extend_schema(responses=SofTableSerializer(many=True))
    def list(self, request, slug: str):
        reads = ReviewReads(self.review)
        views = [
            certainty_selectors.sof_view(t, reads=reads)
            for t in certainty_selectors.sof_tables_for(self.review)
        ]
        return Response(SofTableSerializer(views, many=True).data)

    @extend_schema(responses=SofTableSerializer)
    def retrieve(self, request, slug: str, pk: str):
        table = get_object_or_404(
            certainty_selectors.sof_tables_for(self.review), pk=pk if pk.isdigit() else 0
        )
        return Response(SofTableSerializer(certainty_selectors.sof_view(table)).data)


# --- Living reviews: update rounds, search runs, published versions ---------------------------


class RoundViewSet(ReviewViewSet):
    """The review's rounds (1: the first searches, 2 on: update rounds), each with what it
    imported (search runs, records, duplicates; new, already seen and already decided by
    the previews) and its screening counts per stage. A lead opens the next round (POST):
    imports confirmed from then on are screened in it."""

    review_roles = {"create": Role.LEAD}
    pagination_class = None

    @extend_schema(responses=RoundSerializer(many=True))
    def list(self, request, slug: str):
        rounds = selectors.rounds_with_counts(self.review, request.membership)
        return Response(RoundSerializer(rounds, many=True).data)

    @extend_schema(request=RoundOpenSerializer, responses={201: RoundSerializer})
    def create(self, request, slug: str):
        form = RoundOpenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        opened = review_services.round_open(
            review=self.review, actor=request.user, note=form.validated_data["note"]
        )
        self.review.refresh_from_db(fields=["round"])
        row = next(
            r
            for r in selectors.rounds_with_counts(self.review, request.membership)
            if r["number"] == opened.number
        )
        return Response(RoundSerializer(row).data, status=status.HTTP_201_CREATED)


class SearchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """The search log: each search with the records its first-round imports brought, and
    its runs (`runs/`: the first import and every update run, with the dates they cover)."""

    serializer_class = SearchSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Search.objects.none()
        return review_selectors.searches_with_counts(self.review)

    @extend_schema(responses=SearchRunSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def runs(self, request, slug: str, pk: str):
        search = self.get_object()
        runs = review_selectors.search_runs_for(search)
        return Response(SearchRunSerializer(runs, many=True).data)


class VersionPagination(IdCursorPagination):
    ordering = "-number"


class VersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReviewViewSet):
    """Published versions, newest first: each a frozen snapshot (`versions/{number}/`);
    `compare/?a=1&b=2` sets two side by side (studies added and removed, every analysis'
    pooled estimate before and after, PRISMA totals). A lead publishes the next (POST)."""

    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    pagination_class = VersionPagination
    review_roles = {"create": Role.LEAD}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReviewVersion.objects.none()
        if self.action == "retrieve":
            return self.review.versions.select_related("published_by")
        return version_selectors.versions_for(self.review)

    def get_serializer_class(self):
        return VersionDetailSerializer if self.action == "retrieve" else VersionSerializer

    @extend_schema(request=VersionPublishSerializer, responses={201: VersionSerializer})
    def create(self, request, slug: str):
        form = VersionPublishSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = version_services.version_publish(
            review=self.review, actor=request.user, note=form.validated_data["note"]
        )
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("a", int, required=True, description="a version's number"),
            OpenApiParameter("b", int, required=True, description="another version's number"),
        ],
        responses=VersionComparisonSerializer,
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def compare(self, request, slug: str):
        numbers = []
        for name in ("a", "b"):
            value = request.query_params.get(name, "")
            if not value.isdigit():
                raise DomainError("Name two versions to compare: ?a=1&b=2.", field=name)
            numbers.append(int(value))
        older, newer = (get_object_or_404(self.review.versions, number=n) for n in numbers)
        comparison = version_selectors.version_compare(older, newer)
        return Response(VersionComparisonSerializer(comparison).data)


# --- Exports (moving out) ----------------------------------------------------------------------


class ExportViewSet(ReviewViewSet):
    """Files for other tools: ASReview labelled CSV, RevMan Web's study-centric CSVs (study
    information, study arms, study results one row per arm, RoB 2 risk of bias), the whole
    consensus extraction (CSV/XLSX). Built from resolutions and finalised consensus only,
    so blinding holds for every member."""

    lookup_value_regex = r"[-a-z0-9]+\.[a-z]+"

    @extend_schema(operation_id="reviews_exports_list", responses=OpenApiTypes.OBJECT)
    def list(self, request, slug: str):
        return Response(
            [
                {"name": name, "url": request.build_absolute_uri(f"{name}/")}
                for name in exchange_exports.EXPORTS
            ]
        )

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY})
    def retrieve(self, request, slug: str, pk: str):
        return export_response(self.review, pk)


class RevManViewSet(ReviewViewSet):
    """RevMan 5 review files (.rm5) brought in as studies with a finalised consensus.

    `formats/` lists what is understood (with an example each); `preview/` (leads, a
    multipart `file`) reads the file and answers what would be created, what not and why,
    and RevMan's stored results next to ours, with a `token`; `import/` (leads, that
    `token`) writes it in one transaction. A file that cannot be read is a 400 saying why.
    """

    parser_classes = [MultiPartParser, FormParser, JSONParser]
    review_roles = {"preview": Role.LEAD, "import_file": Role.LEAD}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["get"])
    def formats(self, request, slug: str):
        """RevMan formats and versions understood, with an example of each."""
        return Response(revman_import.FORMATS)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def preview(self, request, slug: str):
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("Send the RevMan 5 file (.rm5) as `file`.", field="file")
        plan, token = revman_import.revman_upload(review=self.review, upload=upload)
        return Response({**revman_import.plan_as_dict(plan), "token": token})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"], url_path="import")
    def import_file(self, request, slug: str):
        summary = revman_import.revman_confirm(
            review=self.review, actor=request.user, token=str(request.data.get("token", ""))
        )
        return Response(summary, status=201)
