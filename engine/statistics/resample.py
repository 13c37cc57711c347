"""Bayesian-bootstrap replicates of (vector) means, vectorised over replicates.

A Bayesian bootstrap replicate of a mean is sum_i w_i x_i with w ~ Dirichlet(1, ..., 1).
Dirichlet aggregation makes two schemes exact or nearly so:

* histogram: clients sharing a value (row) form one level; the level weights are
  Dirichlet(counts) = Gamma(count_k) normalised. Exact, used for few distinct values and
  for the `exact` option (then every distinct value is a level, as upstream).
* binned: clients sorted into equal-count bins. Bin weights are Dirichlet(n_b) (exact), and
  the within-bin weighted mean is independent of them with mean m_b and covariance
  S_b / (n_b + 1); it is drawn as a normal with those moments. Mean and variance of every
  replicate are therefore exact; only the within-bin shape is approximated.

Replicates are generated in chunks so memory stays bounded (about CHUNK_CELLS * 8 bytes per
array) whatever the number of replicates.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

MAX_LEVELS = 512      # at most this many distinct values -> exact histogram resampling
N_BINS = 256          # bins of the continuous scheme
CHUNK_CELLS = 1 << 19


def branch_rng(seed: int, *names: str) -> np.random.Generator:
    """Generator that depends only on the seed and the given names (not on call order)."""
    return np.random.default_rng([int(seed), *(zlib.crc32(n.encode()) for n in names)])


@dataclass(frozen=True)
class Cells:
    """Sufficient statistics the replicates are drawn from."""
    counts: np.ndarray   # (K,) clients per cell
    means: np.ndarray    # (K, d) mean per cell
    chol: np.ndarray | None  # (K, d, d) Cholesky factor of the within-cell mean's covariance


def mean_replicates(columns: np.ndarray, num_samples: int, rng: np.random.Generator,
                    *, exact: bool = False) -> np.ndarray:
    """(num_samples, d) Bayesian-bootstrap replicates of the column means of `columns` (n, d)."""
    cells = _cells(np.asarray(columns, dtype=float).reshape(len(columns), -1), exact)
    return _draw(cells, num_samples, rng)


def _cells(x: np.ndarray, exact: bool) -> Cells:
    n, d = x.shape
    s = np.sort(x, axis=0) if d == 1 else x[np.lexsort(x.T[::-1])]
    change = np.any(s[1:] != s[:-1], axis=1)
    n_levels = int(np.count_nonzero(change)) + 1
    if exact or n_levels <= MAX_LEVELS:
        starts = np.flatnonzero(np.concatenate(([True], change)))
        counts = np.diff(np.append(starts, n))
        return Cells(counts.astype(float), s[starts], None)
    edges = np.linspace(0, n, N_BINS + 1).astype(np.int64)
    edges = np.unique(edges)
    counts = np.diff(edges)
    starts = edges[:-1]
    means = np.add.reduceat(s, starts, axis=0) / counts[:, None]
    dev = np.repeat(means, counts, axis=0)
    np.subtract(s, dev, out=dev)
    del s
    cov = np.empty((len(counts), d, d))
    if d == 1:
        np.square(dev, out=dev)  # in place: one n-sized buffer for the whole scheme
        cov[:, 0, 0] = np.add.reduceat(dev[:, 0], starts) / counts
    else:
        for i in range(d):
            for j in range(i + 1):
                cov[:, i, j] = cov[:, j, i] = (np.add.reduceat(dev[:, i] * dev[:, j], starts)
                                               / counts)
    cov /= (counts + 1.0)[:, None, None]
    return Cells(counts.astype(float), means, _cholesky(cov))


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Batched Cholesky that tolerates singular (e.g. all-equal) cells."""
    jitter = 1e-300
    d = cov.shape[1]
    if d == 1:
        return np.sqrt(np.maximum(cov, 0.0))
    eye = np.eye(d)[None]
    scale = np.maximum(np.einsum("kii->k", cov), jitter)[:, None, None]
    return np.linalg.cholesky(cov + eye * scale * 1e-12)


def _draw(cells: Cells, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    k, d = cells.means.shape
    out = np.empty((num_samples, d))
    chunk = max(1, CHUNK_CELLS // k)
    unit = bool(np.all(cells.counts == 1))  # Gamma(1) is the (much faster) exponential
    for start in range(0, num_samples, chunk):
        rows = min(chunk, num_samples - start)
        g = (rng.standard_exponential((rows, k)) if unit
             else rng.standard_gamma(cells.counts, size=(rows, k)))
        acc = g @ cells.means
        if cells.chol is not None:
            for j in range(d):
                gz = g * rng.standard_normal((rows, k))
                acc += gz @ cells.chol[:, :, j]
        acc /= g.sum(axis=1, keepdims=True)
        out[start:start + rows] = acc
    return out
