"""Many window tables' requests in one query, written once per request *template*.

The statistics of an experiment's window tables ask the same questions of every window with
different numbers: a clipping threshold, a fitted slope, a grid, the ranks of a decile. A
template is a request with those data-derived numbers ("free" parameters) taken out; the
requests of one template in different parts (window tables) of a combined query share one SQL
expression, and each free parameter that differs between them is a `Slot`: a column of
constants that each part's rows carry (`_p0`, `_p1`, ...; NULL in a part it has no value
for), which `engine.sql.treatments.number` renders as that column. The query's text and the
warehouse's planning then grow with templates, not with windows x requests, and no row
evaluates a CASE over parts.

Free parameters: the arguments of clipping, imputation and division steps, grid points, the
linear-binning origin and step, the HC2 fit, and an order statistic's rank windows (a
`PerPart`). Only finite nonzero floats are free: 0, NaN and infinities choose different SQL
(see `treatments._divide`), so they stay in the template.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from engine.statistics.summaries import (
    CLIP_LOWER,
    CLIP_UPPER,
    DIVIDE,
    FILL_NONFINITE,
    GridCounts,
    LinearBins,
    OrderStatistics,
    Request,
    Residuals,
    Step,
)

PART = "_win"  # the column numbering the parts of a combined query
_FREE_STEPS = frozenset((CLIP_UPPER, CLIP_LOWER, DIVIDE, FILL_NONFINITE))
_FREE_FIELDS: dict[type, frozenset[str]] = {
    GridCounts: frozenset({"grid"}), LinearBins: frozenset({"origin", "delta"}),
    Residuals: frozenset({"centre", "beta", "curve", "alpha", "lever", "cross"})}
_WINDOWS = (OrderStatistics, "windows")


def _refuse(self: Any, *_: Any) -> Any:
    raise TypeError("a Slot is a per-part parameter: render it with treatments.number, "
                    "never compute with it")


class Slot(float):
    """A free float parameter with one value per part; as a float it is the first part's
    value (only its kind is ever looked at: finite and nonzero in every part). Arithmetic
    raises, so no builder can fold one part's value into every part's SQL."""

    values: tuple[tuple[int, float], ...]
    name: str  # its column

    def __new__(cls, values: Mapping[int, float], name: str) -> Slot:
        items = tuple(sorted(values.items()))
        slot = super().__new__(cls, items[0][1])
        slot.values, slot.name = items, name
        return slot

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Slot) and self.values == other.values

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return f"Slot({dict(self.values)!r}, {self.name!r})"

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _refuse
    __neg__ = __abs__ = _refuse


class PerPart(tuple):
    """An order statistic's rank windows, per part: ((part, windows), ...)."""

    @property
    def by_part(self) -> dict[int, Any]:
        return dict(self)


def _free(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value != 0.0


def _map(node: Any, f: Callable[[Any], Any], free: bool = False) -> Any:
    """`node` with `f` applied to each free parameter, in a fixed order."""
    if isinstance(node, Step):
        return Step(node.op, f(node.argument)) if (
            node.op in _FREE_STEPS and _free(node.argument)) else node
    if is_dataclass(node) and not isinstance(node, type):
        free_fields = _FREE_FIELDS.get(type(node), frozenset())
        return type(node)(**{
            field.name: (f(getattr(node, field.name))
                         if (type(node), field.name) == _WINDOWS
                         else _map(getattr(node, field.name), f, field.name in free_fields))
            for field in fields(node)})
    if isinstance(node, tuple):
        return tuple(_map(item, f, free) for item in node)
    return f(node) if free and _free(node) else node


class _Marker:
    """Where a template has a free parameter (one object: templates compare equal)."""

    def __repr__(self) -> str:
        return "<free>"


_MARK = _Marker()


def free_parameters(request: Request) -> list[Any]:
    """The request's free parameters, in `_map`'s order."""
    found: list[Any] = []
    _map(request, lambda v: found.append(v) or v)
    return found


@dataclass(frozen=True)
class Instance:
    part: int
    position: int  # in the batch the requests came in
    request: Request


@dataclass(frozen=True)
class Template:
    """The request written into the query (free parameters that differ are Slots or a
    PerPart) and the requests it answers, at most one per part."""
    request: Request
    instances: tuple[Instance, ...]

    @property
    def parts(self) -> frozenset[int]:
        return frozenset(i.part for i in self.instances)


def templates(instances: Iterable[Instance]) -> list[Template]:
    """Instances grouped by template (a part asking one template twice gets two), in order
    of first appearance; their Slots are named `_p0`, `_p1`, ... across all templates."""
    groups: dict[Any, list[Instance]] = {}
    seen: dict[tuple[Any, int], int] = {}
    for instance in instances:
        shape = _map(instance.request, lambda v: _MARK)
        occurrence = seen.get((shape, instance.part), 0)
        seen[(shape, instance.part)] = occurrence + 1
        groups.setdefault((shape, occurrence), []).append(instance)
    names = (f"_p{n}" for n in itertools.count())
    return [Template(_shared(group, names), tuple(group)) for group in groups.values()]


def slot_columns(templates_: Iterable[Template]) -> dict[int, dict[str, float]]:
    """Per part, the value of each Slot column of the templates' requests."""
    columns: dict[int, dict[str, float]] = {}
    for template in templates_:
        for value in free_parameters(template.request):
            if isinstance(value, Slot):
                for part, v in value.values:
                    columns.setdefault(part, {})[value.name] = v
    return columns


def _shared(group: list[Instance], names: Iterator[str]) -> Request:
    if len(group) == 1:
        return group[0].request
    columns = zip(*(free_parameters(i.request) for i in group))
    merged = []
    for values in columns:
        if all(v == values[0] for v in values[1:]):
            merged.append(values[0])
        elif isinstance(values[0], float):
            merged.append(Slot({i.part: v for i, v in zip(group, values)}, next(names)))
        else:  # rank windows
            merged.append(PerPart((i.part, v) for i, v in zip(group, values)))
    pending = iter(merged)
    return _map(group[0].request, lambda v: next(pending))
