"""Sample-ratio mismatch: chi-square of observed branch sizes against configured ratios."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scipy import stats

DEFAULT_ALPHA = 0.001


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    p_value: float
    df: int
    expected: Mapping[str, float]
    observed: Mapping[str, int]
    mismatch: bool
    reason: str = ""

    def to_dict(self) -> dict:
        return {"chi2": self.chi2, "p_value": self.p_value, "df": self.df,
                "expected": dict(self.expected), "observed": dict(self.observed),
                "mismatch": self.mismatch, "reason": self.reason}


def srm_test(counts: Mapping[str, int], ratios: Mapping[str, float],
             alpha: float = DEFAULT_ALPHA) -> SrmResult:
    """Branches in `ratios` but not in `counts` count as 0 clients; clients in a branch
    that has no ratio are a mismatch by themselves (nobody should be there)."""
    observed = {b: int(counts.get(b, 0)) for b in ratios}
    stray = {b: int(c) for b, c in counts.items() if b not in ratios and c}
    total = sum(observed.values()) + sum(stray.values())
    weight = sum(float(r) for r in ratios.values())
    expected = {b: total * float(r) / weight if weight > 0 else 0.0 for b, r in ratios.items()}
    observed_all = {**observed, **stray}
    if stray:
        return SrmResult(float("inf"), 0.0, max(len(observed_all) - 1, 0),
                         {**expected, **{b: 0.0 for b in stray}}, observed_all, True,
                         f"clients in unconfigured branches: {', '.join(sorted(stray))}")
    live = [b for b in ratios if expected[b] > 0]
    if total == 0 or len(live) < 2:
        return SrmResult(0.0, 1.0, max(len(live) - 1, 0), expected, observed_all, False,
                         "nothing to compare" if total == 0 else "a single branch")
    chi2 = sum((observed[b] - expected[b]) ** 2 / expected[b] for b in live)
    dead = [b for b in ratios if expected[b] == 0 and observed[b] > 0]
    df = len(live) - 1
    p = 0.0 if dead else float(stats.chi2.sf(chi2, df))
    return SrmResult(float(chi2), p, df, expected, observed_all, p < alpha)
