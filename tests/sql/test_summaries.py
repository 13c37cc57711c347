"""The warehouse's summaries (engine.sql.summaries on a real DuckDB file) equal the numpy
oracle's (engine.statistics.frame_source) on the same client rows: every request type, every
pre-treatment step, four distributions with nulls, NaN and infinities, a one-client branch,
a branch of the context without rows, two segments, and every path of the resampling cells.
Integers exactly; floats to rel 1e-9 (with an absolute floor of 1e-9 of the answer's own scale,
where a sum of squared deviations is 0 in one and 1e-30 in the other)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from engine.backends.duckdb import DuckDBBackend
from engine.run.warehouse_source import WarehouseSource
from engine.sql.dialect import render
from engine.sql.summaries import summary_queries
from engine.sql.treatments import number
from engine.statistics import resample
from engine.statistics.frame_source import FrameSource
from engine.statistics.summaries import (
    ALL_STEPS,
    CLIP_LOWER,
    CLIP_UPPER,
    DIVIDE,
    DROP_NONFINITE,
    DROP_NULL,
    FILL_NONFINITE,
    FILL_ZERO,
    LOG1P,
    POSITIVE,
    POSITIVE_LOG,
    BranchMoments,
    Column,
    GridCounts,
    LinearBins,
    Moments,
    OrderStatistics,
    ResampleCells,
    Residual,
    Residuals,
    RowSet,
    Runs,
    Step,
)

BRANCHES = ("control", "treatment", "solo", "empty")  # "empty" has no client
SOURCES = ("normal", "heavy", "counts", "flag")  # flag is BOOL
NAN_SOURCES = ("normal", "heavy", "counts")


def _frame(seed: int = 7, per_branch: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rows as the oracle sees them, the rows as stored: NaN marked, since a DuckDB
    table written from pandas stores NaN as NULL)."""
    rng = np.random.default_rng(seed)
    n = 2 * per_branch + 1
    branch = np.array(["control"] * per_branch + ["treatment"] * per_branch + ["solo"])
    heavy = np.where(rng.random(n) < 0.3, 0.0, np.round(rng.lognormal(2.0, 1.5, n), 1))
    heavy[rng.random(n) < 0.05] = 7.0  # a second atom
    frame = pd.DataFrame({
        "branch": branch,
        "normal": rng.normal(10.0, 3.0, n),
        "heavy": heavy,
        "counts": rng.poisson(1.5, n).astype(float),
        "visits": rng.poisson(4.0, n).astype(np.int64),
        # MAX_LEVELS distinct values in control, one more in treatment: both sides of the bound
        "levels": np.concatenate((np.arange(per_branch) % resample.MAX_LEVELS,
                                  np.arange(per_branch) % (resample.MAX_LEVELS + 1), [0])) * 0.5,
        "flag": pd.array(rng.random(n) < 0.4, dtype="boolean"),
        "cov": rng.normal(5.0, 2.0, n),
        "seg1": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        "seg2": pd.array(rng.random(n) < 0.2, dtype="boolean"),
    })
    frame.loc[rng.random(n) < 0.02, "flag"] = pd.NA
    frame.loc[rng.random(n) < 0.02, "seg1"] = pd.NA
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    stored = frame.copy()
    for name in NAN_SOURCES:
        values = frame[name].to_numpy().copy()
        pick = rng.random(n)
        values[pick < 0.02] = np.nan    # NULL or NaN
        values[(pick >= 0.02) & (pick < 0.03)] = np.inf
        values[(pick >= 0.03) & (pick < 0.035)] = -np.inf
        nan = (pick >= 0.035) & (pick < 0.045)
        values[nan] = np.nan
        frame[name] = values
        stored[name] = values
        stored[f"{name}_isnan"] = nan
    return frame, stored


