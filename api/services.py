"""Writes of the api app: personal tokens, and screening decisions moved in from other tools."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews import rawfields
from reviews import services as review_services
from reviews.errors import ConflictError, DomainError
from reviews.models import ExclusionReason, ImportBatch, Membership, Record, Review
from screening import services as screening_services
from screening.services import NotFoundInReview

from .exchange import tools
from .models import TOKEN_PREFIX_LEN, ApiToken, DecisionsImport, token_hash

MAX_ACTIVE_TOKENS = 20


@transaction.atomic
def token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it and the key, which is never readable again."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the token a name, e.g. what it is for.", field="name")
    if len(name) > 100:
        raise DomainError("The name is longer than 100 characters.", field="name")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ConflictError(f"You have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.")
    key = "rf_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:TOKEN_PREFIX_LEN], key_hash=token_hash(key)
    )
    return token, key


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: Any) -> ApiToken:
    """Revoke a token of the actor's own; it stops working at once and for good."""
    if token.user_id != actor.pk:
        raise DomainError("That is not your token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- Moving in: screening decisions from another tool ------------------------------------------

# Unwritten votes kept one by one in a report (the counts are always complete).
UNWRITTEN_KEPT = 20_000
FINAL = ""  # the "reviewer" of a record's final decision (ASReview, Covidence)


class _DryRun(Exception):
    """Raised inside a preview's transaction so that every write it tried is rolled back."""


@dataclass
class _Row:
    record_id: int
    target_id: int  # the record the decision goes to: the kept one for a linked duplicate
    line: int
    decisions: list[tools.Decision]


@dataclass
class _Plan:
    """What the file says and how it maps, before anything is written."""

    rows: list[_Row]
    names: list[str]
    mapping: dict[str, str | None]  # tool's name -> username (None: nobody)
    users: dict[str, Any]
    reasons: dict[tuple[str, str], ExclusionReason]  # (stage, casefolded label) -> reason
    new_reasons: dict[tuple[str, str], str]  # (stage, casefolded label) -> label as written
    report: dict[str, Any] = field(default_factory=dict)


def _members_by_name(review: Review, reviewers: Mapping[str, Any]) -> dict[str, Any]:
    """The tool's reviewer names -> users of this review with the reviewer role.

    A name mapped to "" or None is left out on purpose (e.g. a pilot screener)."""
    wanted = {name: str(username).strip() for name, username in reviewers.items() if username}
    memberships = {
        m.user.username: m
        for m in Membership.objects.filter(
            review=review, user__username__in=set(wanted.values())
        ).select_related("user")
    }
    out = {}
    for name, username in wanted.items():
        membership = memberships.get(username)
        if membership is None:
            raise DomainError(f"“{username}” is not a member of this review.", field="reviewers")
        if not membership.can_screen:
            raise DomainError(f"“{username}” does not have the reviewer role.", field="reviewers")
        out[name] = membership.user
    return out


def decisions_suggested_mapping(*, review: Review, names: list[str]) -> dict[str, str | None]:
    """A first guess of whose votes the tool's names are: a reviewer of this review whose
    username, first name, full name or e-mail name is the tool's name (case ignored)."""
    keys: dict[str, str] = {}
    for m in Membership.objects.filter(review=review).select_related("user"):
        if not m.can_screen:
            continue
        u = m.user
        full = f"{u.first_name} {u.last_name}".strip()
        for key in (u.username, u.first_name, full, (u.email or "").split("@")[0]):
            if key:
                keys.setdefault(key.casefold(), u.username)
    return {name: keys.get(name.strip().casefold()) for name in names}


def _batch_rows(batch: ImportBatch) -> list[tuple[int, int | None, int, dict]]:
    """The batch's records as (id, duplicate_of_id, source_line, raw fields as imported)."""
    rows = batch.records.order_by("id").values_list(
        "id", "duplicate_of_id", "source_line", "source_fields", "title", "abstract"
    )
    return [(rid, dup, line, rawfields.unpack(f, t, a)) for rid, dup, line, f, t, a in rows]


def _targets(review: Review, rows: list[tuple[int, int | None, int, dict]]) -> dict[int, int]:
    """Record id -> the record its decisions go to (a linked duplicate's kept record)."""
    parent = {rid: dup for rid, dup, _, _ in rows}
    pending = {dup for dup in parent.values() if dup and dup not in parent}
    for _ in range(10):  # chains are one link long; a few more cost nothing
        if not pending:
            break
        found = dict(
            Record.objects.filter(review=review, pk__in=pending).values_list("id", "duplicate_of")
        )
        parent.update(found)
        pending = {dup for dup in found.values() if dup and dup not in parent}

    def root(rid: int) -> int:
        seen = set()
        while parent.get(rid) and rid not in seen:
            seen.add(rid)
            rid = parent[rid]
        return rid

    return {rid: root(rid) for rid, _, _, _ in rows}


def _plan(
    *,
    batch: ImportBatch,
    tool: str,
    reviewers: Mapping[str, Any] | None,
    covidence_list: str,
    rayyan_rounds: str,
    dry_run: bool,
) -> _Plan:
    """Read the batch's decisions and check the lead's choices (raises DomainError)."""
    review = batch.review
    raw = _batch_rows(batch)
    targets = _targets(review, raw)
    report: dict[str, Any] = {"tool": tool, "tool_label": tools.TOOLS[tool], "records": len(raw)}
    column = None
    try:
        if tool == tools.ASREVIEW:
            column = next((tools.asreview_column(f) for _, _, _, f in raw if f), None)
            if column is None and raw and not any("TY" in f or "N1" in f for _, _, _, f in raw):
                tools.asreview_decisions(raw[0][3])  # raises the format's message
            report["asreview_column"] = column or ""
        if tool == tools.RAYYAN:
            report["rounds"] = tools.rayyan_rounds(f for _, _, _, f in raw)
            report["rayyan_rounds"] = rayyan_rounds
            if not any(tools.rayyan_notes_text(f) is not None for _, _, _, f in raw):
                tools.rayyan_decisions(raw[0][3] if raw else {})  # raises the format's message
        if tool == tools.COVIDENCE:
            report["covidence_list_guess"] = tools.covidence_list_from_filename(batch.filename)
            report["covidence_list"] = covidence_list
            if covidence_list:
                report["covidence_list_label"] = tools.COVIDENCE_LISTS.get(covidence_list, ("",))[0]
        rows = [
            _Row(
                rid,
                targets[rid],
                line,
                tools.decisions_for(
                    tool,
                    fields,
                    covidence_list=covidence_list,
                    rayyan_rounds=rayyan_rounds,
                    asreview_label_column=column,
                )
                if fields or tool != tools.ASREVIEW
                else [],
            )
            for rid, _dup, line, fields in raw
        ]
    except tools.ToolFormatError as exc:
        raise DomainError(str(exc)) from None
    if tool == tools.RAYYAN:
        report["labels_only"] = sum(
            1
            for (_, _, _, f), row in zip(raw, rows, strict=True)
            if not row.decisions and tools.rayyan_notes(tools.rayyan_notes_text(f) or "").labels
        )
    names = sorted({d.reviewer for r in rows for d in r.decisions if d.reviewer}, key=str.casefold)
    report["reviewers"] = names
    report["suggested"] = decisions_suggested_mapping(review=review, names=names)
    mapping: dict[str, str | None] = {}
    if names:
        given = dict(reviewers or {})
        unmapped = [n for n in names if n not in given]
        if unmapped and not dry_run:
            raise DomainError(
                f"Map every {tools.TOOLS[tool]} reviewer to a member (or to nobody): "
                f"{', '.join(unmapped)}.",
                field="reviewers",
            )
        mapping = {n: (str(given[n]).strip() or None) if given.get(n) else None for n in names}
        if dry_run and reviewers is None:
            mapping = dict(report["suggested"])
    users = _members_by_name(review, {n: u for n, u in mapping.items() if u})
    report["mapping"] = {n: mapping.get(n) for n in names}
    if reviewers is not None:
        report["unmapped"] = [n for n in names if n not in reviewers]
    elif dry_run:
        report["unmapped"] = [n for n in names if not mapping.get(n)]
    existing = {
        (r.stage, r.label.strip().casefold()): r
        for r in ExclusionReason.objects.filter(review=review)
    }
    new: dict[tuple[str, str], str] = {}
    for row in rows:
        for d in row.decisions:
            for label in d.reasons:
                key = (d.stage, label.strip().casefold())
                if key not in existing:
                    new.setdefault(key, label.strip()[:200])
    return _Plan(rows, names, mapping, users, existing, new, report)


def _why(exc: DomainError, d: tools.Decision, review: Review) -> str:
    """A refusal of the screening services, said for a report of imported decisions."""
    message = exc.message
    if isinstance(exc, NotFoundInReview) and d.stage == tools.FT:
        return "not included at title/abstract here, so it has no full-text stage yet"
    if "votes it needs" in message:
        return f"the record already has the {review.votes_required} votes this review needs"
    return message.rstrip(".")


def _attached(
    d: tools.Decision, reasons: Mapping[tuple[str, str], ExclusionReason]
) -> ExclusionReason | None:
    """The first of the tool's reasons for ``d`` that is a reason in use in this review."""
    for text in d.reasons:
        reason = reasons.get((d.stage, text.strip().casefold()))
        if reason is not None and reason.active:
            return reason
    return None


def _fallback_reason(review: Review, ft_reason_id: Any) -> ExclusionReason | None:
    """The lead's full-text reason for exclusions the file gives none for."""
    if not ft_reason_id:
        return None
    text = str(ft_reason_id).strip()
    reason = (
        ExclusionReason.objects.filter(
            review=review, stage=tools.FT, active=True, pk=int(text)
        ).first()
        if text.isdigit()
        else None
    )
    if reason is None:
        raise DomainError("Choose a full-text exclusion reason of this review.", field="ft_reason")
    return reason


def _bare_ft_exclusions(plan: _Plan, create_reasons: bool) -> int:
    """Full-text exclusions that would be written without a reason of this review."""
    will_have = dict(plan.reasons)
    if create_reasons:
        will_have.update(
            {k: ExclusionReason(label=v, active=True) for k, v in plan.new_reasons.items()}
        )
    return sum(
        1
        for row in plan.rows
        for d in row.decisions
        if d.stage == tools.FT
        and d.decision == "exclude"
        and not d.unwritten
        and (not d.reviewer or plan.mapping.get(d.reviewer))
        and _attached(d, will_have) is None
    )


def _reasons_create(
    *, review: Review, actor: Any, new_reasons: Mapping[tuple[str, str], str]
) -> tuple[dict[tuple[str, str], ExclusionReason], list[str]]:
    """The file's reasons this review lacks, added after its own (the history names the lead)."""
    made: dict[tuple[str, str], ExclusionReason] = {}
    labels: list[str] = []
    positions: dict[str, int] = {}
    for (stage, key), text in sorted(new_reasons.items()):
        if stage not in positions:
            last = (
                ExclusionReason.objects.filter(review=review, stage=stage)
                .order_by("-position")
                .values_list("position", flat=True)
                .first()
            )
            positions[stage] = (last or 0) + 1
        made[(stage, key)] = review_services.exclusion_reason_create(
            review=review, actor=actor, stage=stage, label=text, position=positions[stage]
        )
        positions[stage] += 1
        labels.append(f"{text} ({tools.STAGE_LABELS[stage]})")
    return made, labels


def _matched(plan: _Plan, *, active: bool) -> list[str]:
    """The file's reasons this review has (in use, or retired), as "label (stage)"."""
    return sorted(
        {
            f"{r.label} ({tools.STAGE_LABELS[r.stage]})"
            for row in plan.rows
            for d in row.decisions
            for text in d.reasons
            if (r := plan.reasons.get((d.stage, text.strip().casefold()))) and r.active == active
        }
    )


_STAGE_ORDER = {tools.TA: 0, tools.FT: 1}


@dataclass
class _Tally:
    """The report's counts, per reviewer and round or stage, and every decision not written."""

    mapping: Mapping[str, str | None]
    groups: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)
    unwritten: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("read", "written", "not_written", "resolved", "votes"), 0
        )
    )
    duplicates: dict[str, int] = field(default_factory=lambda: {"rows": 0, "written": 0})
    reasons: dict[str, int] = field(default_factory=lambda: {"attached": 0, "fallback": 0})

    def add(self, row: _Row, d: tools.Decision, why: str) -> None:
        group = self.groups.setdefault(
            (d.reviewer, d.round, d.stage),
            {
                "reviewer": d.reviewer,
                "member": self.mapping.get(d.reviewer) if d.reviewer else "",
                "round": d.round,
                "stage": d.stage,
                "stage_label": tools.STAGE_LABELS.get(d.stage, d.stage),
                "read": 0,
                "written": 0,
                "not_written": 0,
                "why": {},
            },
        )
        group["read"] += 1
        self.totals["read"] += 1
        if why:
            group["not_written"] += 1
            self.totals["not_written"] += 1
            group["why"][why] = group["why"].get(why, 0) + 1
            if len(self.unwritten) < UNWRITTEN_KEPT:
                self.unwritten.append(
                    {
                        "record": row.record_id,
                        "target": row.target_id,
                        "row": row.line,
                        "reviewer": d.reviewer,
                        "round": d.round,
                        "stage": d.stage,
                        "decision": d.decision,
                        "reason": why,
                    }
                )
            return
        group["written"] += 1
        self.totals["written"] += 1
        self.totals["votes" if d.reviewer else "resolved"] += 1
        if row.target_id != row.record_id:
            self.duplicates["written"] += 1

    def as_report(self) -> dict[str, Any]:
        def order(g: dict[str, Any]) -> tuple:
            return (g["reviewer"].casefold(), g["round"], _STAGE_ORDER.get(g["stage"], 2))

        return {
            **self.totals,
            "groups": sorted(self.groups.values(), key=order),
            "unwritten": self.unwritten,
            "unwritten_kept": len(self.unwritten),
            "skipped": [{"record": u["record"], "reason": u["reason"]} for u in self.unwritten],
            "duplicates": self.duplicates,
        }


