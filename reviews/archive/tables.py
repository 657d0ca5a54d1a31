"""The reviews app's own tables in a review archive."""

from __future__ import annotations

from reviews import models as m

from .registry import Table, register_exclusion, register_tables


def register() -> None:
    register_tables(
        Table(m.Membership, "review"),
        # Tokens are secrets and unique across reviews: the import gives open invitations
        # new ones (an archive must not let anyone in).
        Table(m.Invitation, "review", skip=("token",)),
        Table(m.ExclusionReason, "review"),
        Table(m.Search, "review"),
        # `rows` is the preview's parse spill, rebuilt from the upload when it is missing.
        Table(m.ImportBatch, "review", skip=("rows",)),
        Table(m.SearchRun, "review"),
        Table(m.SearchSchedule, "review"),
        Table(m.ReviewRound, "review"),
        Table(m.Record, "review"),
        Table(m.DuplicateLink, "review"),
        Table(m.DuplicateDecision, "review"),
        Table(m.MembershipChange, "review"),
        Table(m.SettingChange, "review"),
        Table(m.ExclusionReasonChange, "review"),
        Table(m.SearchChange, "review"),
    )
    register_exclusion("reviews.job", "background jobs are runs of work, not review data")
    register_exclusion(
        "reviews.recordtally",
        "running totals the database's triggers keep while the records are restored",
    )
