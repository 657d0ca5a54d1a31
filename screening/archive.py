"""Screening's tables in a review archive (registered in ScreeningConfig.ready)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from reviews.archive import (
    Table,
    UserExtra,
    register_exclusion,
    register_tables,
    register_user_extra,
)

from . import models as m

RANKING = "screening.rankingsnapshot"
RECORD = "reviews.record"


def _item_encode(row: dict[str, Any], ids) -> dict[str, Any]:
    """Relevance is ``ranking id + fraction`` (ranking.priorities_apply): keep it as the
    ranking's archive id and the fraction, so the queue order survives new ids."""
    value = row["relevance"]
    if value is None or value <= m.NOT_RANKED:
        row["relevance"] = None
        return row
    generation = math.floor(value)
    # 9 digits separate the head's 2,000 fractions and survive the float round trip
    row["relevance"] = {"ranking": ids.map(RANKING, generation), "at": round(value - generation, 9)}
    return row


def _item_decode(row: dict[str, Any], ids) -> dict[str, Any]:
    value = row.get("relevance")
    if value is None:
        row["relevance"] = m.NOT_RANKED
    elif isinstance(value, dict) and isinstance(value.get("at"), int | float):
        generation = ids.map(RANKING, value.get("ranking")) or 0
        row["relevance"] = generation + float(value["at"])
    else:
        row["relevance"] = "invalid"  # the field's own check names the row
    return row


def _ranking_encode(row: dict[str, Any], ids) -> dict[str, Any]:
    payload = dict(row["payload"])
    if isinstance(payload.get("order"), list):
        payload["order"] = ids.map_list(RECORD, payload["order"])
    row["payload"] = payload
    return row


def _ranking_decode(row: dict[str, Any], ids) -> dict[str, Any]:
    payload = row.get("payload")
    if isinstance(payload, dict) and isinstance(payload.get("order"), list):
        row["payload"] = {**payload, "order": ids.map_list(RECORD, payload["order"])}
    return row


def _keymaps(users: Iterable[Any]) -> dict[int, Any]:
    prefs = m.ScreeningPreference.objects.filter(user__in=list(users)).exclude(keymap={})
    return {pref.user_id: pref.keymap for pref in prefs}


def _keymap_load(user: Any, keymap: Any, created: bool) -> None:
    # an existing user's own choice since the export wins
    if isinstance(keymap, dict) and keymap:
        m.ScreeningPreference.objects.get_or_create(user=user, defaults={"keymap": keymap})


def register() -> None:
    register_tables(
        Table(
            m.RankingSnapshot,
            "review",
            encode=_ranking_encode,
            decode=_ranking_decode,
            depends=(RECORD,),
        ),
        Table(
            m.ScreeningItem, "review", encode=_item_encode, decode=_item_decode, depends=(RANKING,)
        ),
        Table(m.Vote, "review"),
        Table(m.VoteChange, "review"),
        Table(m.Resolution, "review"),
        Table(m.FullText, "review"),
        Table(m.FullTextChange, "review"),
        Table(m.RecordCorrection, "review"),
        Table(m.PrismaExtra, "review"),
        Table(m.BlindingChange, "review"),
        Table(m.StoppingRule, "review"),
        Table(m.StoppingRuleChange, "review"),
    )
    register_exclusion("screening.claim", "claims are leases that expire within minutes")
    register_exclusion(
        "screening.rankingrefitstate", "refit requests are queue state; the next decision refits"
    )
    register_user_extra(UserExtra("keymap", _keymaps, _keymap_load))