@dataclass
class _Writer:
    """Writes one record's decisions through the screening services, in the order they
    were made, and says for each why it is not written when it is not."""

    review: Review
    actor: Any
    plan: _Plan
    reasons: dict[tuple[str, str], ExclusionReason]
    fallback: ExclusionReason | None
    tally: _Tally

    def record(self, target: int, items: list[tuple[_Row, tools.Decision]]) -> None:
        items.sort(key=lambda item: (_STAGE_ORDER.get(item[1].stage, 2), item[1].round))
        done: dict[tuple[str, str], tuple[_Row, tools.Decision]] = {}
        for row, d in items:
            why = d.unwritten or self._not_to_write(target, d, done)
            reason = None
            if not why and d.decision == "exclude":
                reason, why = self._reason(d)
            if not why:
                why = self._write(target, d, reason)
                if not why:
                    done[(d.stage, d.reviewer)] = (row, d)
            self.tally.add(row, d, why)

    def _not_to_write(self, target: int, d: tools.Decision, done) -> str:
        who = d.reviewer
        if who and not self.plan.mapping.get(who):
            if who in self.plan.report.get("unmapped", ()):
                return f"{who} is not mapped to a member yet"
            return f"{who} is mapped to nobody (left out)"
        if (d.stage, who) in done:
            first, first_d = done[(d.stage, who)]
            same = "the same" if first_d.decision == d.decision else "another"
            whose = f"{who}'s" if who else "a final"
            return (
                f"record #{target} already has {whose} {same} decision from row "
                f"{first.line} of this file (this row is linked to it as a duplicate)"
            )
        return ""

    def _reason(self, d: tools.Decision) -> tuple[ExclusionReason | None, str]:
        reason = _attached(d, self.reasons)
        if reason is not None:
            self.tally.reasons["attached"] += 1
            return reason, ""
        if d.stage != tools.FT:
            return None, ""
        if self.fallback is None:
            return (
                None,
                "a full-text exclusion needs a reason: the file gives none of this review's",
            )
        self.tally.reasons["fallback"] += 1
        return self.fallback, ""

    def _write(self, target: int, d: tools.Decision, reason: ExclusionReason | None) -> str:
        label = self.plan.report["tool_label"]
        note = d.note
        # A vote keeps one reason: the tool's others stay in its note.
        others = [
            r
            for r in d.reasons
            if reason is None or r.strip().casefold() != reason.label.strip().casefold()
        ]
        if others:
            note = "; ".join(p for p in (note, f"{label} reasons: {', '.join(others)}") if p)
        try:
            if d.reviewer:
                screening_services.vote_cast(
                    review=self.review,
                    record_id=target,
                    stage=d.stage,
                    actor=self.plan.users[d.reviewer],
                    decision=d.decision,
                    reason_id=reason.pk if reason else None,
                    note=note[: screening_services.NOTE_MAX],
                    imported_from=label,
                )
            else:
                screening_services.resolution_import(
                    review=self.review,
                    record_id=target,
                    stage=d.stage,
                    actor=self.actor,
                    decision=d.decision,
                    imported_from=label,
                    reason_id=reason.pk if reason else None,
                    note=note,
                )
        except DomainError as exc:
            return _why(exc, d, self.review)
        return ""


