"""Recompute every results row from the data embedded in an exported R script, through
analysis.stats, following the row definitions the script itself spells out."""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from analysis import stats
from analysis.exports import NUMERIC_RESULT_COLUMNS, r_script_data, results_records

# The numbers of a results row that R recomputes from the exported script.
R_COLUMNS = NUMERIC_RESULT_COLUMNS


def app_numbers(report) -> dict[str, dict]:
    """The app's results rows, by key, reduced to the numbers R recomputes."""
    return {rec["key"]: {c: rec[c] for c in R_COLUMNS} for rec in results_records(report)}


ADD = re.compile(r'^add\("(?P<key>[^"]+)", "(?P<label>(?:[^"\\]|\\.)*)", (?P<expr>.*)\)$')


def script_settings(script: str) -> dict:
    m = re.search(r'settings <- list\(method = "(\w+)", test = "(\w+)", level = ([\d.]+)\)', script)
    mins = dict(re.findall(r"^(min_studies|min_per_subgroup) <- (\d+)$", script, re.M))
    return {
        "method": m.group(1),
        "test": m.group(2),
        "level": float(m.group(3)),
        **{k: int(v) for k, v in mins.items()},
    }


def script_data(script: str) -> dict[str, list[dict]]:
    rows = list(csv.DictReader(io.StringIO(r_script_data(script))))
    out: dict[str, list[dict]] = {}
    for r in rows:
        r["yi"], r["vi"] = float(r["yi"]), float(r["vi"])
        out.setdefault(r["dataset"], []).append(r)
    return out


def _subset(expr: str, data: dict[str, list[dict]]) -> list[dict]:
    m = re.fullmatch(
        r'(\w+)\[\1\[\["(\w+)"\]\] (==|!=) "((?:[^"\\]|\\.)*)"(?: & \1\[\["\2"\]\] != "")?, \]',
        expr,
    )
    if m is None:
        return data.get(expr, [])
    d, col, op, val = m.groups()
    val = val.replace('\\"', '"').replace("\\\\", "\\")
    if op == "==":
        return [r for r in data[d] if r[col] == val]
    return [r for r in data[d] if r[col] not in (val, "")]


def _numbers(res) -> dict:
    return {
        "k": res.k,
        "estimate": res.estimate,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
        "I2": res.I2,
        "I2_low": res.I2_qprofile_ci_low,
        "I2_high": res.I2_qprofile_ci_high,
        "p": res.p,
        "pi_low": res.pi_low,
        "pi_high": res.pi_high,
    }


def recompute(script: str) -> dict[str, dict]:
    """key -> numbers, computed by analysis.stats from the script's data and row code."""
    s = script_settings(script)
    data = script_data(script)
    opts = {"method": s["method"], "test": s["test"], "level": s["level"]}
    out: dict[str, dict] = {}
    qb: tuple[float, float] | None = None
    for line in script.splitlines():
        if line.startswith("qb <- between("):
            m = re.fullmatch(r'qb <- between\((\w+), "(\w+)", c\((.*)\)\)', line)
            d, col, levels = m.group(1), m.group(2), re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(3))
            rows = [r for r in data[d] if r[col] in levels]
            res = stats.subgroup_analysis(
                [r["yi"] for r in rows], [r["vi"] for r in rows], [r[col] for r in rows], **opts
            )
            qb = (res.Q_between, res.Q_between_p)
            continue
        m = ADD.match(line)
        if not m:
            continue
        key, expr = m.group("key"), m.group("expr")
        entry: dict = {}
        if expr.startswith("pool("):
            inner, min_name = re.fullmatch(r"pool\((.*), (\w+)\)", expr).groups()
            rows = _subset(inner, data)
            if len(rows) >= max(2, s[min_name]):
                entry = _numbers(
                    stats.rma([r["yi"] for r in rows], [r["vi"] for r in rows], **opts)
                )
            else:
                entry = {"k": len(rows)}
        elif expr == "numbers(tf)":
            rows = data["main"]
            tf = stats.trimfill([r["yi"] for r in rows], [r["vi"] for r in rows], **opts)
            entry = _numbers(tf.model)
        elif expr == "outliers_excluded(main)":
            rows = data["main"]
            res = stats.find_outliers([r["yi"] for r in rows], [r["vi"] for r in rows], **opts)
            entry = _numbers(res.model) if res.outliers else {"k": len(rows)}
        elif expr.startswith("empty("):
            entry = {"k": int(re.match(r"empty\((\d+)\)", expr).group(1))}
            if "p_between" in expr:
                entry["Q_between"], entry["p_between"] = qb
        out[key] = entry
    return out


def assert_matches(expected: dict[str, dict], records: list[dict], *, rel: float = 1e-9) -> None:
    """``records``: results_records(report) or the CSV the R script wrote."""
    by_key = {r["key"]: r for r in records}
    assert set(expected) == set(by_key), set(expected) ^ set(by_key)
    for key, numbers in expected.items():
        row = by_key[key]
        for name, value in numbers.items():
            got = row[name]
            got = None if got in ("", "NA", None) else float(got)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                assert got is None, (key, name, got)
            else:
                assert got is not None and np.isclose(got, value, rtol=rel, atol=1e-10), (
                    key,
                    name,
                    got,
                    value,
                )


def rscript_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(metafor)"], capture_output=True)
    return probe.returncode == 0


def run_r(script: str, tmp: Path) -> list[dict]:
    path = tmp / "analysis.R"
    path.write_text(script, encoding="utf-8")
    out = tmp / "results.csv"
    proc = subprocess.run(
        ["Rscript", str(path), str(out)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    with out.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
