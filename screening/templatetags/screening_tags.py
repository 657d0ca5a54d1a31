"""Template helpers of the screening pages."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from screening.selectors import PairAgreement

register = template.Library()


@register.simple_tag
def agreement_pair_rows(pairs: Sequence[PairAgreement]) -> SafeString:
    """The reviewer-pair rows of the agreement table.

    Built here rather than by a template loop: 20 reviewers make 190 pairs, and the loop's
    ~2,000 variable lookups took more CPU than the rest of the screening overview.
    """
    return format_html_join(
        "",
        '<tr><td>{} &amp; {}</td><td class="text-end">{}</td><td class="text-center">'
        '{} / {} / {} / {}</td><td class="text-end">{} %</td><td class="text-end">{}</td></tr>',
        (
            (
                p.rater1,
                p.rater2,
                p.kappa.n,
                *p.table[0][:2],
                *p.table[1][:2],
                floatformat(p.kappa.percent_agreement, 1),
                floatformat(p.kappa.kappa, 2) if p.kappa.kappa is not None else "—",
            )
            for p in pairs
        ),
    )
