"""Serializers of the API: what each endpoint shows, after the selectors have applied blinding."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analysis.versions.models import ReviewVersion
from reviews.importing import FORMATS, TARGET_FIELDS
from reviews.models import ImportBatch, Job, Record, Search, SearchRun
from screening.models import Decision, FinalDecision, Resolution, Vote, VoteChange
from screening.selectors import STAGES


class StageStateSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="open, conflict, resolved, not_retrieved or none")
    decision = serializers.CharField(help_text="Final decision (include/exclude) or empty")
    my_decision = serializers.CharField(help_text="Your own vote at this stage, or empty")


class RecordSerializer(serializers.ModelSerializer):
    screening = serializers.SerializerMethodField()

    class Meta:
        model = Record
        fields = [
            "id",
            "title",
            "abstract",
            "authors",
            "year",
            "journal",
            "volume",
            "issue",
            "pages",
            "doi",
            "pmid",
            "keywords",
            "url",
            "record_type",
            "batch",
            "duplicate_of",
            "screening",
        ]

    @extend_schema_field(
        serializers.DictField(child=StageStateSerializer(), help_text="Keyed by stage: ta, ft")
    )
    def get_screening(self, record: Record) -> dict:
        return {
            stage: {
                "status": getattr(record, f"{stage}_status"),
                "decision": getattr(record, f"{stage}_decision"),
                "my_decision": getattr(record, f"{stage}_mine"),
            }
            for stage in STAGES
        }


class VoteSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    reason = serializers.CharField(source="reason.label", default="", read_only=True)

    class Meta:
        model = Vote
        fields = ["record", "stage", "reviewer", "decision", "reason", "note", "updated_at"]


class ResolutionSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(source="reason.label", default="", read_only=True)
    actor = serializers.CharField(source="actor.username", default="", read_only=True)

    class Meta:
        model = Resolution
        fields = [
            "stage",
            "decision",
            "reason",
            "adjudicated",
            "imported_from",
            "actor",
            "note",
            "created_at",
        ]


class VoteChangeSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = VoteChange
        fields = ["reviewer", "old_decision", "new_decision", "imported_from", "changed_at"]


class StageVotesSerializer(serializers.Serializer):
    votes = VoteSerializer(many=True, help_text="Only yours until the record is resolved")
    resolution = ResolutionSerializer(allow_null=True)
    history = VoteChangeSerializer(many=True, help_text="Vote history, blinded like the votes")


class RecordDetailSerializer(RecordSerializer):
    votes = serializers.SerializerMethodField()

    class Meta(RecordSerializer.Meta):
        fields = [*RecordSerializer.Meta.fields, "votes"]

    @extend_schema_field(serializers.DictField(child=StageVotesSerializer()))
    def get_votes(self, record: Record) -> dict:
        visible = self.context["visible_votes"]
        return {
            stage: {
                "votes": VoteSerializer(state["votes"], many=True).data,
                "resolution": ResolutionSerializer(state["resolution"]).data
                if state["resolution"]
                else None,
                "history": VoteChangeSerializer(state["history"], many=True).data,
            }
            for stage, state in visible.items()
        }


class VoteInputSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.IntegerField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AdjudicationInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=FinalDecision.choices)
    reason = serializers.IntegerField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ImportBatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "filename",
            "format",
            "status",
            "search",
            "n_read",
            "n_skipped",
            "skipped",
            "notes",
            "n_imported",
            "n_duplicates",
            "round",
            "overlap",
            "created_at",
            "imported_at",
        ]


class ScreeningNextSerializer(serializers.Serializer):
    stage = serializers.CharField()
    record = RecordSerializer(allow_null=True, help_text="null when nothing is left for you")


class ConflictSerializer(serializers.Serializer):
    record = serializers.IntegerField(source="record_id")
    title = serializers.CharField(source="record.title")
    stage = serializers.CharField()
    votes = serializers.SerializerMethodField()

    @extend_schema_field(VoteSerializer(many=True))
    def get_votes(self, item) -> list:
        return VoteSerializer(self.context["votes"].get(item.record_id, []), many=True).data


class StudySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    records = serializers.SerializerMethodField()
    arms = serializers.SerializerMethodField()
    outcomes = serializers.SerializerMethodField()
    timepoints = serializers.SerializerMethodField()
    consensus_final = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_records(self, study) -> list:
        return [r.record_id for r in study.reports.all()]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_arms(self, study) -> list:
        return [
            {"id": a.pk, "name": a.name, "role": a.role, "n_randomised": a.n_randomised}
            for a in study.arms.all()
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_outcomes(self, study) -> list:
        return [
            {
                "id": o.pk,
                "name": o.name,
                "subdomain": o.subdomain.name if o.subdomain else "",
                "instrument": o.instrument,
                "direction": o.direction,
            }
            for o in study.outcomes.all()
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_timepoints(self, study) -> list:
        return [
            {"id": t.pk, "label": t.label, "weeks": t.weeks, "kind": t.kind}
            for t in study.timepoints.all()
        ]

    @extend_schema_field(serializers.BooleanField())
    def get_consensus_final(self, study) -> bool:
        return bool(getattr(study, "consensus_list", None))


class ExtractionFieldSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    section = serializers.CharField()
    value = serializers.JSONField()


class OutcomeRowSerializer(serializers.Serializer):
    study = serializers.IntegerField()
    study_label = serializers.CharField()
    outcome = serializers.IntegerField()
    outcome_name = serializers.CharField()
    domain = serializers.CharField()
    subdomain = serializers.CharField()
    instrument = serializers.CharField()
    direction = serializers.CharField()
    timepoint = serializers.IntegerField()
    timepoint_label = serializers.CharField()
    timepoint_weeks = serializers.FloatField()
    timepoint_kind = serializers.CharField()
    population = serializers.CharField()
    arm = serializers.IntegerField()
    arm_name = serializers.CharField()
    arm_role = serializers.CharField()
    n_randomised = serializers.IntegerField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True)
    se = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(allow_null=True)
    events = serializers.IntegerField(allow_null=True)


class StudyExtractionSerializer(serializers.Serializer):
    study = serializers.IntegerField()
    status = serializers.CharField(help_text="final, or not_final (values hidden until then)")
    template_version = serializers.IntegerField(allow_null=True)
    fields = ExtractionFieldSerializer(many=True)
    outcome_data = OutcomeRowSerializer(many=True)


class RobDomainSerializer(serializers.Serializer):
    judgement = serializers.CharField()
    direction = serializers.CharField()


class RobRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    study = serializers.IntegerField()
    study_label = serializers.CharField()
    outcome = serializers.IntegerField(allow_null=True)
    outcome_name = serializers.CharField()
    domains = serializers.DictField(child=RobDomainSerializer())
    overall = serializers.CharField()
    adjudicated = serializers.BooleanField()
    finalised_at = serializers.DateTimeField(allow_null=True)


class AnalysisSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    domain = serializers.CharField()
    subdomain = serializers.CharField()
    window = serializers.CharField(source="window.label")
    effect_measure = serializers.CharField()
    tau2_method = serializers.CharField()
    hartung_knapp = serializers.BooleanField()


class ResultRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    block = serializers.CharField()
    row = serializers.CharField()
    k = serializers.IntegerField()
    estimate = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    I2 = serializers.FloatField(allow_null=True)
    I2_low = serializers.FloatField(allow_null=True)
    I2_high = serializers.FloatField(allow_null=True)
    p = serializers.FloatField(allow_null=True)
    pi_low = serializers.FloatField(allow_null=True)
    pi_high = serializers.FloatField(allow_null=True)
    Q_between = serializers.FloatField(allow_null=True)
    p_between = serializers.FloatField(allow_null=True)
    note = serializers.CharField(allow_blank=True, allow_null=True)


class AnalysisResultsSerializer(serializers.Serializer):
    analysis = serializers.IntegerField()
    method = serializers.CharField()
    hartung_knapp = serializers.BooleanField()
    rows = ResultRowSerializer(many=True)


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, allow_blank=True, help_text="Detected when left out"
    )
    search = serializers.IntegerField(required=False, allow_null=True)
    csv_mapping = serializers.JSONField(
        required=False,
        help_text='For a CSV whose headers are not recognised: {"title": "Article Title", ...}',
    )

    def validate_csv_mapping(self, value):
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and k in TARGET_FIELDS and isinstance(v, str)
            for k, v in value.items()
        ):
            raise serializers.ValidationError(
                f"A mapping of record fields ({', '.join(TARGET_FIELDS)}) to CSV headers."
            )
        return value


# Job kinds whose result names reviewers' decisions (another tool's votes, before they are
# resolved here): only leads see it whole, as they alone see the preview and the report.
LEAD_ONLY_RESULTS = frozenset({"decisions_preview", "decisions_import"})
_PUBLIC_RESULT_KEYS = ("url", "label", "follow", "message", "import_id")


class JobSerializer(serializers.ModelSerializer):
    started_by = serializers.CharField(source="started_by.username", default="", read_only=True)
    result = serializers.SerializerMethodField()

    def get_result(self, job: Job) -> dict:
        result = job.result or {}
        if job.kind in LEAD_ONLY_RESULTS:
            request = self.context.get("request")
            membership = getattr(request, "membership", None)
            if membership is None or not membership.can_manage:
                return {k: result[k] for k in _PUBLIC_RESULT_KEYS if k in result}
        return result

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "message",
            "error",
            "result",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class DecisionsImportSerializer(serializers.Serializer):
    tool = serializers.ChoiceField(choices=["asreview", "rayyan", "covidence"])
    reviewers = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True),
        required=False,
        help_text="The tool's reviewer name -> a member's username (null: leave out)",
    )
    covidence_list = serializers.ChoiceField(
        choices=["screen", "select", "included", "excluded", "irrelevant"],
        required=False,
        help_text="Which Covidence list the file is",
    )
    rayyan_rounds = serializers.ChoiceField(
        choices=["last", "stages"],
        required=False,
        help_text="Rayyan rounds: the last decides, or round 1 title/abstract and round 2 "
        "full text",
    )
    create_reasons = serializers.BooleanField(
        required=False, help_text="Create the file's exclusion reasons this review lacks"
    )
    ft_reason = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Full-text exclusion reason for exclusions the file gives none for",
    )
    dry_run = serializers.BooleanField(
        required=False, help_text="Only say what the import would do; write nothing"
    )
    background = serializers.BooleanField(
        required=False,
        help_text="Run it as a job (202; follow jobs/{id}/, whose result holds the preview's "
        "report or the import's import_id): for files of thousands of decisions",
    )


class DecisionFormatSerializer(serializers.Serializer):
    tool = serializers.CharField()
    tool_label = serializers.CharField()
    version = serializers.CharField(help_text="The tool's export and version")
    columns = serializers.CharField(help_text="What is read from it")
    example = serializers.CharField()


class DecisionsGroupSerializer(serializers.Serializer):
    reviewer = serializers.CharField(help_text="The tool's reviewer name; empty: final decision")
    member = serializers.CharField(allow_null=True, help_text="The member it maps to")
    round = serializers.IntegerField(help_text="Rayyan round (0: the tool has none)")
    stage = serializers.CharField()
    stage_label = serializers.CharField()
    read = serializers.IntegerField()
    written = serializers.IntegerField()
    not_written = serializers.IntegerField()
    why = serializers.DictField(
        child=serializers.IntegerField(), help_text="Why not written -> how many"
    )


class DecisionsUnwrittenSerializer(serializers.Serializer):
    record = serializers.IntegerField(help_text="The record of the row")
    target = serializers.IntegerField(help_text="The record it goes to (kept, for a duplicate)")
    row = serializers.IntegerField(help_text="The row's line in the file")
    reviewer = serializers.CharField()
    round = serializers.IntegerField()
    stage = serializers.CharField()
    decision = serializers.CharField()
    reason = serializers.CharField(help_text="Why it is not written")


class SkippedSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    reason = serializers.CharField()


class DecisionsReportSerializer(serializers.Serializer):
    """What a decisions import read, wrote and left out (a preview: what it would)."""

    tool = serializers.CharField()
    dry_run = serializers.BooleanField()
    records = serializers.IntegerField(help_text="Rows of the imported file")
    read = serializers.IntegerField(help_text="Decisions read")
    written = serializers.IntegerField()
    not_written = serializers.IntegerField()
    resolved = serializers.IntegerField(help_text="Final decisions written")
    votes = serializers.IntegerField(help_text="Reviewer votes written")
    reviewers = serializers.ListField(child=serializers.CharField())
    mapping = serializers.DictField(child=serializers.CharField(allow_null=True))
    suggested = serializers.DictField(child=serializers.CharField(allow_null=True))
    decisions = serializers.DictField(
        child=serializers.IntegerField(), help_text="stage:decision -> how many read"
    )
    groups = DecisionsGroupSerializer(many=True)
    unwritten = DecisionsUnwrittenSerializer(many=True)
    skipped = SkippedSerializer(many=True, help_text="The records of `unwritten` (older clients)")
    reasons = serializers.DictField(
        help_text="matched, retired (not attached), new, created, attached, fallback"
    )
    duplicates = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Rows linked as duplicates with decisions, and decisions they carried",
    )
    import_id = serializers.IntegerField(required=False, help_text="The Activity log's entry")


class DecisionsResultSerializer(serializers.Serializer):
    records = serializers.IntegerField()
    resolved = serializers.IntegerField()
    votes = serializers.IntegerField()
    skipped = SkippedSerializer(many=True)


# --- GRADE certainty and Summary of Findings (analysis.certainty) ------------------------------


class CertaintyDomainSerializer(serializers.Serializer):
    """One GRADE domain: the rules' suggestion for the current data and the lead's rating."""

    domain = serializers.CharField(source="key")
    label = serializers.CharField()
    suggested = serializers.CharField(source="suggestion.rating")
    rule = serializers.CharField(source="suggestion.rule")
    numbers = serializers.DictField(child=serializers.CharField(), source="suggestion.numbers")
    note = serializers.CharField(source="suggestion.note")
    final = serializers.CharField()
    reason = serializers.CharField()


class CertaintySerializer(serializers.Serializer):
    """A rated outcome analysis (an ``analysis.certainty.selectors.AssessmentView``)."""

    id = serializers.IntegerField(source="assessment.pk")
    analysis = serializers.IntegerField(source="context.analysis.pk")
    analysis_title = serializers.CharField(source="context.analysis.title")
    outcome = serializers.CharField(source="assessment.outcome")
    timepoint = serializers.CharField(source="context.analysis.window.label")
    effect_measure = serializers.CharField(source="context.analysis.effect_measure")
    studies = serializers.IntegerField(source="context.k")
    participants = serializers.IntegerField(source="context.participants", allow_null=True)
    starting_level = serializers.IntegerField(source="assessment.start_level")
    starting_reason = serializers.CharField(source="assessment.start_reason")
    domains = CertaintyDomainSerializer(many=True, source="lines")
    large_effect = serializers.IntegerField(source="assessment.large_effect")
    dose_response = serializers.IntegerField(source="assessment.dose_response")
    confounding = serializers.IntegerField(source="assessment.confounding")
    upgrade_reason = serializers.CharField(source="assessment.upgrade_reason")
    certainty = serializers.IntegerField(source="assessment.certainty")
    certainty_label = serializers.CharField()
    statement = serializers.CharField(source="assessment.statement")
    data_changed_since_rated = serializers.BooleanField(source="stale")
    confirmed_by = serializers.CharField(source="assessment.confirmed_by", allow_null=True)
    confirmed_at = serializers.DateTimeField(source="assessment.confirmed_at")


class SofLineSerializer(serializers.Serializer):
    """One outcome of a SoF table, the cells as printed and the absolute effects as numbers."""

    outcome = serializers.CharField()
    timepoint = serializers.CharField()
    effect_measure = serializers.CharField(source="measure")
    participants = serializers.CharField()
    relative_effect = serializers.CharField(source="relative")
    risk_with_comparison = serializers.CharField(source="assumed")
    risk_with_intervention = serializers.CharField(source="corresponding")
    risk_difference = serializers.CharField(source="difference")
    continuous_effect = serializers.CharField(source="continuous")
    on_named_scale = serializers.CharField(source="back_transformed")
    assumed_per_1000 = serializers.FloatField(source="absolute.assumed", allow_null=True)
    corresponding_per_1000 = serializers.FloatField(
        source="absolute.corresponding", allow_null=True
    )
    corresponding_low = serializers.FloatField(source="absolute.corresponding_low", allow_null=True)
    corresponding_high = serializers.FloatField(
        source="absolute.corresponding_high", allow_null=True
    )
    certainty = serializers.CharField()
    footnotes = serializers.ListField(child=serializers.CharField(), source="marks")
    statement = serializers.CharField()
    comments = serializers.CharField()
    data_changed_since_rated = serializers.BooleanField(source="stale")
    problem = serializers.CharField()


class SofFootnoteSerializer(serializers.Serializer):
    mark = serializers.CharField()
    text = serializers.CharField()


class SofTableSerializer(serializers.Serializer):
    """A Summary of Findings table (an ``analysis.certainty.selectors.SofView``)."""

    id = serializers.IntegerField(source="table.pk")
    title = serializers.CharField(source="table.title")
    population = serializers.CharField(source="table.population")
    setting = serializers.CharField(source="table.setting")
    intervention = serializers.CharField(source="table.intervention")
    comparison = serializers.CharField(source="table.comparison")
    rows = SofLineSerializer(many=True, source="lines")
    footnotes = SofFootnoteSerializer(many=True)


# --- Living reviews: rounds, search runs, published versions ----------------------------------


class StageRoundCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    resolved = serializers.IntegerField()
    included = serializers.IntegerField()
    excluded = serializers.IntegerField()
    conflicts = serializers.IntegerField(
        allow_null=True, help_text="null for a reviewer who may not see conflicts (blinding)"
    )
    not_retrieved = serializers.IntegerField()


class RoundScreeningSerializer(serializers.Serializer):
    ta = StageRoundCountsSerializer(help_text="title/abstract screening of the round's records")
    ft = StageRoundCountsSerializer(help_text="full-text screening of the round's records")


class RoundSerializer(serializers.Serializer):
    """One round of the review (1: the first searches; 2 on: update rounds) and its counts."""

    number = serializers.IntegerField()
    opened_at = serializers.DateTimeField()
    opened_by = serializers.CharField(allow_null=True)
    note = serializers.CharField()
    current = serializers.BooleanField()
    search_runs = serializers.IntegerField(help_text="search runs logged in the round")
    imports = serializers.IntegerField(help_text="imports confirmed in the round")
    records_imported = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="of the records imported")
    new = serializers.IntegerField(help_text="records the previews found new to the review")
    seen = serializers.IntegerField(help_text="... already in the review, not yet decided")
    decided = serializers.IntegerField(help_text="... already in the review and decided")
    screening = RoundScreeningSerializer()


class RoundOpenSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SearchSerializer(serializers.ModelSerializer):
    """A logged search; ``n_imported`` counts the first round's imports from it."""

    n_imported = serializers.IntegerField(read_only=True)
    difference = serializers.IntegerField(
        read_only=True, help_text="hits reported minus records imported (first round)"
    )
    runs = serializers.SerializerMethodField()

    class Meta:
        model = Search
        fields = [
            "id",
            "source",
            "source_detail",
            "date_run",
            "search_string",
            "hits_reported",
            "notes",
            "n_imported",
            "difference",
            "runs",
        ]

    def get_runs(self, search) -> int:
        return len(search.runs.all())


