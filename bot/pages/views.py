"""What an experiment's result page shows: selection, enrollment, SRM and one panel per metric.

Pure over exported records (see `engine.results.store`); the Flask blueprint only renders it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from bot.pages.plots import IntervalRow, Series, interval_plot, line_plot
from engine.results.store import ExportDirectory

# The statistic a panel leads with, best first; anything else without a parameter follows.
MAIN_STATISTICS = ("bootstrap_mean", "binomial", "linear_model_mean", "population_ratio",
                   "per_client_dau_impact", "sum", "count")
DISTRIBUTIONS = (("deciles", "Deciles", False), ("kernel_density_estimate", "Density (KDE)", False),
                 ("empirical_cdf", "Empirical CDF", True))
DEFAULT_PERIOD_ORDER = ("overall", "weekly", "days28", "daily", "preenrollment_weekly",
                        "preenrollment_days28")


@dataclass(frozen=True)
class Selection:
    segment: str
    basis: str
    period: str
    window: str | None
    segments: tuple[str, ...]
    bases: tuple[str, ...]
    periods: tuple[str, ...]
    windows: tuple[str, ...]

    def query(self, **change: str) -> dict[str, str]:
        """URL query of this selection with some keys changed (the window resets with period)."""
        values = {"segment": self.segment, "basis": self.basis, "period": self.period}
        if self.window is not None and "period" not in change:
            values["window"] = self.window
        values.update(change)
        return values


@dataclass(frozen=True)
class BranchRow:
    branch: str
    point: float | None
    lower: float | None
    upper: float | None
    n: int | None
    state: str
    reason: str | None
    is_reference: bool
    relative: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Panel:
    metric: str
    friendly_name: str
    description: str
    bigger_is_better: bool
    statistic: str | None
    rows: tuple[BranchRow, ...]
    plots: tuple[tuple[str, str], ...]  # (caption, svg)
    problems: tuple[str, ...] = field(default=())


def _choose(wanted: str | None, options: Sequence[str], preferred: Sequence[str]) -> str | None:
    if wanted in options:
        return wanted
    return next((p for p in preferred if p in options), options[0] if options else None)


def select(store: ExportDirectory, slug: str, args: Mapping[str, str]) -> tuple[Selection, list]:
    """The selection for a request's query args, falling back to sensible defaults."""
    periods = store.periods(slug)
    period = _choose(args.get("period"), periods, DEFAULT_PERIOD_ORDER) or "overall"
    records = store.statistics(slug, period)
    segments = tuple(dict.fromkeys(r["segment"] for r in records))
    bases = tuple(dict.fromkeys(r["analysis_basis"] for r in records))
    segment = _choose(args.get("segment"), segments, ("all",)) or "all"
    basis = _choose(args.get("basis"), bases, ("enrollments",)) or "enrollments"
    windows = tuple(sorted({r["window_index"] for r in records}, key=int))
    window = _choose(args.get("window"), windows, windows[-1:])
    selection = Selection(segment, basis, period, window, segments, bases, tuple(periods), windows)
    chosen = [r for r in records if r["segment"] == segment and r["analysis_basis"] == basis
              and r["window_index"] == window]
    return selection, chosen


def _main_statistic(records: Sequence[Mapping[str, Any]]) -> str | None:
    present = list(dict.fromkeys(r["statistic"] for r in records))
    plain = [s for s in present if s not in {d[0] for d in DISTRIBUTIONS}]
    return next((s for s in MAIN_STATISTICS if s in plain), plain[0] if plain else None)


def _rows(records: Sequence[Mapping[str, Any]], statistic: str | None,
          reference: str | None) -> tuple[BranchRow, ...]:
    mine = [r for r in records if r["statistic"] == statistic]
    relative = {r["branch"]: r for r in mine if r["comparison"] == "relative_uplift"
                and r["comparison_to_branch"] in (reference, None)}
    return tuple(BranchRow(r["branch"], r["point"], r["lower"], r["upper"], r.get("n"),
                           r.get("state", "ok"), r.get("reason"), r["branch"] == reference,
                           relative.get(r["branch"]))
                 for r in mine if r["comparison"] is None)