def decisions_import(
    *,
    batch: ImportBatch,
    actor: Any,
    tool: str,
    reviewers: Mapping[str, Any] | None = None,
    covidence_list: str = "",
    ft_reason_id: Any = None,
    rayyan_rounds: str = tools.ROUNDS_LAST,
    create_reasons: bool = False,
    dry_run: bool = False,
    check_only: bool = False,
    progress: Callable[[float, str], None] | None = None,
    job_id: int | None = None,
) -> dict[str, Any]:
    """Import (or, with ``dry_run``, preview) the screening decisions of an imported batch
    exported from another tool, and say for every decision read whether it is written.

    A record's final decision (ASReview, Covidence) becomes a resolution marked as imported
    from the tool, by `actor`; per-reviewer decisions (Rayyan) become each mapped member's
    votes through `screening.services.vote_cast` (so agreement resolves and disagreement is
    a conflict, as if they had screened here), marked as imported in the vote history. A
    row linked as a duplicate carries its decisions to the record it was merged into.
    Rayyan's exclusion reasons attach to the exclusion votes when the review has a reason
    of that label (``create_reasons`` adds the missing ones); a full-text exclusion without
    one takes ``ft_reason_id``. A preview runs the same writes and rolls them back, so what
    it announces is what the import does. All or nothing: a bad file or mapping stores no
    decision. The import itself is kept as a `DecisionsImport` row naming the actor.
    ``check_only`` stops once the file, the mapping and the reasons are checked (raising
    what an import would refuse), before anything is written or tried.
    """
    if batch.status != ImportBatch.Status.IMPORTED:
        raise ConflictError("Import the records first; then their decisions.")
    if tool not in tools.TOOLS:
        raise DomainError("Choose the tool: asreview, rayyan or covidence.", field="tool")
    if tool == tools.RAYYAN and rayyan_rounds not in tools.RAYYAN_ROUNDS:
        raise DomainError("Say how Rayyan's rounds map: last or stages.", field="rayyan_rounds")
    if tool == tools.COVIDENCE and not covidence_list and dry_run:
        covidence_list = tools.covidence_list_from_filename(batch.filename)
    review = batch.review
    plan = _plan(
        batch=batch,
        tool=tool,
        reviewers=reviewers,
        covidence_list=covidence_list,
        rayyan_rounds=rayyan_rounds,
        dry_run=dry_run,
    )
    fallback = _fallback_reason(review, ft_reason_id)
    # A full-text exclusion without a reason would be refused one by one: say it up front.
    bare = _bare_ft_exclusions(plan, create_reasons)
    if bare and fallback is None and not dry_run:
        offer = " (or create the file's reasons)" if plan.new_reasons and not create_reasons else ""
        raise DomainError(
            f"{bare} full-text exclusions have no exclusion reason of this review: choose the "
            f"reason PRISMA counts for them{offer}.",
            field="ft_reason",
        )
    if check_only:
        return plan.report

    screening_services.items_sync(review, force=True)
    report = plan.report
    report.update(
        dry_run=dry_run,
        covidence_list=covidence_list if tool == tools.COVIDENCE else "",
        ft_reason=fallback.label if fallback else "",
        create_reasons=bool(create_reasons),
    )
    tally = _Tally(plan.mapping)
    counts: dict[str, int] = {}
    by_target: dict[int, list[tuple[_Row, tools.Decision]]] = {}
    for row in plan.rows:
        if row.target_id != row.record_id and row.decisions:
            tally.duplicates["rows"] += 1
        for d in row.decisions:
            by_target.setdefault(row.target_id, []).append((row, d))
            if not d.unwritten:
                counts[f"{d.stage}:{d.decision}"] = counts.get(f"{d.stage}:{d.decision}", 0) + 1
    try:
        with transaction.atomic(), screening_services.ranking_notes_batched():
            reasons = dict(plan.reasons)
            created: list[str] = []
            if create_reasons and plan.new_reasons:
                made, created = _reasons_create(
                    review=review, actor=actor, new_reasons=plan.new_reasons
                )
                reasons.update(made)
            writer = _Writer(review, actor, plan, reasons, fallback, tally)
            for i, (target, items) in enumerate(by_target.items()):
                if progress is not None:
                    progress(i / len(by_target), f"{i:,} of {len(by_target):,} records")
                writer.record(target, items)
            report.update(
                tally.as_report(),
                decisions=counts,
                reasons={
                    "matched": _matched(plan, active=True),
                    # A retired reason is not attached: the vote's note keeps its label.
                    "retired": _matched(plan, active=False),
                    "new": [
                        {"stage": stage, "label": text, "stage_label": tools.STAGE_LABELS[stage]}
                        for (stage, _), text in sorted(plan.new_reasons.items())
                    ],
                    "created": created,
                    **tally.reasons,
                },
            )
            if dry_run:
                raise _DryRun
            history = DecisionsImport.objects.create(
                review=review,
                batch=batch,
                actor=actor,
                tool=tool,
                options={
                    "reviewers": plan.mapping,
                    "covidence_list": covidence_list,
                    "rayyan_rounds": rayyan_rounds if tool == tools.RAYYAN else "",
                    "ft_reason": fallback.pk if fallback else None,
                    "create_reasons": bool(create_reasons),
                    "job": job_id,
                },
                report={k: v for k, v in report.items() if k != "skipped"},
                n_read=tally.totals["read"],
                n_written=tally.totals["written"],
                n_not_written=tally.totals["not_written"],
            )
            report["import_id"] = history.pk
    except _DryRun:
        pass
    return report
