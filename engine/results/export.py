"""JSON export of an experiment's results to a directory or to `gs://bucket/prefix`.

Files per experiment: `statistics_<slug>_<period>.json` (a JSON array of records, upstream shape
plus additive fields), `metadata_<slug>.json` and `errors_<slug>.json`. The text is serialised
deterministically (sorted metadata keys, fixed record field order), so a rerun with the same
inputs writes byte-identical files. Local writes are atomic (temp file + os.replace); a GCS
object upload is atomic by itself.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

import numpy as np
import pandas as pd

from engine.results.tables import records_frame

EXPORT_SCHEMA_VERSION = 4  # as mozilla-nimbus-schemas' jetstream SCHEMA_VERSION
# Curves (density, ECDF) are published at most at this many points per branch and window: a
# plot needs no more, and at the statistics' own grid (256+) they were 84 % of the export.
CURVE_STATISTICS = ("kernel_density_estimate", "empirical_cdf")
CURVE_POINTS = 48
_CURVE_KEY = ["metric", "statistic", "branch", "comparison", "comparison_to_branch", "segment",
              "analysis_basis", "window_index"]


class Sink(Protocol):
    def write_text(self, name: str, text: str) -> str:
        """Store `text` under `name`; return the location written."""


class DirectorySink:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def write_text(self, name: str, text: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; exports are meant to be read by others
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target)


class GcsSink:
    """Objects `gs://<bucket>/<prefix>/<name>` through google-cloud-storage."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        if client is None:
            from google.cloud import storage

            client = storage.Client()
        self.bucket = client.bucket(bucket)
        self.prefix = prefix.strip("/")

    def write_text(self, name: str, text: str) -> str:
        key = f"{self.prefix}/{name}" if self.prefix else name
        self.bucket.blob(key).upload_from_string(text.encode("utf-8"),
                                                 content_type="application/json")
        return f"gs://{self.bucket.name}/{key}"


def gcs_location(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `gs://bucket/prefix`; ValueError without a bucket."""
    bucket, _, prefix = url[len("gs://"):].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}")
    return bucket, prefix


def open_sink(target: str | os.PathLike[str], client: Any = None) -> Sink:
    """A sink for a directory path or a `gs://bucket/prefix` URL."""
    text = os.fspath(target)
    if text.startswith("gs://"):
        return GcsSink(*gcs_location(text), client=client)
    return DirectorySink(text)


def statistics_name(slug: str, period: str) -> str:
    return f"statistics_{slug}_{period}.json"


def metadata_name(slug: str) -> str:
    return f"metadata_{slug}.json"


def errors_name(slug: str) -> str:
    return f"errors_{slug}.json"


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False,
                      allow_nan=False) + "\n"


def thin_curves(frame: pd.DataFrame, points: int = CURVE_POINTS) -> pd.DataFrame:
    """The frame with every density or ECDF curve reduced to at most `points` evenly spaced
    grid points (its first and last kept); other records untouched, order kept."""
    curve = frame["statistic"].isin(CURVE_STATISTICS)
    if not curve.any():
        return frame
    curves = frame[curve].sort_values("parameter", kind="stable")
    groups = curves.groupby(_CURVE_KEY, dropna=False, sort=False)
    rank = groups.cumcount().to_numpy()
    size = groups["statistic"].transform("size").to_numpy()
    step = np.maximum(size - 1, 1) / (points - 1)  # rank k * step (rounded): k-th point kept
    nearest = np.floor(np.floor(rank / step + 0.5) * step + 0.5)
    keep = (size <= points) | (nearest == rank)
    kept = curves.index[keep]
    return frame[~curve.to_numpy() | frame.index.isin(kept)]


def statistics_text(records: pd.DataFrame | Iterable[Any]) -> str:
    """A JSON array with one compact record per line (readable in diffs), in the field order
    of `engine.results.records_frame`; `window_index` as a string, missing values as null;
    curves thinned to `CURVE_POINTS` (`thin_curves`).

    Serialised column-wise by pandas (floats with 15 significant digits): a period can hold
    hundreds of thousands of records (deciles, densities) and per-record encoding dominates."""
    frame = records if isinstance(records, pd.DataFrame) else records_frame(records)
    if not len(frame):
        return "[]\n"
    frame = thin_curves(frame).copy()
    frame["window_index"] = frame["window_index"].map(
        lambda v: None if pd.isna(v) else str(int(v))).astype(object)
    lines = frame.to_json(orient="records", lines=True, double_precision=15,
                          force_ascii=False, date_format="iso").rstrip("\n").split("\n")
    return "[\n" + ",\n".join(lines) + "\n]\n"


def export_experiment(sink: Sink, slug: str,
                      statistics: Mapping[str, pd.DataFrame | Iterable[Any]],
                      metadata: Mapping[str, Any],
                      errors: Iterable[Mapping[str, Any]]) -> list[str]:
    """Write the statistics (records, or a frame as `engine.results.tables` stores them) of every
    period given, then errors, then metadata (last, because pages list an experiment once its
    metadata exists). Returns the locations written."""
    written = []
    for period, records in statistics.items():
        written.append(sink.write_text(statistics_name(slug, period), statistics_text(records)))
    written.append(export_errors(sink, slug, errors))
    written.append(sink.write_text(metadata_name(slug), _dumps(dict(metadata))))
    return written


def export_errors(sink: Sink, slug: str, errors: Iterable[Mapping[str, Any]]) -> str:
    """Only the errors file: what a failed run publishes, leaving the results as they were."""
    return sink.write_text(errors_name(slug), _dumps(list(errors)))
