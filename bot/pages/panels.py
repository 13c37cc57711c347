"""The per-metric detail below an experiment's overview: its table rows, notes and plots.

Branches keep their colours (`plots.branch_colors`), significance its own palette, and every
relative difference is a percentage, as in the tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bot.pages.plots import IntervalRow, Series, interval_plot, line_plot
from bot.pages.views import (
    WINDOW_LABELS,
    Group,
    OverviewRow,
    Selection,
    transform_of,
)
from engine.results.store import PeriodRecords

DISTRIBUTIONS = (("deciles", "Deciles", False), ("kernel_density_estimate", "Density (KDE)", False),
                 ("empirical_cdf", "Empirical CDF", True))


@dataclass(frozen=True)
class Panel:
    metric: str
    friendly_name: str
    description: str
    bigger_is_better: bool
    statistic: str
    transform: str | None
    rows: tuple[OverviewRow, ...]
    plots: tuple[tuple[str, str], ...]  # (caption, svg)
    notes: tuple[str, ...] = ()  # states of the statistic in the table
    other_notes: tuple[str, ...] = ()  # states of the distributions plotted


def _notes(records: Sequence[Mapping[str, Any]], statistics: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(
        f"{r['statistic']} · {r['branch']}: {r.get('state')}"
        + (f" ({r['reason']})" if r.get("reason") else "")
        for r in records if r["statistic"] in statistics and (r.get("state") or "ok") != "ok"))


def _value_label(transform: str | None) -> str:
    return f"value after {transform}" if transform else "value"


def _distribution(records: Sequence[Mapping[str, Any]], statistic: str, title: str, step: bool,
                  colors: Mapping[str, str], transform: str | None) -> str | None:
    by_branch: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if (r["statistic"] == statistic and r["comparison"] is None and r["parameter"] is not None
                and r["point"] is not None):
            by_branch.setdefault(r["branch"], []).append(r)
    if not by_branch:
        return None
    series = []
    for branch in sorted(by_branch, key=lambda b: list(colors).index(b) if b in colors else 99):
        rows = sorted(by_branch[branch], key=lambda r: r["parameter"])
        banded = all(r["lower"] is not None and r["upper"] is not None for r in rows)
        series.append(Series(branch, tuple(r["parameter"] for r in rows),
                             tuple(r["point"] for r in rows),
                             tuple(r["lower"] for r in rows) if banded else None,
                             tuple(r["upper"] for r in rows) if banded else None,
                             colors.get(branch)))
    if statistic == "deciles":
        return line_plot(series, title=title, markers=True, x_label="decile",
                         y_label=_value_label(transform))
    return line_plot(series, title=title, step=step, x_label=_value_label(transform),
                     y_label="share" if step else "density")


def _over_time(series: PeriodRecords, period: str, metric: str, statistic: str,
               selection: Selection, reference: str | None, colors: Mapping[str, str]
               ) -> tuple[str, str] | None:
    by_branch: dict[str, list[tuple[float, Mapping[str, Any]]]] = {}
    for window, records in series.series(selection.segment, selection.basis):
        for r in records:
            if (r["metric"] == metric and r["statistic"] == statistic
                    and r["comparison"] == "relative_uplift" and r["parameter"] is None
                    and r["comparison_to_branch"] in (reference, None) and r["point"] is not None):
                by_branch.setdefault(r["branch"], []).append((float(window), r))
    if not by_branch or max(len(v) for v in by_branch.values()) < 2:
        return None
    lines = []
    for branch in sorted(by_branch, key=lambda b: list(colors).index(b) if b in colors else 99):
        points = by_branch[branch]
        lines.append(Series(branch, tuple(x for x, _ in points),
                            tuple(r["point"] for _, r in points),
                            tuple(r["lower"] if r["lower"] is not None else r["point"]
                                  for _, r in points),
                            tuple(r["upper"] if r["upper"] is not None else r["point"]
                                  for _, r in points), colors.get(branch)))
    unit = WINDOW_LABELS[period]
    caption = f"Relative difference to {reference} by {unit}"
    return caption, line_plot(lines, title=f"{metric}: {caption}", x_label=unit,
                              y_label="rel. diff.", markers=True, zero_line=True,
                              percent_y=True, integer_x=True)


def panels(metadata: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
           overview: Sequence[Group], selection: Selection, time_series: PeriodRecords,
           time_period: str, colors: Mapping[str, str]) -> list[Panel]:
    """One panel per metric of the overview, in its order."""
    reference = metadata.get("reference_branch")
    info: Mapping[str, Mapping[str, Any]] = metadata.get("metrics", {})
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by_metric.setdefault(r["metric"], []).append(r)
    out = []
    for group in overview:
        for metric in group.metrics:
            rows = tuple(r for r in group.rows if r.metric == metric)
            if not rows:
                continue
            mine, meta, statistic = by_metric[metric], info.get(metric, {}), rows[0].statistic
            better = bool(meta.get("bigger_is_better", True))
            transform = rows[0].transform
            scale = f" ({transform})" if transform else ""
            plots: list[tuple[str, str]] = []
            if any(r.value.point is not None for r in rows):
                plots.append((f"Estimate per branch{scale}", interval_plot(
                    [IntervalRow(r.branch, r.value.point, r.value.lower, r.value.upper, r.color)
                     for r in rows], title=f"{metric}: {statistic} per branch")))
            relative = [IntervalRow(r.branch, r.relative.point, r.relative.lower,
                                    r.relative.upper, r.color, r.significance or "neutral")
                        for r in rows if r.relative]
            if relative:
                plots.append((f"Relative difference to {reference}", interval_plot(
                    relative, title=f"{metric}: relative difference", zero_line=True,
                    percent=True)))
            over_time = _over_time(time_series, time_period, metric, statistic, selection,
                                   reference, colors)
            if over_time:
                plots.append(over_time)
            shown = []
            for name, caption, step in DISTRIBUTIONS:
                treated = transform_of(metadata, metric, name)
                svg = _distribution(mine, name, f"{metric}: {caption}", step, colors, treated)
                if svg:
                    shown.append(name)
                    plots.append((caption + (f" of values after {treated}" if treated else ""),
                                  svg))
            out.append(Panel(metric, meta.get("friendly_name") or metric,
                             meta.get("description") or "", better, statistic, transform, rows,
                             tuple(plots), _notes(mine, (statistic,)), _notes(mine, shown)))
    return out

