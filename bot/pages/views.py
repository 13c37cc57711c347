"""What an experiment's result page shows: the selection, the overview table and its groups.

Pure over an `ExportIndex` (see `engine.results.store`); the Flask blueprint only renders it,
and `bot.pages.panels` draws the per-metric detail below the overview.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from engine.results.store import ExportIndex, PeriodRecords

# The statistic a metric leads with, best first; the selector offers the others it has.
MAIN_STATISTICS = ("bootstrap_mean", "binomial", "linear_model_mean", "population_ratio",
                   "per_client_dau_impact", "sum", "count")
DISTRIBUTIONS = ("deciles", "kernel_density_estimate", "empirical_cdf")
DEFAULT_PERIOD_ORDER = ("overall", "weekly", "days28", "daily", "preenrollment_weekly",
                        "preenrollment_days28")
# Default metrics Experimenter treats as guardrails (retention, engagement, search, crashes).
GUARDRAILS = ("retained", "days_of_use", "search_count", "unenroll", "main_crashes",
              "content_crashes", "crashed")
WINDOW_LABELS = {"daily": "day", "weekly": "week", "days28": "28-day window"}


@dataclass(frozen=True)
class Selection:
    segment: str
    basis: str
    period: str
    window: str | None
    statistic: str | None  # the statistic asked for where a metric has it; None: each default
    segments: tuple[str, ...]
    bases: tuple[str, ...]
    periods: tuple[str, ...]
    windows: tuple[str, ...]
    statistics: tuple[str, ...]  # offered by the selector: metrics have several of these

    def query(self, **change: str) -> dict[str, str]:
        """URL query of this selection with some keys changed (the window resets with period)."""
        values = {"segment": self.segment, "basis": self.basis, "period": self.period}
        if self.window is not None and "period" not in change:
            values["window"] = self.window
        if self.statistic is not None:
            values["statistic"] = self.statistic
        values.update(change)
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Estimate:
    point: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class OverviewRow:
    metric: str
    friendly_name: str
    branch: str
    color: str
    statistic: str
    is_reference: bool
    n: int | None
    value: Estimate
    relative: Estimate | None  # relative uplift to the reference branch
    p_adjusted: float | None  # Holm-adjusted p-value of the relative uplift
    significance: str | None  # "good" | "bad" | "neutral" (by the adjusted p-value)
    state: str
    reason: str | None
    transform: str | None  # e.g. "log(base=10)", when the statistic saw transformed values


@dataclass(frozen=True)
class Group:
    title: str
    metrics: tuple[str, ...]
    rows: tuple[OverviewRow, ...]


def _choose(wanted: str | None, options: Sequence[str], preferred: Sequence[str]) -> str | None:
    if wanted in options:
        return wanted
    return next((p for p in preferred if p in options), options[0] if options else None)


def main_statistics(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The point-estimate statistics among records, best first."""
    present = dict.fromkeys(r["statistic"] for r in records if r["statistic"] not in DISTRIBUTIONS)
    return [s for s in MAIN_STATISTICS if s in present] + [
        s for s in present if s not in MAIN_STATISTICS]


def select(index: ExportIndex, slug: str, args: Mapping[str, str]
           ) -> tuple[Selection, tuple[Mapping[str, Any], ...], PeriodRecords]:
    """The selection for a request's query args (sensible defaults), its records and the
    selected period's records (every window, for plots over time)."""
    periods = index.periods(slug)
    period = _choose(args.get("period"), periods, DEFAULT_PERIOD_ORDER) or "overall"
    data = index.statistics(slug, period)
    segment = _choose(args.get("segment"), data.segments, ("all",)) or "all"
    basis = _choose(args.get("basis"), data.bases, ("enrollments",)) or "enrollments"
    window = _choose(args.get("window"), data.windows, data.windows[-1:])
    chosen = data.select(segment, basis, window)
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for r in chosen:
        by_metric.setdefault(r["metric"], []).append(r)
    several = [main_statistics(rs) for rs in by_metric.values()]
    offered = tuple(s for s in MAIN_STATISTICS if any(s in m for m in several if len(m) > 1))
    statistic = args.get("statistic") if args.get("statistic") in offered else None
    return (Selection(segment, basis, period, window, statistic, data.segments, data.bases,
                      tuple(periods), data.windows, offered), chosen, data)


