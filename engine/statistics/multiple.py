"""Holm and Benjamini-Hochberg adjusted p-values across the metrics of one analysis.

A family is every record with a p-value sharing statistic, branch, comparison, reference,
parameter, segment, basis and window: the same question asked of different metrics.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from engine.statistics.records import StatisticRecord

METHODS = ("holm", "bh")


def _family(r: StatisticRecord) -> tuple:
    return (r.statistic, r.branch, r.comparison, r.comparison_to_branch, r.parameter,
            r.segment, r.analysis_basis, r.window_index)


def holm(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def adjust(records: Iterable[StatisticRecord], method: str = "holm") -> list[StatisticRecord]:
    """Same records, in the same order, with p_value_holm or p_value_bh filled in."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    records = list(records)
    families: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        if r.p_value is not None:
            families[_family(r)].append(i)
    fn, field = (holm, "p_value_holm") if method == "holm" else (benjamini_hochberg, "p_value_bh")
    for idx in families.values():
        adjusted = fn(np.array([records[i].p_value for i in idx], dtype=float))
        for i, value in zip(idx, adjusted):
            records[i] = replace(records[i], **{field: float(value)})
    return records
