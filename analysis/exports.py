"""Exports of a report: the analysis data set (CSV), the results table (CSV, XLSX) and an
R script that reproduces every row of the table with metafor.

The R script embeds the data set and the settings and writes its results in the same
columns as :func:`results_records`, so a reader (and the test suite) can compare the two.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from . import measures
from .figures import method_text
from .formatting import fmt_estimate_ci, fmt_i2, fmt_p, fmt_range
from .report import Report, Row

RESULT_COLUMNS = (
    "key",
    "block",
    "row",
    "k",
    "estimate",
    "ci_low",
    "ci_high",
    "I2",
    "I2_low",
    "I2_high",
    "p",
    "pi_low",
    "pi_high",
    "Q_between",
    "p_between",
    "note",
)
NUMERIC_RESULT_COLUMNS = RESULT_COLUMNS[3:15]


# --------------------------------------------------------------------------- data set


def data_columns(report: Report) -> list[str]:
    keys = [v.key for v in report.input.subgroup_vars]
    return [
        "dataset",
        "dataset_label",
        "study_id",
        "study",
        "outcome",
        "timepoint",
        "weeks",
        "n_intervention",
        "n_control",
        *(("ai", "ci") if report.settings.measure in measures.DICHOTOMOUS else ()),
        "yi",
        "vi",
        "sei",
        *keys,
        "rob",
        "note",
    ]


def data_records(report: Report) -> list[dict[str, Any]]:
    """One record per study and dataset (main, each specific outcome, each window)."""
    keys = [v.key for v in report.input.subgroup_vars]
    out = []
    for d in report.input.datasets:
        for e in d.effects:
            out.append(
                {
                    "dataset": d.key,
                    "dataset_label": d.label,
                    "study_id": e.study_id,
                    "study": e.label,
                    "outcome": e.outcome,
                    "timepoint": e.timepoint,
                    "weeks": e.weeks,
                    "n_intervention": e.n_intervention,
                    "n_control": e.n_control,
                    "ai": e.events[0] if e.events else None,
                    "ci": e.events[1] if e.events else None,
                    "yi": e.yi,
                    "vi": e.vi,
                    "sei": e.se,
                    **{k: e.subgroups.get(k, "") for k in keys},
                    "rob": e.rob,
                    "note": e.note,
                }
            )
    return out


def _csv(columns: list[str] | tuple[str, ...], records: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: _cell(rec.get(k)) for k in columns})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        return repr(v)  # full precision: the R script must reproduce the numbers exactly
    return v


def data_csv(report: Report) -> str:
    return _csv(data_columns(report), data_records(report))


# --------------------------------------------------------------------------- results


def _block_of(report: Report) -> dict[str, str]:
    return {r.key: b.title for b in report.blocks for r in b.rows}


def results_records(report: Report) -> list[dict[str, Any]]:
    """Every table row with full-precision numbers (None where not estimated)."""
    blocks = _block_of(report)
    out = []
    for r in report.rows():
        n = r.numbers
        out.append(
            {
                "key": r.key,
                "block": blocks[r.key],
                "row": r.label,
                "k": r.k,
                "estimate": n.estimate if n else None,
                "ci_low": n.ci_low if n else None,
                "ci_high": n.ci_high if n else None,
                "I2": n.I2 if n else None,
                "I2_low": n.I2_low if n else None,
                "I2_high": n.I2_high if n else None,
                "p": n.p if n else None,
                "pi_low": n.pi_low if n else None,
                "pi_high": n.pi_high if n else None,
                "Q_between": r.Q_between,
                "p_between": r.p_between,
                "note": r.note,
            }
        )
    return out


def results_csv(report: Report) -> str:
    return _csv(RESULT_COLUMNS, results_records(report))


def formatted_cells(r: Row, measure: str = "SMD") -> dict[str, str]:
    """The journal-formatted cells of a row (as on the page); ratios back-transformed."""
    n = r.numbers
    return {
        "k": str(r.k) if r.kind != "heading" or r.k else "",
        "g": fmt_estimate_ci(n.estimate, n.ci_low, n.ci_high, measure) if n else "",
        "i2": fmt_i2(n.I2, n.I2_low, n.I2_high) if n else "",
        "p": fmt_p(n.p) if n else "",
        "pi": fmt_range(n.pi_low, n.pi_high) if n else "",
        "p_between": fmt_p(r.p_between) if r.p_between is not None else "",
    }


def results_xlsx(report: Report) -> bytes:
    """Sheet "Table": the journal layout; sheet "Numbers": full precision; "Data"."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    wb = Workbook()
    ws = wb.active
    ws.title = "Table"
    thin = Side(style="thin", color="000000")
    ws.append([f"{report.input.title}: {report.input.main.label} — {report.input.effect_label}"])
    ws["A1"].font = Font(bold=True, size=12)
    ws.append([method_text(report)])
    ws["A2"].font = Font(italic=True, color="555555")
    header = [
        "",
        "k",
        f"{measures.SHORT[report.settings.measure]} (95% CI)",
        "I² (95% CI)",
        "p",
        "95% PI",
        "p subgroup difference",
    ]
    ws.append(header)
    for cell in ws[3]:
        cell.font = Font(bold=True)
        cell.border = Border(top=thin, bottom=thin)
        cell.alignment = Alignment(horizontal="center" if cell.column > 1 else "left")
    for block in report.blocks:
        ws.append([block.title])
        ws.cell(ws.max_row, 1).font = Font(bold=True, italic=True)
        for r in block.rows:
            c = formatted_cells(r, report.settings.measure)
            label = ("    " if r.indent else "") + r.label
            if not r.numbers and r.note and r.kind != "heading":
                values = [label, c["k"], r.note, "", "", "", c["p_between"]]
            else:
                values = [label, c["k"], c["g"], c["i2"], c["p"], c["pi"], c["p_between"]]
            ws.append(values)
            if r.kind == "heading":
                ws.cell(ws.max_row, 1).font = Font(bold=True)
    for cell in ws[ws.max_row]:
        cell.border = Border(bottom=thin)
    ws.append([])
    for block in report.blocks:
        if block.footnote:
            ws.append([f"{block.title}: {block.footnote}"])
    ws.column_dimensions["A"].width = 46
    for col, width in zip("BCDEFG", (6, 22, 16, 9, 18, 12), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=4, min_col=2, max_col=7):
        for cell in row:
            cell.alignment = Alignment(horizontal="center")

    numbers = wb.create_sheet("Numbers")
    numbers.append(list(RESULT_COLUMNS))
    for rec in results_records(report):
        numbers.append([rec[c] for c in RESULT_COLUMNS])
    if report.model is not None:
        model = wb.create_sheet("Model")
        model.append([report.model.title, report.model.error])
        model.append(list(MODEL_COLUMNS))
        for rec in model_records(report):
            model.append([rec[c] for c in MODEL_COLUMNS])
    data = wb.create_sheet("Data")
    cols = data_columns(report)
    data.append(cols)
    for rec in data_records(report):
        data.append([rec[c] for c in cols])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- model section

