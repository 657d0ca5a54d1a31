"""Speed of the statistics engine: REML + Knapp-Hartung + Q-profile I² CI + trim-and-fill +
leave-one-out, for k = 30 and k = 1000 studies. Prints figures; no assertions.

Run: ``.venv/bin/python benchmarks/stats_bench.py`` from the repository root.
Target: the full set for k = 30 well under 50 ms.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats import leave1out, rma, trimfill  # noqa: E402


def make_data(k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = rng.integers(10, 200, k)
    vi = 4 / n + rng.uniform(0, 0.02, k)
    yi = rng.normal(0.3, np.sqrt(vi + 0.1))
    # a few suppressed small negative studies so trim-and-fill has something to fill
    return yi, vi


def time_it(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def full_set(yi: np.ndarray, vi: np.ndarray) -> None:
    res = rma(yi, vi, method="REML", test="knha")  # includes the Q-profile and test-based I² CIs
    assert res.I2_qprofile_ci_low is not None
    trimfill(yi, vi, estimator="L0", method="REML", test="knha")
    leave1out(yi, vi, method="REML", test="knha")


def main() -> None:
    print(
        f"{'k':>6} {'rma+CIs':>10} {'trimfill':>10} {'leave1out':>10} {'full set':>10}  (best of N, ms)"
    )
    for k, repeat in ((30, 20), (1000, 3)):
        yi, vi = make_data(k)
        t_rma = time_it(lambda yi=yi, vi=vi: rma(yi, vi, "REML", "knha"), repeat)
        t_tf = time_it(lambda yi=yi, vi=vi: trimfill(yi, vi, "L0", "REML", "knha"), repeat)
        t_l1 = time_it(lambda yi=yi, vi=vi: leave1out(yi, vi, "REML", "knha"), repeat)
        t_all = time_it(lambda yi=yi, vi=vi: full_set(yi, vi), repeat)
        print(f"{k:>6} {t_rma:>10.2f} {t_tf:>10.2f} {t_l1:>10.2f} {t_all:>10.2f}")


if __name__ == "__main__":
    main()