class SearchRunSerializer(serializers.ModelSerializer):
    """One run of a search: when, the dates it covers, its hits, the import it brought."""

    batch_status = serializers.CharField(source="batch.status", default=None, allow_null=True)
    filename = serializers.CharField(source="batch.filename", default=None, allow_null=True)
    n_read = serializers.IntegerField(source="batch.n_read", default=None, allow_null=True)
    n_imported = serializers.IntegerField(source="batch.n_imported", default=None, allow_null=True)
    n_duplicates = serializers.IntegerField(
        source="batch.n_duplicates", default=None, allow_null=True
    )
    overlap = serializers.JSONField(
        source="batch.overlap",
        default=None,
        help_text="what the preview found: new, seen, decided, possible, within_file",
    )
    created_by = serializers.CharField(allow_null=True)

    class Meta:
        model = SearchRun
        fields = [
            "id",
            "date_run",
            "covers_from",
            "covers_to",
            "hits_reported",
            "round",
            "batch",
            "batch_status",
            "filename",
            "n_read",
            "n_imported",
            "n_duplicates",
            "overlap",
            "created_by",
            "created_at",
        ]


class VersionSerializer(serializers.ModelSerializer):
    """A published version, without its snapshot (``versions/{number}/`` has it)."""

    published_by = serializers.CharField(allow_null=True)

    class Meta:
        model = ReviewVersion
        fields = ["number", "note", "round", "published_by", "published_at", "digest"]


