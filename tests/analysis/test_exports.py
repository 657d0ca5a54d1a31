"""Exports: data set and results (CSV/XLSX), and the R script that reproduces the table."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from analysis.exports import data_csv, r_script, results_csv, results_records, results_xlsx
from analysis.report import Dataset, ReportInput, Settings, SubgroupVar, report_compute
from tests.analysis import rcheck
from tests.analysis.test_report import effects


def make_report(settings: Settings | None = None):
    main = effects(18, seed=7)
    # an odd study label (quotes, comma) must survive the R round trip
    from dataclasses import replace

    main = (replace(main[0], label='O\'Connell "PREP", 2018'), *main[1:])
    return report_compute(
        ReportInput(
            "Personal recovery",
            Dataset("main", "Post-treatment", main),
            specific=(
                Dataset("outcome1", "Hope", effects(6, 8)),
                Dataset("outcome2", "Empowerment", effects(2, 9)),
            ),
            windows=(Dataset("window1", "6 to 9 months", effects(5, 10)),),
            subgroup_vars=(SubgroupVar("diagnosis", "Diagnosis"), SubgroupVar("format", "Format")),
            settings=settings or Settings(),
        )
    )


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(method="DL", hartung_knapp=False),
        Settings(method="FE", hartung_knapp=False),
        Settings(method="PM", min_studies=3),
    ],
)
def test_r_script_data_through_the_engine_equals_the_table(settings):
    report = make_report(settings)
    script = r_script(report)
    expected = rcheck.recompute(script)
    rcheck.assert_matches(expected, results_records(report), rel=1e-12)
    # every row of the table is in the script
    assert [r.key for r in report.rows()] == list(expected)


@pytest.mark.r
def test_r_script_runs_in_r_and_reproduces_every_row(tmp_path):
    if not rcheck.rscript_available():
        pytest.skip("Rscript with metafor is not installed")
    report = make_report()
    r_rows = rcheck.run_r(r_script(report), tmp_path)
    expected = rcheck.app_numbers(report)
    rcheck.assert_matches(expected, r_rows, rel=1e-6)


def test_data_csv_has_every_dataset_and_full_precision():
    report = make_report()
    rows = list(csv.DictReader(io.StringIO(data_csv(report))))
    assert {r["dataset"] for r in rows} == {"main", "outcome1", "outcome2", "window1"}
    main = [r for r in rows if r["dataset"] == "main"]
    assert len(main) == 18
    first = report.input.main.effects[0]
    assert float(main[0]["yi"]) == first.yi  # exact round trip
    assert main[0]["study"] == first.label
    assert {"diagnosis", "format", "rob", "n_intervention", "n_control", "sei"} <= set(main[0])


def test_results_csv_and_xlsx_carry_the_table():
    report = make_report()
    rows = list(csv.DictReader(io.StringIO(results_csv(report))))
    assert rows[0]["key"] == "all" and rows[0]["row"] == "All studies pooled"
    assert float(rows[0]["estimate"]) == report.row("all").numbers.estimate
    wb = load_workbook(io.BytesIO(results_xlsx(report)))
    assert wb.sheetnames == ["Table", "Numbers", "Data"]
    table = list(wb["Table"].iter_rows(values_only=True))
    assert table[2][1:4] == ("k", "g (95% CI)", "I² (95% CI)")
    pooled = next(r for r in table if r[0] == "All studies pooled")
    from analysis.exports import formatted_cells

    cells = formatted_cells(report.row("all"))
    assert pooled[1:6] == (cells["k"], cells["g"], cells["i2"], cells["p"], cells["pi"])
    numbers = list(wb["Numbers"].iter_rows(values_only=True))
    assert numbers[1][0] == "all" and numbers[1][4] == report.row("all").numbers.estimate
