"""API views: thin viewsets over the apps' selectors and services, one access check each.

Every viewset here derives from `ReviewViewSet`, whose `ReviewAccess` permission loads the
review from the URL's slug for the user (404 for non-members, 403 without the role the
action needs) before any object is read; objects are then looked up within that review.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import mixins, viewsets

from reviews.models import Role

from . import selectors
from .access import ReviewAccess
from .filters import RecordFilter
from .serializers import RecordDetailSerializer, RecordSerializer


class ReviewViewSet(viewsets.GenericViewSet):
    """Base of every review-scoped endpoint: /api/v1/reviews/{slug}/..."""

    permission_classes = [ReviewAccess]
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

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request review
            from reviews.models import Record

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
