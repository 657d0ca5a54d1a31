"""Command line: ``python -m analysis.stats SUBCOMMAND INPUT.csv [options]``.

JSON on stdout (NaN/inf as null; ``escalc`` writes CSV), exit status 1 and a one-line
message on stderr for bad input (2 for bad usage, from argparse).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .bias import egger_test, trimfill
from .binary import BINARY_MEASURES, MH_METHODS, check_binary_options, pool_binary
from .effect_sizes import escalc_binary, escalc_md, escalc_smd, tables_from_totals
from .errors import StatsInputError
from .multilevel import ML_METHODS, ML_TESTS
from .pooling import METHODS, TESTS, clean_number, rma
from .regression import FIELDS as MODEL_FIELDS
from .regression import metareg, multilevel
from .robust import ROBUST_TYPES
from .sensitivity import find_outliers, leave1out
from .subgroups import subgroup_analysis

SMD_COLUMNS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
TOTALS_COLUMNS = ("ai", "n1i", "ci", "n2i")
CELLS_COLUMNS = ("ai", "bi", "ci", "di")
MEASURES = ("SMD", "MD", *BINARY_MEASURES)
TRIMFILL_FIELDS = ("k0", "side", "k", "estimate", "se", "ci_low", "ci_high", "tau2")
EGGER_FIELDS = ("k", "stat", "df", "p", "limit_estimate")
LEAVE1OUT_FIELDS = ("study", "estimate", "ci_low", "ci_high", "tau2", "I2", "Q")
SUBGROUP_GROUP_FIELDS = (
    "group",
    "k",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "tau2",
    "I2",
    "pi_low",
    "pi_high",
)


def read_table(path: str) -> pd.DataFrame:
    """Read the input CSV, raising :class:`StatsInputError` for unreadable files."""
    p = Path(path)
    if not p.is_file():
        raise StatsInputError(f"input file not found: {path}")
    try:
        df = pd.read_csv(p, dtype={"study": str, "group": str}, keep_default_na=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise StatsInputError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise StatsInputError(f"{path} has no data rows")
    return df


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = bad[0]
        raise StatsInputError(
            f"row {row + 1}, column '{col}': missing or not a number ({df[col].iloc[row]!r})"
        )
    return values


def study_labels(df: pd.DataFrame) -> list[str]:
    if "study" in df.columns:
        return [
            str(s) if isinstance(s, str) and s != "" else str(i + 1)
            for i, s in enumerate(df["study"])
        ]
    return [str(i + 1) for i in range(len(df))]


def tables_from_table(df: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """2×2 cells ``ai, bi, ci, di`` from columns ai,n1i,ci,n2i (or ai,bi,ci,di)."""
    labels = study_labels(df)
    if all(c in df.columns for c in TOTALS_COLUMNS):
        cols = [_numeric(df, c) for c in TOTALS_COLUMNS]
        return tables_from_totals(*cols, study=labels)
    if all(c in df.columns for c in CELLS_COLUMNS):
        return tuple(_numeric(df, c) for c in CELLS_COLUMNS)
    raise StatsInputError("a dichotomous measure needs columns ai,n1i,ci,n2i (or ai,bi,ci,di)")


def effects_from_table(df: pd.DataFrame, measure: str = "SMD") -> tuple[np.ndarray, np.ndarray]:
    """``yi``/``vi`` for ``measure``: computed as metafor's ``escalc`` or given directly.

    SMD (Hedges' g) and MD come from m1i,sd1i,n1i,m2i,sd2i,n2i; OR, RR and RD from the
    2×2 tables; columns yi,vi are taken as they are for any measure.
    """
    labels = study_labels(df)
    if measure in BINARY_MEASURES and not ("yi" in df.columns and "vi" in df.columns):
        es = escalc_binary(measure, *tables_from_table(df), study=labels)
        return es.yi, es.vi
    if all(c in df.columns for c in SMD_COLUMNS) and measure in ("SMD", "MD"):
        cols = [df[c].tolist() for c in SMD_COLUMNS]
        es = (escalc_md if measure == "MD" else escalc_smd)(*cols, study=labels)
        return es.yi, es.vi
    if "yi" in df.columns and "vi" in df.columns:
        return _numeric(df, "yi"), _numeric(df, "vi")
    raise StatsInputError("input needs columns yi,vi or m1i,sd1i,n1i,m2i,sd2i,n2i")


def _dump(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False)


def _cmd_pool(df, args) -> str:
    labels = study_labels(df)
    if args.measure in BINARY_MEASURES and "yi" not in df.columns:
        res = pool_binary(
            args.measure, *tables_from_table(df), args.method, args.test, args.level, labels
        )
        return _dump(res.pool_fields())
    if args.method in MH_METHODS:
        if args.measure in BINARY_MEASURES:
            check_binary_options(args.measure, args.method, args.test)
            raise StatsInputError(f"{args.method} needs the 2x2 tables (ai,n1i,ci,n2i), not yi,vi")
        raise StatsInputError(f"{args.method} pools dichotomous measures only (OR, RR, RD)")
    yi, vi = effects_from_table(df, args.measure)
    return _dump(rma(yi, vi, args.method, args.test, args.level, labels).pool_fields())


def _cmd_escalc(df, args) -> str:
    yi, vi = effects_from_table(df, args.measure)
    out = df.copy()
    out["yi"] = yi
    out["vi"] = vi
    return out.to_csv(index=False, float_format="%.17g")


def _cmd_egger(df, args) -> str:
    yi, vi = effects_from_table(df, args.measure)
    d = egger_test(yi, vi, args.level).to_dict()
    return _dump({k: d[k] for k in EGGER_FIELDS})


def _cmd_trimfill(df, args) -> str:
    yi, vi = effects_from_table(df, args.measure)
    res = trimfill(
        yi, vi, args.estimator, args.method, args.test, args.level, study=study_labels(df)
    )
    d = res.to_dict()
    return _dump({k: d[k] for k in TRIMFILL_FIELDS})


def _cmd_subgroup(df, args) -> str:
    if "group" not in df.columns:
        raise StatsInputError("subgroup analysis needs a 'group' column")
    yi, vi = effects_from_table(df, args.measure)
    groups = [None if isinstance(g, float) else g for g in df["group"].tolist()]
    res = subgroup_analysis(yi, vi, groups, args.method, args.test, args.common_tau2, args.level)
    d = res.to_dict()
    return _dump(
        {
            "groups": [{k: g[k] for k in SUBGROUP_GROUP_FIELDS} for g in d["groups"]],
            "Q_between": d["Q_between"],
            "Q_between_df": d["Q_between_df"],
            "Q_between_p": d["Q_between_p"],
            "Q_between_df2": d["Q_between_df2"],
        }
    )


def _cmd_outliers(df, args) -> str:
    yi, vi = effects_from_table(df, args.measure)
    return _dump(
        find_outliers(yi, vi, args.method, args.test, args.level, study_labels(df)).to_dict()
    )


def _cmd_leave1out(df, args) -> str:
    yi, vi = effects_from_table(df, args.measure)
    res = leave1out(yi, vi, args.method, args.test, args.level, study_labels(df))
    return _dump({"rows": [{k: r.to_dict()[k] for k in LEAVE1OUT_FIELDS} for r in res.rows]})


def _moderators(df: pd.DataFrame, names: Sequence[str]) -> dict[str, list[object]]:
    """Moderator columns: numeric columns stay numbers, any other column is a factor."""
    out: dict[str, list[object]] = {}
    for name in names:
        if name not in df.columns:
            raise StatsInputError(f"moderator column '{name}' not found in the input")
        col = df[name]
        bad = np.flatnonzero(col.isna().to_numpy())
        if bad.size:
            raise StatsInputError(f"row {bad[0] + 1}, moderator '{name}' is missing")
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[name] = [float(x) for x in col]
        else:
            out[name] = [str(x) for x in col]
    return out


def _yi_vi(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if not ("yi" in df.columns and "vi" in df.columns):
        raise StatsInputError("input needs columns yi and vi")
    return _numeric(df, "yi"), _numeric(df, "vi")


def _cmd_multilevel(df, args) -> str:
    if "study" not in df.columns:
        raise StatsInputError("a three-level model needs a 'study' column")
    yi, vi = _yi_vi(df)
    study = study_labels(df)
    es = [str(x) for x in df["es"]] if "es" in df.columns else None
    res = multilevel(
        yi,
        vi,
        study,
        es=es,
        mods=_moderators(df, args.mods or []),
        method=args.method,
        test=args.test,
        level=args.level,
        robust=args.robust,
        profile=False,
    )
    return _dump(res.fields())


def _cmd_metareg(df, args) -> str:
    yi, vi = _yi_vi(df)
    res = metareg(
        yi,
        vi,
        _moderators(df, args.mods),
        method=args.method,
        test=args.test,
        level=args.level,
        study=study_labels(df) if args.robust else None,
        robust=args.robust,
    )
    return _dump(res.fields())


COMMANDS = {
    "pool": _cmd_pool,
    "escalc": _cmd_escalc,
    "egger": _cmd_egger,
    "trimfill": _cmd_trimfill,
    "subgroup": _cmd_subgroup,
    "outliers": _cmd_outliers,
    "leave1out": _cmd_leave1out,
    "multilevel": _cmd_multilevel,
    "metareg": _cmd_metareg,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.stats",
        description="Meta-analysis statistics engine (results equal to R's metafor 3.8).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    helps = {
        "pool": "pooled estimate, heterogeneity and prediction interval (JSON)",
        "escalc": "input rows with yi and vi added (CSV)",
        "egger": "Egger's regression test (JSON)",
        "trimfill": "trim-and-fill (JSON)",
        "subgroup": "subgroup analysis; needs a 'group' column (JSON)",
        "outliers": "dmetar-style outlier removal and re-fit (JSON)",
        "leave1out": "leave-one-out analysis (JSON)",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument(
            "input",
            metavar="INPUT.csv",
            help="columns yi,vi or m1i,sd1i,n1i,m2i,sd2i,n2i or ai,n1i,ci,n2i; "
            "optional study, group",
        )
        p.add_argument(
            "--measure",
            default="SMD",
            choices=MEASURES,
            help="effect measure (default SMD, Hedges' g); OR/RR/RD from ai,n1i,ci,n2i",
        )
        methods = (*METHODS, *MH_METHODS) if name == "pool" else METHODS
        p.add_argument(
            "--method",
            default="REML",
            choices=methods,
            help="tau^2 estimator (default REML)"
            + ("; MH (OR/RR/RD) or PETO (OR) for 2x2 tables" if name == "pool" else ""),
        )
        p.add_argument("--test", default="z", choices=TESTS, help="z or knha (default z)")
        p.add_argument(
            "--level", default=95.0, type=float, help="confidence level in percent (default 95)"
        )
        if name == "trimfill":
            p.add_argument("--estimator", default="L0", choices=("L0", "R0"))
        if name == "subgroup":
            p.add_argument(
                "--common-tau2",
                action="store_true",
                help="one tau^2 for all subgroups (metafor mods)",
            )
    _add_model_parsers(sub)
    return parser


def _add_model_parsers(sub: Any) -> None:
    text = "three-level model rma.mv(random = ~ 1 | study/es), optional moderators (JSON)"
    p = sub.add_parser("multilevel", help=text, description=text)
    p.add_argument("input", metavar="INPUT.csv", help="columns study, es, yi, vi and moderators")
    p.add_argument("--method", default="REML", choices=ML_METHODS, help="default REML")
    p.add_argument("--test", default="z", choices=ML_TESTS, help="z or t (df k - p); default z")
    p.add_argument("--robust", choices=ROBUST_TYPES, help="cluster-robust by study: CR2 or CR1")
    p.add_argument("--mods", nargs="*", metavar="COLUMN", help="moderator columns")
    p.add_argument("--level", default=95.0, type=float, help="confidence level in percent")
    text = "meta-regression rma(yi, vi, mods = ~ ...) (JSON)"
    p = sub.add_parser("metareg", help=text, description=text)
    p.add_argument("input", metavar="INPUT.csv", help="columns yi, vi, moderators; optional study")
    p.add_argument("--mods", nargs="+", required=True, metavar="COLUMN", help="moderator columns")
    p.add_argument("--method", default="REML", choices=("REML", "ML", "DL"), help="default REML")
    p.add_argument("--test", default="z", choices=TESTS, help="z or knha (default z)")
    p.add_argument("--robust", choices=ROBUST_TYPES, help="cluster-robust by study: CR2 or CR1")
    p.add_argument("--level", default=95.0, type=float, help="confidence level in percent")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        df = read_table(args.input)
        output = COMMANDS[args.command](df, args)
    except ValueError as exc:  # StatsInputError and other domain errors
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return 1
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return 0


__all__ = ["MODEL_FIELDS", "build_parser", "clean_number", "main"]
