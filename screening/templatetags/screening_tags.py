"""Template helpers of the screening pages."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from screening.selectors import PairAgreement

register = template.Library()


def fixed(value: float | None, places: int) -> str:
    """``value|floatformat:places`` (``places`` > 0) as this site shows it (en-gb: a point,
    no grouping), without the filter's per-call cost (localisation lookups): the same
    decimal rounding, half up on the value's shortest representation, and no minus sign
    on a value that rounds to zero."""
    if value is None:
        return ""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)  # as the filter shows NaN and infinities
    rounded = Decimal(repr(value)).quantize(_STEPS[places], ROUND_HALF_UP)
    return f"{rounded if rounded else abs(rounded):f}"


_STEPS = {places: Decimal(1).scaleb(-places) for places in range(1, 7)}


@register.simple_tag
def agreement_pair_rows(pairs: Sequence[PairAgreement]) -> SafeString:
    """The reviewer-pair rows of the agreement table.

    Built here rather than by a template loop: 20 reviewers make 190 pairs, and the loop's
    ~2,000 variable lookups took more CPU than the rest of the screening overview. One
    f-string a row (names escaped, numbers formatted by `fixed`): ``format_html_join``
    and ``floatformat`` cost 5 ms for 190 rows, most of the overview's own CPU.
    """
    rows = []
    for p in pairs:
        k, (row1, row2) = p.kappa, p.table
        kappa = fixed(k.kappa, 2) if k.kappa is not None else "—"
        rows.append(
            f"<tr><td>{escape(p.rater1)} &amp; {escape(p.rater2)}</td>"
            f'<td class="text-end">{k.n:d}</td><td class="text-center">'
            f"{row1[0]:d} / {row1[1]:d} / {row2[0]:d} / {row2[1]:d}</td>"
            f'<td class="text-end">{fixed(k.percent_agreement, 1)} %</td>'
            f'<td class="text-end">{kappa}</td></tr>'
        )
    return mark_safe("".join(rows))  # noqa: S308 - names escaped, the rest are numbers