def _distribution_plot(records: Sequence[Mapping[str, Any]], statistic: str, caption: str,
                       step: bool) -> str | None:
    by_branch: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if (r["statistic"] == statistic and r["comparison"] is None and r["parameter"] is not None
                and r["point"] is not None):
            by_branch.setdefault(r["branch"], []).append(r)
    if not by_branch:
        return None
    series = []
    for branch, rows in by_branch.items():
        rows.sort(key=lambda r: r["parameter"])
        banded = all(r["lower"] is not None and r["upper"] is not None for r in rows)
        series.append(Series(branch, tuple(r["parameter"] for r in rows),
                             tuple(r["point"] for r in rows),
                             tuple(r["lower"] for r in rows) if banded else None,
                             tuple(r["upper"] for r in rows) if banded else None))
    return line_plot(series, title=caption, step=step, markers=statistic == "deciles",
                     x_label="decile" if statistic == "deciles" else "value")


def _over_time(records: Sequence[Mapping[str, Any]], metric: str, statistic: str | None,
               selection: Selection, reference: str | None) -> str | None:
    by_branch: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if (r["metric"] == metric and r["statistic"] == statistic
                and r["comparison"] == "relative_uplift"
                and r["comparison_to_branch"] in (reference, None)
                and r["segment"] == selection.segment
                and r["analysis_basis"] == selection.basis and r["point"] is not None):
            by_branch.setdefault(r["branch"], []).append(r)
    if not by_branch:
        return None
    series = []
    for branch, rows in by_branch.items():
        rows.sort(key=lambda r: int(r["window_index"]))
        series.append(Series(branch, tuple(float(r["window_index"]) for r in rows),
                             tuple(r["point"] for r in rows),
                             tuple(r["lower"] if r["lower"] is not None else r["point"] for r in rows),
                             tuple(r["upper"] if r["upper"] is not None else r["point"] for r in rows)))
    return line_plot(series, title=f"{metric}: relative difference by week", x_label="week",
                     y_label="rel. diff.", markers=True, zero_line=True)


def panels(store: ExportDirectory, slug: str, selection: Selection,
           records: Sequence[Mapping[str, Any]]) -> list[Panel]:
    metadata = store.metadata(slug)
    reference = metadata.get("reference_branch")
    info: Mapping[str, Mapping[str, Any]] = metadata.get("metrics", {})
    metrics = list(dict.fromkeys([m for m in info if any(r["metric"] == m for r in records)]
                                 + [r["metric"] for r in records]))
    weekly = store.statistics(slug, "weekly")
    out = []
    for metric in metrics:
        mine = [r for r in records if r["metric"] == metric]
        meta = info.get(metric, {})
        statistic = _main_statistic(mine)
        rows = _rows(mine, statistic, reference)
        plots: list[tuple[str, str]] = []
        if any(r.point is not None for r in rows):
            plots.append(("Estimate per branch", interval_plot(
                [IntervalRow(r.branch, r.point, r.lower, r.upper) for r in rows],
                title=f"{metric}: {statistic} per branch")))
        relative = [IntervalRow(r.branch, r.relative.get("point"), r.relative.get("lower"),
                                r.relative.get("upper")) for r in rows if r.relative]
        if relative:
            plots.append((f"Relative difference to {reference}", interval_plot(
                relative, title=f"{metric}: relative difference", zero_line=True, percent=True,
                bigger_is_better=meta.get("bigger_is_better", True))))
        over_time = _over_time(weekly, metric, statistic, selection, reference)
        if over_time:
            plots.append(("Weekly windows over time", over_time))
        for name, caption, step in DISTRIBUTIONS:
            svg = _distribution_plot(mine, name, f"{metric}: {caption}", step)
            if svg:
                plots.append((caption, svg))
        problems = tuple(dict.fromkeys(
            f"{r['statistic']} / {r['branch']}: {r.get('state')}"
            + (f" ({r['reason']})" if r.get("reason") else "")
            for r in mine if r.get("state", "ok") != "ok"))
        out.append(Panel(metric, meta.get("friendly_name") or metric, meta.get("description", ""),
                         bool(meta.get("bigger_is_better", True)), statistic, rows,
                         tuple(plots), problems))
    return out
