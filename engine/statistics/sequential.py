"""Always-valid (sequential) intervals: a normal-mixture confidence sequence.

For an estimator that is asymptotically normal with standard error `se` after `n` clients,
the boundary

    half_width = se * sqrt(2 (n rho^2 + 1) / (n rho^2) * log(sqrt(n rho^2 + 1) / alpha))

holds uniformly over all n with probability >= 1 - alpha (Robbins' normal mixture; asymptotic
confidence sequences of Waudby-Smith et al.), so results can be looked at daily without
inflating false positives. rho is fixed in advance from `tuning`, the sample size at which
the interval is tightest, never from the data.
"""
from __future__ import annotations

import math


def _rho2(alpha: float, tuning: float) -> float:
    two_log = -2.0 * math.log(alpha)
    return (two_log + math.log(two_log + 1.0)) / float(tuning)


def half_width(se: float, n: int, alpha: float, tuning: float) -> float:
    nr2 = n * _rho2(alpha, tuning)
    return se * math.sqrt(2.0 * (nr2 + 1.0) / nr2 * math.log(math.sqrt(nr2 + 1.0) / alpha))


def p_value(estimate: float, se: float, n: int, alpha: float, tuning: float) -> float:
    """Always-valid p-value of estimate == 0 for the mixture tuned at `alpha`.

    p < alpha exactly when the interval of level 1 - alpha excludes 0.
    """
    if se <= 0:
        return 1.0 if estimate == 0 else 0.0
    nr2 = n * _rho2(alpha, tuning)
    exponent = (estimate / se) ** 2 * nr2 / (2.0 * (nr2 + 1.0))
    return min(1.0, math.sqrt(nr2 + 1.0) * math.exp(-exponent))
