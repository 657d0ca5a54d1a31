"""Report benchmark: a 30-study analysis with every block of the table.

Blocks: all studies; two subgroup variables (3 and 2 levels, Q-between); two specific
outcomes; trim-and-fill with Egger's test; outliers excluded; the four risk-of-bias rows
with Q-between; two long-term windows. Measured separately:

* compute  - every row through analysis.stats (incl. Q-profile I² CIs), cold cache
* page     - compute + methods paragraph + rendering the report template (what the report
             page's server time is on a cache miss, minus the ORM read)
* cached   - page render when the report comes from the cache (the usual request)
* forest / funnel - SVG rendering of the plots (separate requests, cached afterwards), and
  the PNG and PDF downloads

Target: page < 1 s for 30 studies. Prints the median of N runs (wall and CPU seconds).

Usage: python benchmarks/report_bench.py [--studies 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402

from analysis.exports import formatted_cells  # noqa: E402
from analysis.figures import forest_figure, funnel_figure, method_text  # noqa: E402
from analysis.methods import methods_paragraph  # noqa: E402
from analysis.models import TAU2_CHOICES, Analysis, TimepointWindow  # noqa: E402
from analysis.plots import figure_to_bytes  # noqa: E402
from analysis.report import (  # noqa: E402
    Dataset,
    ReportInput,
    Settings,
    StudyEffect,
    SubgroupVar,
    report_compute,
)
from reviews.models import Review  # noqa: E402


def effects(k: int, seed: int) -> tuple[StudyEffect, ...]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(k):
        n1, n2 = rng.integers(20, 200, 2)
        g = float(rng.normal(0.25, 0.3))
        v = 1 / n1 + 1 / n2 + g * g / (2 * (n1 + n2))
        out.append(
            StudyEffect(
                i + 1,
                f"Author{i + 1} et al. {1995 + i % 28}",
                g,
                float(v),
                float(n1),
                float(n2),
                "Depressive symptoms (BDI-II)",
                "Post-treatment",
                12.0,
                {
                    "diagnosis": ("SMI", "Depression", "Mixed")[i % 3],
                    "format": ("Group", "One-to-one")[i % 2],
                },
                ("low", "some_concerns", "high", "high")[i % 4],
            )
        )
    return tuple(out)


def report_input(k: int) -> ReportInput:
    return ReportInput(
        "Clinical recovery",
        Dataset("main", "Post-treatment", effects(k, 1)),
        specific=(
            Dataset("outcome1", "Depressive symptoms", effects(max(5, k * 2 // 3), 2)),
            Dataset("outcome2", "Anxiety symptoms", effects(max(5, k // 3), 3)),
        ),
        windows=(
            Dataset("window1", "6 to 9 months", effects(max(5, k // 2), 4)),
            Dataset("window2", "12 to 18 months", effects(max(5, k // 4), 5)),
        ),
        subgroup_vars=(SubgroupVar("diagnosis", "Diagnosis"), SubgroupVar("format", "Format")),
        settings=Settings(),
    )


def render_page(report) -> str:
    review = Review(slug="bench", title="Benchmark")
    window = TimepointWindow(label="Post-treatment", kind="post")
    analysis = Analysis(pk=1, review=review, title="Clinical recovery", window=window)
    blocks = [
        {"block": b, "rows": [{"row": r, "cells": formatted_cells(r)} for r in b.rows]}
        for b in report.blocks
    ]

    class Data:
        left_out = ()
        partial = ()

    context = {
        "review": review,
        "analysis": analysis,
        "report": report,
        "data": Data(),
        "blocks": blocks,
        "methods": methods_paragraph(report),
        "method_text": method_text(report),
        "query": "",
        "query_amp": "",
        "tau2_choices": TAU2_CHOICES,
        "current_method": "REML",
        "current_hk": True,
        "has_forest": True,
        "has_funnel": True,
        "saved": True,
        "can_edit": True,
    }
    return render_to_string("analysis/_report_body.html", context)


def timed(fn, runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    inp = report_input(args.studies)
    report = report_compute(inp)  # warm imports and numpy
    render_page(report)
    n_rows = len(report.rows())
    results = {
        "compute": timed(lambda: report_compute(inp), args.runs),
        "page (compute + render)": timed(lambda: render_page(report_compute(inp)), args.runs),
        "page from cache": timed(lambda: render_page(report), args.runs),
        "forest SVG": timed(lambda: figure_to_bytes(forest_figure(report), "svg"), args.runs),
        "forest SVG by subgroup": timed(
            lambda: figure_to_bytes(forest_figure(report, "diagnosis"), "svg"), args.runs
        ),
        "funnel SVG": timed(lambda: figure_to_bytes(funnel_figure(report), "svg"), args.runs),
        # The downloads: over ~1 s they are prepared by a job (analysis.tasks) instead.
        "forest PNG": timed(lambda: figure_to_bytes(forest_figure(report), "png"), args.runs),
        "forest PDF": timed(lambda: figure_to_bytes(forest_figure(report), "pdf"), args.runs),
        "funnel PNG": timed(lambda: figure_to_bytes(funnel_figure(report), "png"), args.runs),
        "funnel PDF": timed(lambda: figure_to_bytes(funnel_figure(report), "pdf"), args.runs),
    }
    print(
        f"Report for {args.studies} studies, {n_rows} table rows in {len(report.blocks)} blocks "
        f"(median of {args.runs} runs)"
    )
    print(f"{'step':<26}{'wall s':>10}{'cpu s':>10}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<26}{wall:>10.3f}{cpu:>10.3f}")
    page = results["page (compute + render)"][0]
    print(f"target: page < 1 s -> {'met' if page < 1 else 'NOT met'} ({page:.3f} s)")


if __name__ == "__main__":
    main()
