"""Serializers of the API: what each endpoint shows, after the selectors have applied blinding."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reviews.models import ImportBatch, Record
from screening.models import Decision, FinalDecision, Resolution, Vote
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
        fields = ["stage", "decision", "reason", "adjudicated", "actor", "note", "created_at"]


class StageVotesSerializer(serializers.Serializer):
    votes = VoteSerializer(many=True, help_text="Only yours until the record is resolved")
    resolution = ResolutionSerializer(allow_null=True)


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
            "n_imported",
            "n_duplicates",
            "created_at",
            "imported_at",
        ]