def _relation() -> exp.Query:
    """The stored rows with their NaNs back (a per-client relation, ordered like window_rows)."""
    columns = ", ".join(f"IF({s}_isnan, CAST('nan' AS FLOAT64), {s}) AS {s}" for s in NAN_SOURCES)
    return sqlglot.parse_one(
        f"SELECT * EXCEPT ({', '.join(s + '_isnan' for s in NAN_SOURCES)}) "
        f"REPLACE ({columns}) FROM rows ORDER BY branch", read="bigquery")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    frame, stored = _frame()
    small, small_stored = _frame(seed=3, per_branch=780)  # levels < n <= EXACT_CLIENTS
    backend = DuckDBBackend(results=tmp_path_factory.mktemp("summaries") / "results.duckdb")
    backend.write_table("rows", stored)
    relation = _relation()
    backend.write_table("small_rows", small_stored)
    small_relation = relation.copy().transform(
        lambda n: exp.to_table("small_rows") if isinstance(n, exp.Table) else n)
    yield {"big": (WarehouseSource(backend, relation, {"flag", "seg1", "seg2"}), FrameSource(frame)),
           "small": (WarehouseSource(backend, small_relation, {"flag"}), FrameSource(small))}
    backend.close()


# --- comparison --------------------------------------------------------------------------

def _close(a: float, e: float, scale: float) -> bool:
    if math.isnan(e):
        return math.isnan(a)
    return a == e or abs(a - e) <= 1e-9 * max(abs(e), scale)


def _arrays(a: np.ndarray, e: np.ndarray) -> None:
    a, e = np.asarray(a), np.asarray(e)
    assert a.shape == e.shape
    if e.dtype.kind in "iub":
        assert a.dtype.kind in "iu" and np.array_equal(a, e)
        return
    finite = np.isfinite(e)
    assert np.array_equal(np.isfinite(a), finite) and np.array_equal(a[~finite], e[~finite],
                                                                     equal_nan=True)
    scale = float(np.max(np.abs(e[finite]), initial=0.0))
    assert np.all(np.abs(a[finite] - e[finite]) <= 1e-9 * np.maximum(np.abs(e[finite]), scale))


def _moments(a: BranchMoments, e: BranchMoments) -> None:
    assert (a.n_rows, a.n, a.nonzero, a.integral, a.distinct) == (
        e.n_rows, e.n, e.nonzero, e.integral, e.distinct)
    big = max(abs(e.minimum), abs(e.maximum)) if e.n else 0.0
    big_x = abs(e.total_x) / e.n if e.n else 0.0
    for name, scale in (("total", e.n * big), ("m2", e.n * big * big), ("minimum", big),
                        ("maximum", big), ("total_x", e.n * big_x),
                        ("m2_x", e.n * big_x * big_x), ("cross", e.n * big * big_x)):
        assert _close(getattr(a, name), getattr(e, name), scale), (name, a, e)


def same(a, e) -> None:
    if isinstance(e, dict):
        assert set(a) == set(e)
        for key in e:
            same(a[key], e[key])
    elif isinstance(e, BranchMoments):
        _moments(a, e)
    elif isinstance(e, Runs):
        _arrays(a.first_ranks, e.first_ranks)
        _arrays(a.values, e.values)
    elif isinstance(e, resample.Cells):
        _arrays(a.counts, e.counts)
        _arrays(a.means, e.means)
        assert (a.cov is None) == (e.cov is None)
        if e.cov is not None:
            _arrays(a.cov, e.cov)
    elif isinstance(e, Residual):
        scale = max(abs(e.weights), abs(e.weighted_z), abs(e.weighted_zz))
        for name in ("weights", "weighted_z", "weighted_zz"):
            assert _close(getattr(a, name), getattr(e, name), scale), (name, a, e)
    else:
        _arrays(a, e)