MODEL_COLUMNS = ("term", "b", "se", "ci_low", "ci_high", "stat", "df", "p")
MODEL_EXTRA = ("sigma2_level3", "sigma2_level2", "tau2", "QE", "QE_p", "QM", "QM_p", "logLik")


def model_records(report: Report) -> list[dict[str, Any]]:
    """The model section's coefficients, then one row per model statistic (term = name)."""
    section = report.model
    if section is None or section.result is None:
        return []
    res = section.result
    out: list[dict[str, Any]] = []
    for i, name in enumerate(res.names):
        out.append(
            {
                "term": name,
                "b": res.b[i],
                "se": res.se[i],
                "ci_low": res.ci_low[i],
                "ci_high": res.ci_high[i],
                "stat": res.stat[i],
                "df": None if res.df is None else res.df[i],
                "p": res.p[i],
            }
        )
    extra = {
        "sigma2_level3": res.sigma2[0] if res.sigma2 else None,
        "sigma2_level2": res.sigma2[1] if res.sigma2 else None,
        "tau2": res.tau2,
        "QE": res.QE,
        "QE_p": res.QE_p,
        "QM": res.QM,
        "QM_p": res.QM_p,
        "logLik": res.logLik,
    }
    for name in MODEL_EXTRA:
        if extra[name] is not None:
            out.append(dict.fromkeys(MODEL_COLUMNS) | {"term": name, "b": extra[name]})
    return out


def model_csv(report: Report) -> str:
    return _csv(MODEL_COLUMNS, model_records(report))


