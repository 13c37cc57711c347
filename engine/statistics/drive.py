"""Run many statistics in lock-step so that each round's requests go to the source together.

Every statistic of a window table (metrics x statistics x segments) is a generator of
requests (summaries.py). A round collects what every live generator asks for, removes
duplicates (two statistics of one metric share its moments), lets the source answer the whole
batch at once (the warehouse: a few queries per round, not one per statistic) and hands each
generator its answers. A generator that raises ends with its exception as its result; the
others go on. A batch that fails is thrown into every generator waiting on it, unless the source itself is broken (`SourceBroken`).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.statistics.resample import replicates
from engine.statistics.summaries import LOCAL, Request, Statistic

Evaluate = Callable[[list[Request]], list[Any]]


def in_process(requests: list[Request]) -> list[Any]:
    """Local requests answered here (the engine passes a worker pool's map instead)."""
    return [replicates(r) for r in requests]
MAX_ROUNDS = 64


class SourceBroken(Exception):
    """The means of answering are gone (a worker process died): the whole step stops rather
    than record every statistic as failed."""  # a statistic asks a handful of times; more is a bug, not a workload


def drive(statistics: Sequence[Statistic], evaluate: Evaluate,
          local: Evaluate = in_process) -> list[Any]:
    """The return value of every generator, or the exception it ended with. `evaluate`
    answers requests over the rows, `local` the local ones (summaries.LOCAL). A request
    answered in an earlier round is answered again from memory."""
    results: list[Any] = [None] * len(statistics)
    pending: dict[int, Any] = {}
    known: dict[Request, Any] = {}
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
            new = [r for r in unique if r not in known]
            known.update(zip(new, _answer(new, evaluate, local) if new else []))
            answers = [known[r] for r in unique]
            failure: BaseException | None = None
        except SourceBroken:
            raise
        except Exception as error:  # noqa: BLE001 - thrown into the waiting statistics
            answers, failure = [], error
        waiting, pending = pending, {}
        for i, asked in waiting.items():
            gen = statistics[i]
            if failure is not None:
                _step(i, gen, results, pending, lambda g, e=failure: g.throw(_own(e)))
                continue
            got = tuple(answers[unique[r]] for r in _as_tuple(asked))
            reply = got if isinstance(asked, tuple) else got[0]
            _step(i, gen, results, pending, lambda g, v=reply: g.send(v))
    raise RuntimeError(f"statistics still asking after {MAX_ROUNDS} rounds")


def _own(error: BaseException) -> BaseException:
    """A copy of `error` for one statistic: one object thrown into thousands of generators
    grows a traceback frame per generator, and formatting each error record's grew with it."""
    try:
        mine = copy.copy(error)
    except Exception:  # noqa: BLE001 - an exception that cannot be copied: share it
        return error
    return mine.with_traceback(error.__traceback__)


def _answer(requests: list[Request], evaluate: Evaluate, local: Evaluate) -> list[Any]:
    """Answers in request order: rows' requests in one batch, local ones in another."""
    here = [r for r in requests if isinstance(r, LOCAL)]
    there = [r for r in requests if not isinstance(r, LOCAL)]
    answers = dict(zip(map(id, there), evaluate(there) if there else []))
    answers.update(zip(map(id, here), local(here) if here else []))
    return [answers[id(r)] for r in requests]


def together(*parts: Statistic) -> Statistic:
    """Run sub-generators side by side inside one statistic: each round asks what all of
    them ask; returns their results as a tuple (fewer rounds than one after another)."""
    results: list[Any] = [None] * len(parts)
    asked: dict[int, Any] = {}
    for i, part in enumerate(parts):
        try:
            asked[i] = next(part)
        except StopIteration as stop:
            results[i] = stop.value
    while asked:
        flat = tuple(r for i in asked for r in _as_tuple(asked[i]))
        answers = iter((yield flat))
        waiting, asked = asked, {}
        for i, question in waiting.items():
            got = tuple(next(answers) for _ in _as_tuple(question))
            try:
                asked[i] = parts[i].send(got if isinstance(question, tuple) else got[0])
            except StopIteration as stop:
                results[i] = stop.value
    return tuple(results)


@dataclass(frozen=True)
class Tagged:
    """A request about the rows of one of several sources (e.g. one window table of many)."""
    key: Any
    request: Request


def tagged(key: Any, statistic: Statistic) -> Statistic:
    """`statistic` with its row requests tagged by `key` (local ones left as they are), so
    statistics of many sources run in one drive and each round's requests of every source
    can be answered together."""
    def wrap(asked: Any) -> Any:
        if isinstance(asked, tuple):
            return tuple(wrap(r) for r in asked)
        return asked if isinstance(asked, LOCAL) else Tagged(key, asked)
    try:
        asked = next(statistic)
        while True:
            try:
                reply = yield wrap(asked)
            except Exception as error:  # noqa: BLE001 - a failed batch, passed on
                asked = statistic.throw(error)
                continue
            asked = statistic.send(reply)
    except StopIteration as stop:
        return stop.value


def ask(request: Request) -> Statistic:
    """A generator asking one request: a part for `together`."""
    return (yield request)


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
