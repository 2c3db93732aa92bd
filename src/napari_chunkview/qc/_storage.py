"""How a level is stored: chunks stored vs missing, stored bytes, compression ratio.

Exact from a listing of the level's keys (plus shard indexes for sharded arrays) when the
store can list and the level is not too big; otherwise estimated from a random sample of
chunks, and the result says which.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import Level, error_reason

#: List at most this many keys before switching to sampling.
MAX_LISTED_KEYS = 2_000_000
SAMPLE_SIZE = 256
Progress = Callable[[int, int], None]  # (done, total or 0 when unknown)


class Cancelled(Exception):
    """The scan was cancelled."""


@dataclass(frozen=True, slots=True)
class StorageFigures:
    n_chunks: int
    stored_chunks: int  # estimated when ``exact`` is False
    stored_bytes: int
    logical_bytes: int
    method: str  # "listing", "listing + shard indexes", "sample of N chunks", ...
    exact: bool
    #: indices of the stored chunks when enumerated (None for estimates)
    stored: frozenset[tuple[int, ...]] | None = None
    #: stored size of each enumerated chunk (bytes), for size distributions
    sizes: tuple[int, ...] = ()
    #: storage units (shards) that are stored but whose index could not be read, with
    #: the reason; their chunks are not in ``stored`` (the QC scan reports them)
    unreadable: Mapping[tuple[int, ...], str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready data (the ``storage`` object of the QC report)."""
        return {
            "method": self.method,
            "exact": self.exact,
            "n_chunks": self.n_chunks,
            "stored_chunks": self.stored_chunks,
            "missing_chunks": self.missing_chunks,
            "stored_bytes": self.stored_bytes,
            "logical_bytes": self.logical_bytes,
            "ratio": self.ratio,
        }

    @property
    def missing_chunks(self) -> int:
        return self.n_chunks - self.stored_chunks

    @property
    def ratio(self) -> float | None:
        """logical / stored bytes (the compression ratio over the stored chunks)."""
        if not self.stored_bytes:
            return None
        item = self.logical_bytes / max(1, self.n_chunks)
        return item * self.stored_chunks / self.stored_bytes


def key_pattern(template: str) -> re.Pattern[str]:
    """Regex for a level's ``key_template`` (``s0/c/{0}/{1}``), capturing each index."""
    parts = re.split(r"\{(\d+)\}", template)
    out = []
    for i, part in enumerate(parts):
        out.append(re.escape(part) if i % 2 == 0 else f"(?P<a{part}>\\d+)")
    return re.compile("^" + "".join(out) + "$")


def _parse(pattern: re.Pattern[str], key: str, ndim: int) -> tuple[int, ...] | None:
    m = pattern.match(key)
    if m is None:
        return None
    return tuple(int(m.group(f"a{i}")) for i in range(ndim)) if ndim else ()


def scan_storage(
    level: Level,
    *,
    max_keys: int = MAX_LISTED_KEYS,
    sample: int = SAMPLE_SIZE,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> StorageFigures:
    """Storage figures of ``level`` (see module doc). Raises ``Cancelled``."""
    src: Any = level.source
    grid = level.grid
    logical = level.logical_nbytes
    root = getattr(src, "_root", None)
    if level.virtual or root is None:
        return StorageFigures(grid.n_chunks, 0, 0, logical, "not stored (computed)", False)
    unit_shape = grid.read_unit
    unit_grid = tuple(math.ceil(s / c) for s, c in zip(grid.shape, unit_shape, strict=True))
    pattern = key_pattern(level.key_template)
    head = level.key_template.split("{", 1)[0]
    prefix = head.rsplit("/", 1)[0] if "/" in head else ""
    listing = root.iter_sizes(prefix)
    units: dict[tuple[int, ...], int] = {}
    too_many = listing is None
    if listing is not None:
        for n, (key, size) in enumerate(listing):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if n >= max_keys:
                too_many = True
                break
            idx = _parse(pattern, key, grid.ndim)
            if idx is not None and all(i < g for i, g in zip(idx, unit_grid, strict=True)):
                units[idx] = size
            if progress is not None and n % 4096 == 0:
                progress(n, 0)
    if too_many:
        return _sampled(level, root, unit_grid, sample, cancel)
    if grid.shard_shape is None:
        return StorageFigures(
            grid.n_chunks, len(units), sum(units.values()), logical, "listing", True,
            frozenset(units), tuple(units.values()),
        )
    return _sharded(level, units, cancel, progress)


def _sharded(
    level: Level,
    shards: dict[tuple[int, ...], int],
    cancel: threading.Event | None,
    progress: Progress | None,
) -> StorageFigures:
    src: Any = level.source
    grid = level.grid
    per = tuple(s // c for s, c in zip(grid.read_unit, grid.chunk_shape, strict=True))
    stored: set[tuple[int, ...]] = set()
    sizes: list[int] = []
    unreadable: dict[tuple[int, ...], str] = {}
    for n, sidx in enumerate(sorted(shards)):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        try:
            index = src.shard_index(sidx)
        except Exception as e:  # a corrupt index must not stop the count
            unreadable[sidx] = error_reason(e)
            continue
        finally:
            if progress is not None:
                progress(n + 1, len(shards))
        if index is None:
            continue
        nbytes = index[..., 1]
        present = np.argwhere(index[..., 0] != np.uint64(2**64 - 1))
        for pos in present:
            idx = tuple(int(s * p + q) for s, p, q in zip(sidx, per, pos, strict=True))
            if all(i < g for i, g in zip(idx, grid.grid_shape, strict=True)):
                stored.add(idx)
                sizes.append(int(nbytes[tuple(pos)]))
    return StorageFigures(
        grid.n_chunks, len(stored), sum(sizes), level.logical_nbytes,
        "listing + shard indexes", True, frozenset(stored), tuple(sizes), unreadable,
    )


def _sampled(
    level: Level,
    root: Any,
    unit_grid: tuple[int, ...],
    sample: int,
    cancel: threading.Event | None,
) -> StorageFigures:
    """Estimate from ``sample`` random storage units (chunks or shards)."""
    grid = level.grid
    rng = np.random.default_rng(0)
    n_units = math.prod(unit_grid)
    picks = {tuple(int(rng.integers(0, g)) for g in unit_grid) for _ in range(min(sample, n_units))}
    per_unit = grid.n_chunks / max(1, n_units)
    found = 0
    total = 0
    for uidx in picks:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        key = level.source.chunk_key(
            tuple(
                u * r // c for u, r, c in zip(uidx, grid.read_unit, grid.chunk_shape, strict=True)
            )
        )
        size = root.size(key)
        if size is not None:
            found += 1
            total += size
    frac = found / max(1, len(picks))
    stored_units = round(frac * n_units)
    return StorageFigures(
        grid.n_chunks, round(stored_units * per_unit),
        round(total / max(1, found) * stored_units) if found else 0,
        level.logical_nbytes,
        f"sample of {len(picks)} {'shards' if grid.shard_shape else 'chunks'}",
        False,
    )