def check(source, requests) -> list:
    warehouse, oracle = source
    expected = oracle.evaluate(requests)
    got = warehouse.evaluate(requests)
    assert len(got) == len(expected)
    for request, a, e in zip(requests, got, expected):
        try:
            same(a, e)
        except AssertionError as err:
            raise AssertionError(f"{request}: {err}") from err
    return got


# --- requests ------------------------------------------------------------------------------

CHAINS: tuple[tuple[Step, ...], ...] = (
    (),
    (Step(DROP_NULL),),
    (Step(DROP_NONFINITE),),
    (Step(CLIP_UPPER, 12.5),),
    (Step(CLIP_LOWER, 1.0),),
    (Step(DIVIDE, 3.0),),
    (Step(DIVIDE, 0.0),),
    (Step(LOG1P),),
    (Step(LOG1P, 10.0),),
    (Step(FILL_ZERO),),
    (Step(FILL_NONFINITE, 0.25),),
    (Step(POSITIVE_LOG),),
    (Step(POSITIVE),),
    (Step(DROP_NONFINITE), Step(CLIP_UPPER, 30.0), Step(LOG1P)),
    (Step(FILL_ZERO), Step(CLIP_LOWER, -2.0), Step(DIVIDE, -0.5), Step(POSITIVE_LOG)),
)
ROWS = (RowSet("all"), RowSet("seg1"),
        RowSet("seg2", (Column("normal", (Step(DROP_NULL),)),)))


def test_chains_cover_every_step():
    assert {s.op for chain in CHAINS for s in chain} == set(ALL_STEPS)


def _columns(source: str) -> list[Column]:
    return [Column(source, chain) for chain in CHAINS]


@pytest.mark.parametrize("source", SOURCES)
def test_moments(sources, source):
    requests = [Moments(rows.with_column(c), c, distinct=(i % 2 == 0))
                for i, c in enumerate(_columns(source)) for rows in ROWS]
    covariate = Column("cov", (Step(FILL_NONFINITE, 0.0),))
    requests += [Moments(rows, Column(source, (Step(DROP_NONFINITE),)), x=covariate)
                 for rows in ROWS]
    requests.append(Moments(RowSet("all"), Column("visits"), x=Column("visits"), distinct=True))
    check(sources["big"], requests)


@pytest.mark.parametrize("source", SOURCES)
def test_order_statistics(sources, source):
    windows = ((None, 0, 4), (None, 2990, 3010), ("control", -3, 2), ("control", 1400, 1410),
               ("treatment", 2500, 10_000), ("solo", 0, 3), ("empty", 0, 5), ("control", 7, 3))
    requests = [OrderStatistics(rows, c, windows) for c in _columns(source) for rows in ROWS]
    got = check(sources["big"], requests)
    assert any(len(answer["control"].values) for answer in got)


def test_order_statistics_sharing_a_column(sources):
    """Deciles and a density rank the same values with different windows (and a pooled
    threshold the same column): the query sorts each distinct column once, and every request
    still gets exactly its own runs."""
    column = Column("visits", (Step(DROP_NULL),))
    requests = [OrderStatistics(RowSet("all"), column, (("control", 0, 1500), ("treatment", 5, 9))),
                OrderStatistics(RowSet("all"), column, (("control", 30, 31), ("control", 35, 90))),
                OrderStatistics(RowSet("all"), column, ((None, 2990, 3010),)),
                OrderStatistics(RowSet("seg1"), column, (("control", 0, 40),))]
    got = check(sources["big"], requests)
    assert len(got[0]["control"].values) > 1 and len(got[2][None].values)
    [query] = summary_queries(_relation(), requests, {"flag", "seg1", "seg2"})
    cases = [c for c in query.tree.find_all(exp.Case) if c.this and c.this.name == "_i"]
    assert [len(c.args["ifs"]) for c in cases] == [2]  # two distinct (rows, column) values


