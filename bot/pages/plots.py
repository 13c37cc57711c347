"""Server-rendered SVG plots for the result pages: no JavaScript, no network, no fonts to fetch.

Two shapes cover every panel: `interval_plot` (a point and interval per row, e.g. branches or
the forest plot of relative differences) and `line_plot` (series over x with optional bands,
e.g. KDE, ECDF, deciles, windows over time). Pure functions from numbers to SVG text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

# Branch colours, given out in the experiment's branch order (reference first) so a branch has
# one colour in every plot and table; no greens or reds, which mean significance.
PALETTE = ("#0b5cad", "#e08a00", "#a3479b", "#2aa6c9", "#6b4c9a", "#8c6d31", "#d67fb3", "#3c4a5c")
# Significance, a palette of its own: better, worse, no significant change.
GOOD, BAD, NEUTRAL = "#1a7f37", "#cf222e", "#8c959f"
SIGNIFICANCE = {"good": GOOD, "bad": BAD, "neutral": NEUTRAL}


def branch_colors(branches: Sequence[str]) -> dict[str, str]:
    return {b: PALETTE[i % len(PALETTE)] for i, b in enumerate(dict.fromkeys(branches))}


@dataclass(frozen=True)
class IntervalRow:
    label: str
    point: float | None
    lower: float | None = None
    upper: float | None = None
    color: str | None = None  # the branch colour; the label gets a swatch of it
    significance: str | None = None  # "good" | "bad" | "neutral": colours the mark instead


@dataclass(frozen=True)
class Series:
    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None
    color: str | None = None


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        return self.start + (value - self.lo) / span * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _fmt(value: float, percent: bool = False) -> str:
    if percent:
        return f"{value * 100:.3g}%"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.2e}"
    return f"{value:.4g}"


def _extent(values: Sequence[float], include_zero: bool = False) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if include_zero:
        finite.append(0.0)
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def _svg(width: int, height: int, title: str, body: list[str], kind: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot plot-{kind}" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _empty(title: str, kind: str) -> str:
    return _svg(480, 60, title, ['<text x="240" y="34" text-anchor="middle" class="empty">'
                                 "no data</text>"], kind)


def _x_axis(scale: _Scale, y: float, percent: bool, label: str = "",
            integer: bool = False) -> list[str]:
    parts = [f'<line class="axis" x1="{scale.start:.1f}" x2="{scale.end:.1f}" '
             f'y1="{y:.1f}" y2="{y:.1f}"/>']
    ticks = nice_ticks(scale.lo, scale.hi)
    for tick in ([t for t in ticks if float(t).is_integer()] or ticks) if integer else ticks:
        x = scale(tick)
        parts.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{y:.1f}" y2="{y + 4:.1f}"/>'
                     f'<text class="tick-label" x="{x:.1f}" y="{y + 16:.1f}" '
                     f'text-anchor="middle">{escape(_fmt(tick, percent))}</text>')
    if label:
        middle = (scale.start + scale.end) / 2
        parts.append(f'<text class="axis-label" x="{middle:.1f}" y="{y + 32:.1f}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    return parts


def _y_axis(scale: _Scale, x: float, x_end: float, label: str = "",
            percent: bool = False) -> list[str]:
    parts = [f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{scale.start:.1f}" '
             f'y2="{scale.end:.1f}"/>']
    for tick in nice_ticks(scale.lo, scale.hi):
        y = scale(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x_end:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick-label" x="{x - 6:.1f}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(_fmt(tick, percent))}</text>')
    if label:
        parts.append(f'<text class="axis-label" x="{x - 46:.1f}" y="{scale.end - 8:.1f}">'
                     f"{escape(label)}</text>")
    return parts


def interval_plot(rows: Sequence[IntervalRow], *, title: str, zero_line: bool = False,
                  percent: bool = False) -> str:
    """One row per label: a dot at the point and a bar from lower to upper, in the row's
    significance colour if it has one, else in its (branch) colour."""
    usable = [r for r in rows if r.point is not None]
    if not usable:
        return _empty(title, "interval")
    width, left, right, row_h = 640, 150, 24, 34
    height = 30 + row_h * len(rows) + 40
    values = [v for r in usable for v in (r.point, r.lower, r.upper) if v is not None]
    lo, hi = _extent(values, include_zero=zero_line)
    scale = _Scale(lo, hi, left, width - right)
    body = []
    if zero_line:
        x0 = scale(0.0)
        body.append(f'<line class="zero" x1="{x0:.1f}" x2="{x0:.1f}" y1="16" '
                    f'y2="{height - 40:.1f}"/>')
    for i, row in enumerate(rows):
        y = 30 + row_h * i + row_h / 2
        body.append(f'<text class="row-label" x="{left - 22}" y="{y + 4:.1f}" '
                    f'text-anchor="end">{escape(row.label)}</text>')
        if row.color:
            body.append(f'<rect class="swatch" x="{left - 16}" y="{y - 5:.1f}" width="10" '
                        f'height="10" fill="{row.color}"/>')
        if row.point is None:
            body.append(f'<text class="empty" x="{left + 8}" y="{y + 4:.1f}">no estimate</text>')
            continue
        color = (SIGNIFICANCE.get(row.significance or "") or row.color
                 or PALETTE[i % len(PALETTE)])
        if row.lower is not None and row.upper is not None:
            body.append(f'<line class="interval" stroke="{color}" x1="{scale(row.lower):.1f}" '
                        f'x2="{scale(row.upper):.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        text = _fmt(row.point, percent)
        body.append(f'<circle class="point" fill="{color}" cx="{scale(row.point):.1f}" '
                    f'cy="{y:.1f}" r="5"><title>{escape(row.label)}: {escape(text)}</title>'
                    "</circle>")
    body += _x_axis(scale, height - 36, percent)
    return _svg(width, height, title, body, "interval")


def line_plot(series: Sequence[Series], *, title: str, x_label: str = "", y_label: str = "",
              step: bool = False, markers: bool = False, zero_line: bool = False,
              percent_x: bool = False, percent_y: bool = False, integer_x: bool = False) -> str:
    """Series as lines (or steps), with shaded bands where lower/upper are given."""
    usable = [s for s in series if s.xs]
    if not usable:
        return _empty(title, "line")
    width, height, left, right, top, bottom = 640, 300, 64, 130, 16, 48
    xs = [x for s in usable for x in s.xs]
    ys = [y for s in usable for y in (*s.ys, *(s.lower or ()), *(s.upper or ()))]
    x_lo, x_hi = _extent(xs)
    y_lo, y_hi = _extent(ys, include_zero=zero_line)
    sx = _Scale(x_lo, x_hi, left, width - right)
    sy = _Scale(y_lo, y_hi, height - bottom, top)
    body = _y_axis(sy, left, width - right, y_label, percent_y)
    if zero_line:
        body.append(f'<line class="zero" x1="{left}" x2="{width - right}" y1="{sy(0.0):.1f}" '
                    f'y2="{sy(0.0):.1f}"/>')
    for i, s in enumerate(usable):
        color = s.color or PALETTE[i % len(PALETTE)]
        if s.lower is not None and s.upper is not None:
            ring = [(sx(x), sy(v)) for x, v in zip(s.xs, s.upper)]
            ring += [(sx(x), sy(v)) for x, v in reversed(list(zip(s.xs, s.lower)))]
            body.append(f'<path class="band" fill="{color}" d="{_path(ring)}Z"/>')
        points = [(sx(x), sy(y)) for x, y in zip(s.xs, s.ys)]
        if step:
            points = [p for a, b in zip(points, points[1:]) for p in (a, (b[0], a[1]))] + points[-1:]
        body.append(f'<path class="line" stroke="{color}" d="{_path(points)}"/>')
        if markers:
            body += [f'<circle class="point" fill="{color}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>'
                     for x, y in ((sx(a), sy(b)) for a, b in zip(s.xs, s.ys))]
        legend_y = top + 14 + 18 * i
        body.append(f'<rect x="{width - right + 14}" y="{legend_y - 9}" width="12" height="12" '
                    f'fill="{color}"/><text class="legend" x="{width - right + 32}" '
                    f'y="{legend_y + 1}">{escape(s.label)}</text>')
    body += _x_axis(sx, height - bottom, percent_x, x_label, integer_x)
    return _svg(width, height, title, body, "line")


def _path(points: Sequence[tuple[float, float]]) -> str:
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points)
