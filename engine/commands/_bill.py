"""`jetstream analyse --dry-run`: the bill of the run, each query dry-run, nothing executed."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.table import Table

from engine.backends.base import Backend
from engine.check.bill import Bill, QueryCost, bill, human_bytes
from engine.config.repository import Repository
from engine.config.resolve.platforms import resolve_experiment
from engine.experimenter import Registry
from engine.plan.analysis_plan import client_windows_table
from engine.run.experiment import check_runnable, windows_with_results


def run_bills(config_root: Path, slugs: list[str], day: dt.date, backend: Backend,
              registry: Registry | None, repo: Repository, recompute: bool
              ) -> list[tuple[str, Bill | None, str]]:
    """(slug, bill or None, why not) per experiment: the queries `jetstream analyse` would run
    for `day` (a full recompute, or a daily run against the results already in `backend`)."""
    bills: list[tuple[str, Bill | None, str]] = []
    for slug in slugs:
        spec, _ = resolve_experiment(config_root, slug, registry=registry, repository=repo)
        if spec is None:
            bills.append((slug, None, "the config does not resolve"))
            continue
        runnable = check_runnable(spec.experiment, day)
        if runnable.status != "run":
            bills.append((slug, None, runnable.reason))
            continue
        done = None if recompute else windows_with_results(backend, spec)
        previous = backend.table_exists(client_windows_table(slug))
        bills.append((slug, bill(spec, backend, day, done, previous), ""))
    return bills


def _size(cost: QueryCost, backend: Backend) -> str:
    if cost.findings:
        return "fails: " + cost.findings[0].message.splitlines()[0][:80]
    if cost.bytes is None:
        return f"no estimate on {backend.name}"
    return f"{human_bytes(cost.bytes)} ({cost.bytes} B)"


def bill_table(bills: list[tuple[str, Bill | None, str]], backend: Backend,
               warn_bytes: int) -> tuple[Table, bool]:
    """The bills as one table, and whether any query failed its dry run."""
    table = Table(title=f"Dry run on {backend.name}: what the run would bill (nothing executed)")
    for column in ("experiment", "date", "query", "windows", "bytes"):
        table.add_column(column, justify="right" if column == "bytes" else "left")
    failed = False
    for slug, estimate, reason in bills:
        if estimate is None:
            table.add_row(slug, "", "", reason, "nothing to run")
            continue
        for cost in estimate.queries:
            failed = failed or bool(cost.findings)
            table.add_row(slug, estimate.date.isoformat(), cost.table, cost.what,
                          _size(cost, backend))
        total = estimate.total
        note = "no window to compute" if not estimate.queries else ""
        if total is not None:
            note = human_bytes(total) + ("  [red]above the warning threshold "
                                         f"{human_bytes(warn_bytes)}[/]" if total > warn_bytes else "")
        table.add_row(slug, "", "[b]total[/]", f"{len(estimate.queries)} queries", note)
    return table, failed
