"""Speed of the three-level model, cluster-robust inference and meta-regression, ours against
R's metafor/clubSandwich on the same data in the same run. Prints figures; no assertions.

Workload for k = 500 effects in 100 studies (1-9 effects each), moderator x:
  1. three-level model   rma.mv(yi, vi, mods = ~ x, random = ~ 1 | study/es)    (REML)
  2. cluster-robust      robust(fit, cluster = study, clubSandwich = TRUE)     (CR2, Satterthwaite, HTZ)
  3. meta-regression     rma(yi, vi, mods = ~ x, test = "knha")               (REML)
and, with ``--confint``, on its own line the profile-likelihood CIs of both variance
components (``confint``; slow in R, which refits the dense k × k model at every step).
R's time excludes starting R and loading packages; both sides report the best of N runs.

Run: ``.venv/bin/python benchmarks/multilevel_bench.py [REPEAT] [--confint]`` from the repository root (needs
Rscript with metafor, clubSandwich, jsonlite).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats.regression import metareg, multilevel  # noqa: E402

R_SCRIPT = r"""
suppressMessages({library(metafor); library(clubSandwich); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c(study = "character"))
repeat_n <- as.integer(args[2])
with_ci <- args[3] == "yes"
best <- function(f) { t <- Inf; for (i in seq_len(repeat_n)) { s <- proc.time()[["elapsed"]]; r <- f();
  t <- min(t, proc.time()[["elapsed"]] - s) }; list(time = t, value = r) }
work <- best(function() {
  fit <- rma.mv(yi, vi, mods = ~ x, random = ~ 1 | study/es, data = d)
  rob <- robust(fit, cluster = d$study, clubSandwich = TRUE)
  mr <- rma(yi, vi, mods = ~ x, data = d, test = "knha")
  list(b = c(fit$beta), sigma2 = fit$sigma2, rob_se = rob$se, rob_df = rob$ddf, mr_b = c(mr$beta))
})
ci <- list(time = NA, value = NA)
if (with_ci) {
  fit <- rma.mv(yi, vi, mods = ~ x, random = ~ 1 | study/es, data = d)
  ci <- best(function() { ci <- confint(fit); c(ci[[1]]$random[1, 2:3], ci[[2]]$random[1, 2:3]) })
}
cat(toJSON(list(work = work$time * 1000, confint = ci$time * 1000, values = work$value,
                ci = unname(ci$value)), digits = NA, auto_unbox = TRUE, na = "null"))
"""


def make_data(k: int = 500, n_studies: int = 100, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = np.full(n_studies, k // n_studies)
    for _ in range(200):  # vary the sizes (1-9) keeping the total at k
        i, j = rng.integers(0, n_studies, 2)
        if sizes[i] > 1 and sizes[j] < 9:
            sizes[i] -= 1
            sizes[j] += 1
    study = np.repeat(np.arange(n_studies), sizes)
    es = np.concatenate([np.arange(1, s + 1) for s in sizes])
    x = rng.normal(0, 1, n_studies)[study]
    n = rng.integers(20, 200, k)
    vi = 4 / n + rng.uniform(0, 0.01, k)
    yi = (
        0.3
        + 0.1 * x
        + rng.normal(0, np.sqrt(0.08), n_studies)[study]
        + rng.normal(0, np.sqrt(0.04), k)
        + rng.normal(0, np.sqrt(vi))
    )
    return pd.DataFrame(
        {"study": [f"S{s}" for s in study], "es": es, "yi": yi, "vi": vi, "x": np.round(x, 6)}
    )


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000, value


def ours(d: pd.DataFrame) -> dict:
    # one call fits the model and adds the CR2 inference (b and sigma2 are the model's)
    rob = multilevel(
        d.yi, d.vi, d.study, es=d.es, mods={"x": d.x.tolist()}, robust="CR2", profile=False
    )
    mr = metareg(d.yi, d.vi, {"x": d.x.tolist()}, test="knha")
    return {"b": rob.b, "sigma2": rob.sigma2, "rob_se": rob.se, "rob_df": rob.df, "mr_b": mr.b}


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeat = int(args[0]) if args else 1  # R needs about a minute per run
    with_ci = "--confint" in sys.argv
    d = make_data()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        d.to_csv(csv, index=False, float_format="%.17g")
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        proc = subprocess.run(
            ["Rscript", str(script), str(csv), str(repeat), "yes" if with_ci else "no"],
            capture_output=True,
            text=True,
            check=True,
        )
    r = json.loads(proc.stdout)
    t_work, got = best_of(lambda: ours(d), repeat)
    print(f"k = {len(d)} effects in {d.study.nunique()} studies; best of {repeat} runs, ms")
    print(f"{'workload':<52} {'ours':>10} {'metafor':>10} {'ratio':>7}")
    fit_only = "multilevel (REML) + robust CR2 + meta-regression"
    print(f"{fit_only:<52} {t_work:>10.1f} {r['work']:>10.1f} {r['work'] / t_work:>6.1f}x")
    diffs = {
        key: float(np.max(np.abs(np.asarray(got[key]) - np.asarray(r["values"][key]))))
        for key in ("b", "sigma2", "rob_se", "rob_df", "mr_b")
    }
    if with_ci:
        t_ci, fit = best_of(
            lambda: multilevel(d.yi, d.vi, d.study, es=d.es, mods={"x": d.x.tolist()}), repeat
        )
        our_ci = [v for pair in fit.sigma2_ci for v in pair]  # type: ignore[union-attr]
        ci_only = "profile-likelihood CIs of both sigma2 (confint)"
        print(f"{ci_only:<52} {t_ci:>10.1f} {r['confint']:>10.1f} {r['confint'] / t_ci:>6.1f}x")
        diffs["sigma2 CIs"] = float(np.max(np.abs(np.asarray(our_ci) - np.asarray(r["ci"]))))
    print(
        "largest absolute difference from R: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
    )


if __name__ == "__main__":
    main()
