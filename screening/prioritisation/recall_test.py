"""A stopping rule with a statistical guarantee: the hypergeometric test of recall.

Callaghan & Müller-Hansen (2020) [1]_: screen in ranked order as long as it pays, then
screen a **random sample** of the records not yet screened. Under the null hypothesis
that the recall reached so far is *below* the target ``τ``, the records left at the start
of the sampling (the urn, ``N_s`` records) hold at least

    K̂ = ⌊(r_AL + k) / τ⌋ + 1 − r_AL

relevant records, where ``r_AL`` includes were found in the ranked phase and ``k`` in the
``n`` sampled records. The chance of drawing ``k`` or fewer includes in ``n`` draws
without replacement from such an urn is the hypergeometric distribution function

    p = P(X ≤ k),  X ~ Hypergeometric(N_s, K̂, n),

which is the largest under the null when the urn holds exactly ``K̂`` includes. When
``p < 1 − confidence`` the null is rejected: the target recall is reached with that
confidence and screening may stop. This is the test of ``buscarR``'s ``calculate_h0``
(``phyper(k, K̂, N_s − K̂, n)``, unbiased urn), applied to the random sample only.

Because ``p`` falls as the sample grows while no include turns up, the records still to
sample before the test can say stop (if none of them is an include) follow by search;
the overview shows that number as "about N more records needed".

Repeated looks. The test is run after every sampled record, and ``K̂`` grows with each
include the sample finds, so "stop at the first p < α" gives the null several chances:
once while the sample has no include, again once it has one, and so on. Computed exactly
(:func:`false_stop_probability`), the chance of stopping below the target then exceeds
α: 5.6 % for an urn of 600 holding 4 of 44 includes, 6.5 % for 400 holding 8 of 108, at
α = 5 %. The correction keeps the statistic and spends α over the number of includes
``k`` found in the sample: the test rejects when ``p < α_k = α · 6 / (π² (k + 1)²)``
(the α_k sum to α). A false stop with ``k`` includes implies ``X ≤ k`` at the first
sample size where ``p < α_k``, which has probability below α_k under the null, so by the
union bound the chance of ever stopping with recall below target is at most α, whatever
the ranking did before the switch and however often one looks. It costs more sampling
(α_0 = 0.61 α while the sample is empty); ``correction=False`` gives the uncorrected rule.

What is guaranteed, then: if the random sample is screened in the order drawn, the rule
says stop with recall below the target with probability at most ``1 − confidence``. The
rule declines to stop while the urn could still hold too many includes: when includes
keep turning up in the sample, or when few were found in the ranked phase (then one more
unseen include already breaks the target, and nearly the whole urn must be sampled).

References
----------
.. [1] Callaghan MW, Müller-Hansen F (2020). Statistical stopping criteria for automated
   screening in systematic reviews. Systematic Reviews 9:273.
   doi:10.1186/s13643-020-01521-4
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import hypergeom

from .errors import PrioritisationError

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_TARGET_RECALL",
    "RecallTest",
    "alpha_spent",
    "false_stop_probability",
    "recall_test",
    "relevant_under_null",
]

DEFAULT_TARGET_RECALL = 0.95
DEFAULT_CONFIDENCE = 0.95


def relevant_under_null(ranked_found: int, sample_found: int, target_recall: float) -> int:
    """``K̂``: the fewest includes in the urn for which the recall would be below target.

    ``buscarR``'s ``k_h0``: ``floor((r_AL + k) / τ − r_AL + 1)``.
    """
    # Round away float noise first: 19 / 0.95 is 20.000000000000004 or 19.999999999999996.
    return math.floor(round((ranked_found + sample_found) / target_recall, 9)) + 1 - ranked_found


def alpha_spent(sample_found: int, alpha: float) -> float:
    """``α_k = α · 6 / (π² (k + 1)²)``: the level at which the test may stop with ``k``
    includes in the sample (they sum to α over k = 0, 1, …; see the module docs)."""
    return alpha * 6 / (math.pi**2 * (sample_found + 1) ** 2)


@dataclass(frozen=True)
class RecallTest:
    """State of the hypergeometric stopping test after ``sampled`` random records."""

    target_recall: float
    confidence: float
    records: int  # N: every record of the screening
    ranked_screened: int  # records screened in ranked order before the sampling began
    ranked_found: int  # r_AL: includes among them
    sampled: int  # n: random records screened since
    sample_found: int  # k: includes among them
    p_value: float  # P(X <= k) under the null; 1 before any record is sampled
    more_needed: int  # further random records that, all excludes, would let it stop
    alpha: float  # the level p must fall below: α_k, or 1 − confidence uncorrected

    @property
    def urn(self) -> int:
        """Records left when the sampling began (the population sampled from)."""
        return self.records - self.ranked_screened

    @property
    def screened(self) -> int:
        return self.ranked_screened + self.sampled

    @property
    def found(self) -> int:
        return self.ranked_found + self.sample_found

    @property
    def stop(self) -> bool:
        """The null "recall below target" is rejected at ``1 − confidence``."""
        return self.p_value < self.alpha


def _p(urn: int, k_null: int, sampled: int, found: int) -> float:
    if k_null > urn:
        return 0.0  # the urn cannot hold enough includes: the target is reached for sure
    return float(hypergeom.cdf(found, urn, k_null, sampled))


def recall_test(
    *,
    records: int,
    ranked_screened: int,
    ranked_found: int,
    sampled: int,
    sample_found: int,
    target_recall: float = DEFAULT_TARGET_RECALL,
    confidence: float = DEFAULT_CONFIDENCE,
    correction: bool = True,
) -> RecallTest:
    """The hypergeometric test of ``target_recall`` at ``confidence`` (see module docs).

    Parameters
    ----------
    records
        Records of the screening (``N``), screened or not.
    ranked_screened, ranked_found
        Records screened before the random sampling began, and the includes among them.
    sampled, sample_found
        Records screened in the random sample so far, and the includes among them.
    correction
        Spend α over the includes found in the sample (``α_k``), so that looking after
        every record keeps the error below ``1 − confidence``; False tests at α each time.
    """
    if not 0 < target_recall < 1:
        raise PrioritisationError(f"Target recall must be between 0 and 1, got {target_recall}.")
    if not 0 < confidence < 1:
        raise PrioritisationError(f"Confidence must be between 0 and 1, got {confidence}.")
    counts = (records, ranked_screened, ranked_found, sampled, sample_found)
    if min(counts) < 0:
        raise PrioritisationError("Record counts cannot be negative.")
    if ranked_found > ranked_screened or sample_found > sampled:
        raise PrioritisationError("More includes than screened records.")
    if ranked_screened + sampled > records:
        raise PrioritisationError(f"{ranked_screened + sampled} records screened out of {records}.")
    urn = records - ranked_screened
    k_null = relevant_under_null(ranked_found, sample_found, target_recall)
    p = _p(urn, k_null, sampled, sample_found)
    alpha = alpha_spent(sample_found, 1 - confidence) if correction else 1 - confidence
    # p falls as the sample grows while k stays: the least further sample that rejects.
    more = 0
    if not p < alpha:
        lo, hi = sampled + 1, urn  # sampling the whole urn always rejects (X = K̂ > k)
        while lo < hi:
            mid = (lo + hi) // 2
            if _p(urn, k_null, mid, sample_found) < alpha:
                hi = mid
            else:
                lo = mid + 1
        more = lo - sampled
    return RecallTest(
        target_recall=target_recall,
        confidence=confidence,
        records=records,
        ranked_screened=ranked_screened,
        ranked_found=ranked_found,
        sampled=sampled,
        sample_found=sample_found,
        p_value=p,
        more_needed=more,
        alpha=alpha,
    )


def false_stop_probability(
    *,
    urn: int,
    ranked_found: int,
    remaining: int,
    target_recall: float = DEFAULT_TARGET_RECALL,
    confidence: float = DEFAULT_CONFIDENCE,
    correction: bool = True,
) -> float:
    """Exact chance that sampling ``urn`` records holding ``remaining`` includes, testing
    after every record, stops with recall below ``target_recall``.

    A dynamic programme over (records sampled, includes found) of the chance of being
    there without having stopped; each step draws an include with probability
    (includes left) / (records left). ``ranked_found`` includes were found before.
    """
    if not 0 <= remaining <= urn:
        raise PrioritisationError("The urn cannot hold that many includes.")
    relevant = ranked_found + remaining
    alpha = 1 - confidence

    def outcome(sampled: int, found: int) -> float | None:
        """None: go on; else the failure (1) or success (0) of stopping here."""
        k_null = relevant_under_null(ranked_found, found, target_recall)
        level = alpha_spent(found, alpha) if correction else alpha
        if not _p(urn, k_null, sampled, found) < level and sampled < urn:
            return None
        below = relevant and (ranked_found + found) / relevant < target_recall - 1e-12
        return 1.0 if below else 0.0

    failed = 0.0
    alive = {0: 1.0}  # includes found -> chance of being here, not stopped
    first = outcome(0, 0)
    if first is not None:
        return first
    for drawn in range(urn):
        left = urn - drawn
        step: dict[int, float] = {}
        for found, chance in alive.items():
            hit = (remaining - found) / left
            if hit > 0:
                step[found + 1] = step.get(found + 1, 0.0) + chance * hit
            if hit < 1:
                step[found] = step.get(found, 0.0) + chance * (1 - hit)
        alive = {}
        for found, chance in step.items():
            result = outcome(drawn + 1, found)
            if result is None:
                alive[found] = chance
            else:
                failed += chance * result
        if not alive:
            break
    return failed
