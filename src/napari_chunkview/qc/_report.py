"""The QC report: findings ranked by severity, per-level storage figures, scan counts and
statistics. ``to_dict()`` is the JSON form documented in ``docs/qc-report.md`` (and
``report.schema.json`` beside this module)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import SEVERITIES, Finding
from ._stats import Stats
from ._storage import StorageFigures

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LevelReport:
    """One level of one image: how it is stored and what the scan saw."""

    image: str  # store path of the image ("" for the one opened)
    kind: str  # "image" | "labels"
    index: int
    path: str
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    codecs: str
    n_chunks: int
    storage: StorageFigures | None = None
    scanned: bool = False
    #: chunks scanned and their states: ok, all_fill, missing, failed (sample included)
    counts: dict[str, int] = field(default_factory=dict)
    sample: float | None = None
    sizes: dict[str, float] | None = None
    stats: Stats | None = None
    decoded_bytes: int = 0
    seconds: float = 0.0
    #: the chunk-state map (grid-shaped uint8, see ``_chunkscan``); not in the JSON
    states: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        storage = None if self.storage is None else self.storage.to_dict()
        return {
            "image": self.image,
            "kind": self.kind,
            "index": self.index,
            "path": self.path,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "chunks": list(self.chunks),
            "shards": list(self.shards) if self.shards is not None else None,
            "codecs": self.codecs,
            "n_chunks": self.n_chunks,
            "storage": storage,
            "scan": {
                "scanned": self.scanned,
                "sample": self.sample,
                "counts": dict(self.counts),
                "chunk_sizes": self.sizes,
                "decoded_bytes": self.decoded_bytes,
            },
            "stats": self.stats.to_dict() if self.stats is not None else None,
        }


@dataclass(frozen=True)
class QCReport:
    uri: str
    name: str
    format: str
    convention: str
    reason: str
    axes: tuple[tuple[str, str, str | None], ...]  # (name, type, unit)
    findings: tuple[Finding, ...]
    levels: tuple[LevelReport, ...]
    #: False when the run was cancelled or interrupted: the report holds what was found
    complete: bool = True
    level: int | None = None
    sample: float | None = None
    scheduler: str = ""
    started: str = ""
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            out[f.severity] += 1
        return out

    @property
    def ok(self) -> bool:
        """No errors."""
        return not any(f.severity == "error" for f in self.findings)

    def exit_code(self, strict: bool = False) -> int:
        """0 when nothing is wrong, 1 when an error was found (or, with ``strict``, a
        warning); 130 for a run that was interrupted."""
        if not self.complete:
            return 130
        bad = ("error", "warning") if strict else ("error",)
        return 1 if any(f.severity in bad for f in self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "uri": self.uri,
            "name": self.name,
            "format": self.format,
            "convention": self.convention,
            "reason": self.reason,
            "axes": [{"name": n, "type": t, "unit": u} for n, t, u in self.axes],
            "complete": self.complete,
            "options": {"level": self.level, "sample": self.sample},
            "summary": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "levels": [lv.to_dict() for lv in self.levels],
            "run": {"scheduler": self.scheduler, "started": self.started, "seconds": self.seconds},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