@pytest.mark.parametrize("source", SOURCES)
def test_grid_counts_and_linear_bins(sources, source):
    grid = (-math.inf, -1.0, 0.0, 0.1, 1.0, 2.0, 3.5, 9.999, 10.0, 12.25, 1e300, math.inf)
    requests: list = [GridCounts(rows, c, grid) for c in _columns(source) for rows in ROWS]
    requests.append(GridCounts(RowSet("all"), Column(source), ()))
    requests += [LinearBins(rows, c, -1.0, 0.37, 64) for c in _columns(source) for rows in ROWS]
    check(sources["big"], requests)


def test_residuals(sources):
    alpha = (("control", 10.0), ("treatment", 10.5), ("solo", 9.0), ("empty", 1.0))
    lever = (("control", 3e-4), ("treatment", 3.5e-4), ("solo", 0.999), ("empty", 0.0))
    cross = (("control", 1e-5), ("treatment", -2e-5), ("solo", 0.6), ("empty", 0.0))
    x = Column("cov", (Step(FILL_NONFINITE, 5.0),))
    requests = [Residuals(rows.with_column(y), y, x, 5.0, 0.8, 1e-5, alpha, lever, cross)
                for y in (Column("normal", (Step(DROP_NONFINITE),)), Column("heavy"),
                          Column("counts", (Step(FILL_ZERO), Step(LOG1P))))
                for rows in ROWS]
    requests.append(Residuals(RowSet("all"), Column("normal"), x, 5.0, 0.8, 1e-5,
                              alpha[:2], lever[:2], cross[:2]))
    got = check(sources["big"], requests)
    assert set(got[-1]) == {"control", "treatment"}


@pytest.mark.parametrize("size", ["big", "small"])
def test_resample_cells_every_path(sources, size):
    def one(name, *steps):
        return (Column(name, tuple(steps)),)

    requests = [
        ResampleCells(RowSet("all"), one("normal")),                          # bins, no atoms
        ResampleCells(RowSet("seg1"), one("normal", Step(DROP_NONFINITE))),
        ResampleCells(RowSet("all"), one("heavy")),                           # atoms + bins
        ResampleCells(RowSet("seg2"), one("heavy", Step(FILL_ZERO))),
        ResampleCells(RowSet("all"), one("heavy", Step(CLIP_UPPER, 40.0))),   # clip atom
        ResampleCells(RowSet("all"), one("counts")),                          # histogram
        ResampleCells(RowSet("all"), one("flag")),
        ResampleCells(RowSet("all"), one("visits")),
        ResampleCells(RowSet("all"), one("levels")),
        ResampleCells(RowSet("all"), one("normal"), exact=True),             # exact levels
        ResampleCells(RowSet("all"), one("heavy", Step(LOG1P)), exact=True),
        ResampleCells(RowSet("all"), (Column("normal"), Column("counts"))),  # 2-d
        ResampleCells(RowSet("seg1"), (Column("heavy"), Column("counts", (Step(FILL_ZERO),)))),
        ResampleCells(RowSet("all"), (Column("heavy"), Column("heavy", (Step(POSITIVE),)))),
        ResampleCells(RowSet("all"), (Column("counts"), Column("visits"))),  # 2-d histogram
    ]
    got = check(sources[size], requests)
    if size == "big":  # every scheme of cells_of was taken
        control = [answer["control"] for answer in got]
        assert any(c.cov is None and len(c.counts) <= resample.MAX_LEVELS for c in control)
        assert any(c.cov is None and len(c.counts) > resample.MAX_LEVELS for c in control)
        assert any(c.cov is not None and np.any(np.all(c.cov == 0, axis=1)) for c in control)
        assert any(c.cov is not None and not np.any(np.all(c.cov == 0, axis=1))
                   for c in control)
        assert any(c.means.shape[1] == 2 and c.cov is not None for c in control)
    else:  # more than MAX_LEVELS values, but at most EXACT_CLIENTS clients: levels
        assert got[0]["control"].cov is None and len(got[0]["control"].counts) > resample.MAX_LEVELS
    levels = got[8]  # the column with MAX_LEVELS values in control, one more in treatment
    assert levels["control"].cov is None and levels["treatment"].cov is not None


