"""The demo's certainty step: both analyses rated, one SoF table whose absolute effects and
counts are those of the analyses (the hand formula for the Peto odds ratio)."""

from __future__ import annotations

import io
import math

import pytest
from django.core.management import call_command

from analysis import selectors as analysis_selectors
from analysis.certainty import rules, selectors
from analysis.certainty.demo import SOF_TITLE, demo_certainty
from analysis.certainty.models import CertaintyAssessment, SofTable
from analysis.demo import demo_analysis
from reviews.demo import DEMO_SLUG
from reviews.models import Review


@pytest.mark.django_db
def test_demo_rates_its_analyses_and_builds_one_sof_table():
    call_command("load_demo", stdout=io.StringIO())
    review = Review.objects.get(slug=DEMO_SLUG)
    lead = review.memberships.get(is_lead=True).user
    hba1c, mi = demo_analysis(review, "hba1c"), demo_analysis(review, "mi")
    assert CertaintyAssessment.objects.filter(analysis__in=[hba1c, mi]).count() == 2
    table = SofTable.objects.get(review=review, title=SOF_TITLE)
    view = selectors.sof_view(table)
    assert [line.row.assessment.analysis for line in view.lines] == [hba1c, mi]
    assert not view.any_stale
    assert demo_certainty(review, {"lead": lead}) is None  # idempotent

    # Myocardial infarction: Peto OR, assumed risk from the control arms
    report, _ = analysis_selectors.analysis_report(mi)
    effects = report.input.main.effects
    acr = sum(e.events[1] for e in effects) / sum(e.n_control for e in effects)
    odds_ratios = [
        math.exp(x) for x in (report.main.estimate, report.main.ci_low, report.main.ci_high)
    ]

    def per_1000(or_: float) -> float:  # CR = ACR × OR / (1 − ACR + ACR × OR)
        return 1000 * acr * or_ / (1 - acr + acr * or_)

    line = view.lines[1]
    assert line.absolute.assumed == pytest.approx(1000 * acr)
    assert (
        line.absolute.corresponding,
        line.absolute.corresponding_low,
        line.absolute.corresponding_high,
    ) == pytest.approx(tuple(per_1000(x) for x in odds_ratios))
    participants = sum(e.n_intervention + e.n_control for e in effects)
    assert line.participants == f"{round(participants):,} ({report.main.k} RCTs)"
    assert report.main.k == 38
    # the demo lead's override says why, in the table's footnotes
    assert any(f.text.startswith("Indirectness") for f in view.footnotes)

    # HbA1c: a mean difference with its counts
    report, _ = analysis_selectors.analysis_report(hba1c)
    line = view.lines[0]
    assert line.continuous.startswith(f"MD {rules.fmt(report.main.estimate)} ")
    assert line.statement.startswith("Oral glucose-lowering drugs ")
    assert "HbA1c (%)." in line.statement
    assert line.participants.endswith(f"({report.main.k} RCTs)")