def model_data_csv(report: Report) -> str:
    """The model's effect sizes: cluster (study), es, yi, vi and the moderators."""
    section = report.model
    if section is None:
        return ""
    keys = [m.key for m in section.moderators]
    records = []
    counts: dict[int, int] = {}
    for e in section.effects:
        counts[e.study_id] = counts.get(e.study_id, 0) + 1
        records.append(
            {
                "study": e.study_id,
                "label": e.study,
                "es": counts[e.study_id],
                "yi": e.yi,
                "vi": e.vi,
            }
            | {k: e.values[k] for k in keys}
        )
    return _csv(["study", "label", "es", "yi", "vi", *keys], records)


def _r_model(report: Report) -> list[str]:
    """R lines fitting the model section as metafor (and clubSandwich) do."""
    section = report.model
    if section is None:
        return []
    out = [f"# --- {section.title}"]
    if section.result is None:
        out.append(f"# Not fitted: {section.error}")
        return out
    numeric = [m.key for m in section.moderators if m.kind == "numeric"]
    classes = ", ".join(
        f"{c} = {_r_str('numeric' if c in ('study', 'es', 'yi', 'vi', *numeric) else 'character')}"
        for c in ["study", "label", "es", "yi", "vi", *[m.key for m in section.moderators]]
    )
    out.append(
        'model_dat <- read.csv(text = r"---(\n'
        + model_data_csv(report)
        + f')---", stringsAsFactors = FALSE, colClasses = c({classes}))'
    )
    mods = " + ".join(m.key for m in section.moderators) or "1"
    method, test = _r_str(section.method), _r_str(section.test)
    if section.kind == "three_level":
        out.append(
            f"model <- rma.mv(yi, vi, mods = ~ {mods}, random = ~ 1 | study/es, "
            f"data = model_dat, method = {method}, test = {test}, level = settings$level)"
        )
    else:
        out.append(
            f"model <- rma(yi, vi, mods = ~ {mods}, data = model_dat, method = {method}, "
            f"test = {test}, level = settings$level)"
        )
    out.append("fitted <- model")
    if section.robust:
        out.append("suppressPackageStartupMessages(library(clubSandwich))")
        out.append("model <- robust(model, cluster = model_dat$study, clubSandwich = TRUE)")
    out.append(
        "model_results <- data.frame(term = rownames(model$beta), b = as.numeric(model$beta), "
        "se = model$se, ci_low = model$ci.lb, ci_high = model$ci.ub, stat = model$zval,\n"
        "  df = if (is.null(model$ddf) || all(is.na(model$ddf))) NA else "
        "rep_len(model$ddf, length(model$beta)), p = model$pval)"
    )
    extra = (
        "c(sigma2_level3 = if (is.null(fitted$sigma2)) NA else fitted$sigma2[1],\n"
        "  sigma2_level2 = if (is.null(fitted$sigma2)) NA else fitted$sigma2[2],\n"
        '  tau2 = if (inherits(fitted, "rma.mv")) NA else fitted$tau2, QE = fitted$QE, '
        "QE_p = fitted$QEp, QM = model$QM, QM_p = model$QMp, logLik = as.numeric(logLik(fitted)))"
    )
    out.append(f"model_extra <- {extra}")
    out.append(
        "model_extra <- model_extra[!is.na(model_extra)]\n"
        "model_results <- rbind(model_results, data.frame(term = names(model_extra), "
        "b = as.numeric(model_extra), se = NA, ci_low = NA, ci_high = NA, stat = NA, df = NA, "
        "p = NA))"
    )
    out.append("")
    return out


# --------------------------------------------------------------------------- R script