class VersionDetailSerializer(VersionSerializer):
    snapshot = serializers.JSONField(
        help_text="frozen: included studies, extraction consensus, RoB 2, analyses with "
        "their numbers, PRISMA counts and GRADE certainty as they were when published"
    )

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "snapshot"]


class VersionPublishSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class VersionReportSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="doi:, pmid: or title: (by content, never an id)")
    citation = serializers.CharField()
    title = serializers.CharField()
    doi = serializers.CharField()
    pmid = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)


class VersionStudySerializer(serializers.Serializer):
    label = serializers.CharField()
    reports = VersionReportSerializer(many=True)


class EstimateChangeSerializer(serializers.Serializer):
    title = serializers.CharField()
    measure = serializers.CharField()
    before = serializers.CharField(help_text="pooled estimate (95% CI) in the older version")
    after = serializers.CharField(help_text="... in the newer version")
    k_before = serializers.IntegerField(allow_null=True)
    k_after = serializers.IntegerField(allow_null=True)
    change = serializers.CharField(help_text="after − before; × ratio for OR/RR; '' if not both")
    change_value = serializers.FloatField(allow_null=True)


class PrismaChangeSerializer(serializers.Serializer):
    label = serializers.CharField()
    before = serializers.IntegerField()
    after = serializers.IntegerField()


class VersionComparisonSerializer(serializers.Serializer):
    """Two versions side by side (an ``analysis.versions.selectors.Comparison``)."""

    older = serializers.IntegerField(source="older.number")
    newer = serializers.IntegerField(source="newer.number")
    added = VersionStudySerializer(many=True, help_text="studies in the newer version only")
    removed = VersionStudySerializer(many=True, help_text="studies in the older version only")
    kept = serializers.IntegerField()
    estimates = EstimateChangeSerializer(many=True)
    prisma = serializers.SerializerMethodField()

    @extend_schema_field(PrismaChangeSerializer(many=True))
    def get_prisma(self, comparison) -> list:
        return [
            {"label": label, "before": before, "after": after}
            for label, before, after in comparison.prisma
        ]
