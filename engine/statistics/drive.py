"""Run many statistics in lock-step so that each round's requests go to the source together.

Every statistic of a window table (metrics x statistics x segments) is a generator of
requests (summaries.py). A round collects what every live generator asks for, removes
duplicates (two statistics of one metric share its moments), lets the source answer the whole
batch at once (the warehouse: a few queries per round, not one per statistic) and hands each
generator its answers. A generator that raises ends with its exception as its result; the
others go on. A batch that fails is thrown into every generator waiting on it.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from engine.statistics.summaries import Request, Statistic

Evaluate = Callable[[list[Request]], list[Any]]
MAX_ROUNDS = 64  # a statistic asks a handful of times; more is a bug, not a workload


def drive(statistics: Sequence[Statistic], evaluate: Evaluate) -> list[Any]:
    """The return value of every generator, or the exception it ended with."""
    results: list[Any] = [None] * len(statistics)
    pending: dict[int, Any] = {}
    for i, gen in enumerate(statistics):
        _step(i, gen, results, pending, lambda g: next(g))
    for _ in range(MAX_ROUNDS):
        if not pending:
            return results
        unique: dict[Request, int] = {}
        for asked in pending.values():
            for request in _as_tuple(asked):
                unique.setdefault(request, len(unique))
        try:
            answers = evaluate(list(unique))
            failure: BaseException | None = None
        except Exception as error:  # noqa: BLE001 - thrown into the waiting statistics
            answers, failure = [], error
        waiting, pending = pending, {}
        for i, asked in waiting.items():
            gen = statistics[i]
            if failure is not None:
                _step(i, gen, results, pending, lambda g, e=failure: g.throw(e))
                continue
            got = tuple(answers[unique[r]] for r in _as_tuple(asked))
            reply = got if isinstance(asked, tuple) else got[0]
            _step(i, gen, results, pending, lambda g, v=reply: g.send(v))
    raise RuntimeError(f"statistics still asking after {MAX_ROUNDS} rounds")


def run_one(statistic: Statistic, evaluate: Evaluate) -> Any:
    """One statistic's records (its exception re-raised)."""
    result = drive([statistic], evaluate)[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _as_tuple(asked: Any) -> tuple[Request, ...]:
    return asked if isinstance(asked, tuple) else (asked,)


def _step(i: int, gen: Statistic, results: list[Any], pending: dict[int, Any],
          advance: Callable[[Statistic], Any]) -> None:
    try:
        pending[i] = advance(gen)
    except StopIteration as stop:
        results[i] = stop.value
    except Exception as error:  # noqa: BLE001 - this statistic's failure, recorded
        results[i] = error
