"""The results store workers publish to and the result pages read: a directory on one machine,
`gs://bucket/prefix` in production (web and worker instances share nothing else). One interface,
`ExportIndex`'s (each file parsed once, re-read when it changes), over both, plus a `stamp` that
changes whenever a file is rewritten (the worker tells "published" from "nothing new" by it)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from engine.results.export import gcs_location
from engine.results.store import ExportIndex


class LocalResults(ExportIndex):
    @property
    def location(self) -> str:
        """What `jetstream analyse --out` takes."""
        return str(self.directory.resolve())

    def stamp(self, name: str) -> int | None:
        path = self.directory / name
        return path.stat().st_mtime_ns if path.is_file() else None


class GcsResults(ExportIndex):
    """The same files as objects `gs://<bucket>/<prefix>/<name>` (google-cloud-storage); an
    object is downloaded again only when its generation changed."""

    def __init__(self, url: str, client: Any = None) -> None:
        bucket, prefix = gcs_location(url)
        super().__init__(Path("/nonexistent"))  # never read: every file access is overridden
        if client is None:
            from google.cloud import storage

            client = storage.Client()
        self.client, self.url = client, url.rstrip("/")
        self.bucket = client.bucket(bucket)
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    @property
    def location(self) -> str:
        return self.url

    def _read(self, name: str, default: Any, parse: Callable[[Any], Any] = lambda v: v) -> Any:
        blob = self.bucket.get_blob(self.prefix + name)
        if blob is None:
            return default
        cached = self._cache.get(name)
        if cached is None or cached[0] != (blob.generation, blob.size):
            value = parse(json.loads(blob.download_as_text(encoding="utf-8")))
            cached = self._cache[name] = ((blob.generation, blob.size), value)
        return cached[1]

    def _names(self) -> list[str]:
        return [b.name[len(self.prefix):] for b in self.client.list_blobs(self.bucket, prefix=self.prefix)
                if "/" not in b.name[len(self.prefix):]]

    def has(self, slug: str) -> bool:
        return bool(self.metadata(slug) or self.errors(slug))

    def stamp(self, name: str) -> int | None:
        blob = self.bucket.get_blob(self.prefix + name)
        return None if blob is None else int(blob.generation)


def open_results(spec: str | Path) -> LocalResults | GcsResults:
    text = str(spec)
    return GcsResults(text) if text.startswith("gs://") else LocalResults(Path(text))