def statistic_for(records: Sequence[Mapping[str, Any]], selection: Selection) -> str | None:
    options = main_statistics(records)
    return _choose(selection.statistic, options, ()) if options else None


def significance(relative: Mapping[str, Any] | None, bigger_is_better: bool) -> str | None:
    """Good, bad or neutral by the Holm-adjusted p-value at the record's own level."""
    if relative is None or relative.get("point") is None:
        return None
    p = relative.get("p_value_holm")
    if p is None:
        return None
    alpha = 1 - (relative.get("ci_width") or 0.95)
    if p >= alpha:
        return "neutral"
    return "good" if (relative["point"] > 0) == bigger_is_better else "bad"


def transform_of(metadata: Mapping[str, Any], metric: str, statistic: str) -> str | None:
    treatments = (metadata.get("metrics", {}).get(metric, {}).get("pre_treatments") or {})
    logs = [t for t in treatments.get(statistic, ()) if t.split("(")[0] == "log"]
    return logs[0] if logs else None


def branch_order(metadata: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The reference branch first, then the experiment's branches, then any other."""
    configured = [b["slug"] for b in metadata.get("branches", [])]
    reference = metadata.get("reference_branch")
    found = list(dict.fromkeys(r["branch"] for r in records))
    return list(dict.fromkeys([*([reference] if reference else []), *configured, *found]))


def _rows(metadata: Mapping[str, Any], metric: str, records: Sequence[Mapping[str, Any]],
          selection: Selection, colors: Mapping[str, str]) -> list[OverviewRow]:
    statistic = statistic_for(records, selection)
    if statistic is None:
        return []
    info = metadata.get("metrics", {}).get(metric, {})
    reference = metadata.get("reference_branch")
    mine = [r for r in records if r["statistic"] == statistic and r["parameter"] is None]
    relative = {r["branch"]: r for r in mine if r["comparison"] == "relative_uplift"
                and r["comparison_to_branch"] in (reference, None)}
    better = bool(info.get("bigger_is_better", True))
    out = []
    for r in sorted((r for r in mine if r["comparison"] is None),
                    key=lambda r: list(colors).index(r["branch"]) if r["branch"] in colors else 99):
        rel = relative.get(r["branch"])
        out.append(OverviewRow(
            metric, info.get("friendly_name") or metric, r["branch"],
            colors.get(r["branch"], "#000"), statistic, r["branch"] == reference, r.get("n"),
            Estimate(r["point"], r["lower"], r["upper"]),
            Estimate(rel["point"], rel["lower"], rel["upper"]) if rel else None,
            rel.get("p_value_holm") if rel else None, significance(rel, better),
            r.get("state") or "ok", r.get("reason") or None,
            transform_of(metadata, metric, statistic)))
    return out


def groups(metadata: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
           selection: Selection, colors: Mapping[str, str]) -> list[Group]:
    """Overview rows (one per metric and branch) grouped as Experimenter does: primary outcome,
    secondary outcomes, the experiment's own (secondary) metrics, guardrails, default metrics;
    metrics sorted by the name shown."""
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by_metric.setdefault(r["metric"], []).append(r)
    info = metadata.get("metrics", {})

    def shown(metric: str) -> str:
        return str(info.get(metric, {}).get("friendly_name") or metric).lower()

    left = set(by_metric)
    sections: list[tuple[str, list[str]]] = []
    for i, (slug, outcome) in enumerate(metadata.get("outcomes", {}).items()):
        mine = [m for m in outcome.get("metrics", []) if m in left]
        left -= set(mine)
        name = outcome.get("friendly_name") or slug
        sections.append((f"{'Primary' if i == 0 else 'Secondary'} outcome: {name}", mine))
    defaults = set(metadata.get("default_metrics", []))
    own = [m for m in left if m not in defaults]
    sections.append(("Secondary metrics" if defaults else "Metrics", own))
    sections.append(("Guardrails", [m for m in left & defaults if m in GUARDRAILS]))
    sections.append(("Default metrics", [m for m in left & defaults if m not in GUARDRAILS]))
    out = []
    for title, metrics in sections:
        ordered = sorted(metrics, key=shown)
        rows = [row for m in ordered for row in _rows(metadata, m, by_metric[m], selection, colors)]
        if ordered:
            out.append(Group(title, tuple(ordered), tuple(rows)))
    return out