def test_one_query_per_kind_however_many_requests():
    columns = [Column(f"m{i}", (Step(DROP_NONFINITE),)) for i in range(10)]
    rows = RowSet("all")
    requests = [*(Moments(rows, c) for c in columns), *(ResampleCells(rows, (c,)) for c in columns),
                *(OrderStatistics(rows, c, ((None, 0, 3),)) for c in columns),
                *(GridCounts(rows, c, (1.0,)) for c in columns),
                *(LinearBins(rows, c, 0.0, 1.0, 8) for c in columns)]
    relation = sqlglot.parse_one("SELECT * FROM `p.d.per_client`", read="bigquery")
    queries = summary_queries(relation, requests)
    assert sorted(q.kind for q in queries) == ["bins", "cells", "grouped", "ranks"]
    assert sorted(i for q in queries for i, _ in q.requests) == list(range(len(requests)))


def test_queries_render_and_parse_back_in_bigquery():
    """A dry-run shape check: every query renders as BigQuery SQL that parses back to the
    same tree, reads only the relation, and divides, logs and casts only where BigQuery can."""
    rows = RowSet("seg1", (Column("y", (Step(DROP_NULL),)),))
    y = Column("y", (Step(LOG1P, 2.0), Step(DIVIDE, 0.0), Step(POSITIVE_LOG)))
    requests = [Moments(rows, y, x=Column("flag"), distinct=True),
                ResampleCells(rows, (y, Column("flag"))), OrderStatistics(rows, y, ((None, 0, 1),)),
                GridCounts(rows, y, (0.1, math.inf)), LinearBins(rows, y, 0.0, 0.5, 4),
                Residuals(rows, y, Column("x"), 0.0, 1.0, 0.0, (("a", 1.0),), (("a", 0.1),),
                          (("a", 0.0),))]
    relation = sqlglot.parse_one("SELECT * FROM `p.d.per_client`", read="bigquery")
    for query in summary_queries(relation, requests, booleans={"flag"}):
        text = render(query.tree)
        back = sqlglot.parse_one(text, read="bigquery")
        assert render(back) == text  # a fixed point: nothing lost in the round trip
        assert {t.name for t in back.find_all(exp.Table)} == {"per_client"}
        zero = number(0.0)
        assert not any(d.expression == zero for d in back.find_all(exp.Div))
        assert all(isinstance(ln.this, exp.If) for ln in back.find_all(exp.Ln))
        assert not any(isinstance(c.this, exp.Column) and c.this.name == "flag"
                       for c in back.find_all(exp.Cast))


def test_resample_cells_level_wider_than_a_bin(tmp_path):
    """A value held by fewer clients than an atom needs but more than a bin holds: its bins
    come back as one range (the K = 3 bins of 761 spread rows, the middle one all 0.5)."""
    atoms = np.repeat(1000.0 + np.arange(100), [772] * 65 + [771] * 35)
    values = np.concatenate((0.001 * np.arange(230), np.full(300, 0.5),
                             0.6 + 0.001 * np.arange(231), atoms))
    assert len(values) == 77_926 and resample.bin_count(761, len(values)) == 3
    rows = pd.DataFrame({"branch": "a", "y": np.random.default_rng(0).permutation(values)})
    backend = DuckDBBackend(results=tmp_path / "results.duckdb")
    backend.write_table("rows", rows)
    source = (WarehouseSource(backend, exp.select("*").from_("rows")), FrameSource(rows))
    (got,) = check(source, [ResampleCells(RowSet("all"), (Column("y"),))])
    cells = got["a"]
    assert cells.counts[100 + 1] == 507 - 253 and cells.means[100 + 1, 0] == 0.5
    backend.close()