def _r_str(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _r_subset(r: Row) -> str:
    d = r.dataset
    if r.where is None:
        return d
    col, val = _r_str(r.where.column), _r_str(r.where.value)
    if r.where.negate:
        return f'{d}[{d}[[{col}]] != {val} & {d}[[{col}]] != "", ]'
    return f"{d}[{d}[[{col}]] == {val}, ]"


R_HEADER = """\
# Reviewflow: {title} ({window})
# Reproduces every row of the results table with metafor (tested with metafor 3.8).
# Run: Rscript this_file.R [results.csv]
# Settings: {method_text}; level {level}%.
# I² and its 95% CI are metafor's (Q-profile, confint()); the PI is predict()'s.
# Rows with fewer studies than the minimum to pool have only k.

suppressPackageStartupMessages(library(metafor))

settings <- list(method = {method}, test = {test}, level = {level})
# Mantel-Haenszel / Peto pool the 2x2 tables; iv_method is the inverse-variance model
pooling <- list(measure = {measure}, method = {pooling}, iv_method = {iv_method})
min_studies <- {min_studies}
min_per_subgroup <- {min_per_subgroup}

# One row per study and dataset; yi = {yi_text},
# vi = its sampling variance. Datasets: {datasets}.
dat <- read.csv(text = r"---(
{csv})---", stringsAsFactors = FALSE, na.strings = "NA", colClasses = c({col_classes}))
"""

R_YI_TEXT = {
    "SMD": "Hedges' g (positive favours the intervention)",
    "MD": "mean difference (intervention minus control)",
    "OR": "log odds ratio (escalc, 1/2 added to zero cells); ai, ci events per arm",
    "RR": "log risk ratio (escalc, 1/2 added to zero cells); ai, ci events per arm",
    "RD": "risk difference (escalc, 1/2 added to zero cells); ai, ci events per arm",
}

R_FUNCTIONS = r"""
# inverse variance on yi/vi (also the model of the subgroup test, trim-and-fill and outliers
# when the table is pooled by Mantel-Haenszel or Peto, which only exist for the main rows)
fit_iv <- function(d) {
  rma(yi, vi, data = d, method = pooling$iv_method, test = settings$test, level = settings$level)
}

fit <- function(d) {
  if (pooling$method == "MH") {
    return(rma.mh(measure = pooling$measure, ai = ai, n1i = n_intervention, ci = ci,
                  n2i = n_control, data = d, level = settings$level))
  }
  if (pooling$method == "PETO") {
    return(rma.peto(ai = ai, n1i = n_intervention, ci = ci, n2i = n_control, data = d,
                    level = settings$level))
  }
  fit_iv(d)
}

numbers <- function(res, k = res$k) {
  if (inherits(res, c("rma.mh", "rma.peto"))) {
    # common-effect MH / Peto: no tau2, hence no Q-profile CI of I2 and no PI
    return(data.frame(k = k, estimate = as.numeric(coef(res)[1]), ci_low = res$ci.lb,
                      ci_high = res$ci.ub, I2 = res$I2, I2_low = NA, I2_high = NA, p = res$pval,
                      pi_low = NA, pi_high = NA))
  }
  # metafor has no heterogeneity CI for a common-effect model; the Q-profile limits do not
  # depend on the estimator, so take them from a DL fit of the same data
  ci_fit <- if (res$method == "FE") rma(res$yi, res$vi, method = "DL") else res
  ci <- confint(ci_fit, level = settings$level)$random
  pr <- predict(res, level = settings$level)
  pil <- if (is.null(pr$pi.lb)) NA else pr$pi.lb
  piu <- if (is.null(pr$pi.ub)) NA else pr$pi.ub
  data.frame(k = k, estimate = as.numeric(coef(res)[1]), ci_low = res$ci.lb, ci_high = res$ci.ub,
             I2 = res$I2, I2_low = ci["I^2(%)", "ci.lb"], I2_high = ci["I^2(%)", "ci.ub"],
             p = res$pval, pi_low = pil, pi_high = piu)
}

empty <- function(k) {
  data.frame(k = k, estimate = NA, ci_low = NA, ci_high = NA, I2 = NA, I2_low = NA,
             I2_high = NA, p = NA, pi_low = NA, pi_high = NA)
}

pool <- function(d, min_k) if (nrow(d) < min_k || nrow(d) < 2) empty(nrow(d)) else numbers(fit(d))

# Test for subgroup differences, mixed-effects model: a random-effects model per level,
# then a common-effect test of the level estimates (Q-between, levels - 1 df).
between <- function(d, col, levels) {
  fits <- lapply(levels, function(l) fit_iv(d[d[[col]] == l, ]))
  m <- rma(yi = sapply(fits, function(f) as.numeric(coef(f)[1])),
           sei = sapply(fits, function(f) f$se), method = "FE")
  c(Q = m$QE, p = m$QEp)
}

outliers_excluded <- function(d) {
  res <- fit_iv(d)
  # dmetar's find.outliers: the study's 95% CI (1.96) does not overlap the pooled CI
  out <- d$yi + 1.96 * sqrt(d$vi) < res$ci.lb | d$yi - 1.96 * sqrt(d$vi) > res$ci.ub
  if (!any(out)) empty(nrow(d)) else numbers(fit_iv(d[!out, ]))
}

results <- NULL
add <- function(key, row, nums, Q_between = NA, p_between = NA) {
  results <<- rbind(results, cbind(data.frame(key = key, row = row), nums,
                                   data.frame(Q_between = Q_between, p_between = p_between)))
}
"""


def r_script(report: Report) -> str:
    """An R script reproducing every row of ``report`` with metafor."""
    s = report.settings
    cols = data_columns(report)
    numeric = {"study_id", "weeks", "n_intervention", "n_control", "ai", "ci", "yi", "vi", "sei"}
    col_classes = ", ".join(
        f"{c} = {_r_str('numeric' if c in numeric else 'character')}" for c in cols
    )
    datasets = "; ".join(f"{d.key} = {d.label}" for d in report.input.datasets)
    out = [
        R_HEADER.format(
            title=report.input.title.replace("\n", " "),
            window=report.input.main.label,
            method_text=method_text(report),
            level=f"{s.level:g}",
            method=_r_str(s.method),
            test=_r_str(s.test),
            measure=_r_str(s.measure),
            pooling=_r_str(s.pooling),
            iv_method=_r_str(s.iv_method),
            yi_text=R_YI_TEXT[s.measure],
            min_studies=s.min_studies,
            min_per_subgroup=s.min_per_subgroup,
            datasets=datasets,
            csv=data_csv(report),
            col_classes=col_classes,
        ),
        R_FUNCTIONS,
    ]
    for d in report.input.datasets:
        out.append(f"{d.key} <- dat[dat$dataset == {_r_str(d.key)}, ]")
    out.append("")
    block_rows = {r.key: r for r in report.rows()}
    for b in report.blocks:
        out.append(f"# --- {b.title}")
        for r in b.rows:
            key, label = _r_str(r.key), _r_str(r.label)
            if r.kind == "pool":
                min_k = "min_studies" if r.where is None else "min_per_subgroup"
                if r.key.startswith("rob:") or r.key.startswith("sub:"):
                    min_k = "min_per_subgroup"
                out.append(f"add({key}, {label}, pool({_r_subset(r)}, {min_k}))")
            elif r.kind == "trimfill":
                if r.numbers is None:
                    out.append(f"add({key}, {label}, empty({r.k}))")
                else:
                    out.append("tf <- trimfill(fit_iv(main))")
                    out.append(f"add({key}, {label}, numbers(tf))")
            elif r.kind == "outliers":
                out.append(f"add({key}, {label}, outliers_excluded(main))")
            elif r.kind == "heading":
                column = "rob" if r.key.startswith("rob:") else r.key.split(":", 1)[1]
                levels = [
                    x.where.value
                    for x in block_rows.values()
                    if x.where is not None
                    and x.where.column == column
                    and not x.where.negate
                    and x.k >= s.min_per_subgroup
                ]
                if r.p_between is not None and len(levels) >= 2:
                    lv = ", ".join(_r_str(v) for v in levels)
                    out.append(f"qb <- between(main, {_r_str(column)}, c({lv}))")
                    out.append(
                        f'add({key}, {label}, empty({r.k}), Q_between = qb[["Q"]], '
                        f'p_between = qb[["p"]])'
                    )
                else:
                    out.append(f"add({key}, {label}, empty({r.k}))")
        out.append("")
    out.extend(_r_model(report))
    model_out = (
        'if (exists("model_results")) {\n'
        "  if (length(args) >= 2) write.csv(model_results, args[[2]], row.names = FALSE)"
        " else print(model)\n"
        "}\n"
    )
    out.append(
        "args <- commandArgs(trailingOnly = TRUE)\n"
        "if (length(args) >= 1) {\n"
        "  write.csv(results, args[[1]], row.names = FALSE)\n"
        "} else {\n"
        "  print(format(results, digits = 3), right = FALSE)\n"
        "}\n" + model_out
    )
    return "\n".join(out)


def r_script_data(script: str) -> str:
    """The CSV data set embedded in an exported R script (for checks outside R)."""
    start = script.index('r"---(\n') + len('r"---(\n')
    end = script.index(')---"', start)
    return script[start:end]
