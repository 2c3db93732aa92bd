"""One dask task of the integrity scan: read a batch of chunks of one level through the
source's fetch/decode fast path, say what state each chunk is in, and return a small
``BatchResult`` (states, stored sizes, problems, partial statistics) to combine.

Runs in the process that built the graph (local scheduler: the live level) or on a
dask.distributed worker (the level reopened from its ``LevelRef``). Chunk states:
"""

from __future__ import annotations

import math
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import Level, error_reason
from ._handles import LevelRef
from ._stats import StatsPartial, partial_for

NOT_SCANNED, OK, ALL_FILL, MISSING, FAILED = 0, 1, 2, 3, 4
STATE_NAMES = ("not scanned", "ok", "all fill value", "missing", "failed")
#: Chunks fetched together (remote stores fetch them concurrently).
FETCH_GROUP = 16
_EMPTY = 2**64 - 1
_SIZE_ERRORS = re.compile(
    r"elements, expected|its header says|declares \d+ bytes, expected|decoded to \d+ bytes"
    r"|holds \d+ bytes in|more than \d+ bytes"
)

Problem = tuple[int, str, str, str]  # (row, code, message, key)


@dataclass
class BatchResult:
    """What one task found; ``rows`` of ``indices`` line up with ``states``/``sizes``."""

    image: int
    level: int
    batch: int
    indices: np.ndarray
    states: np.ndarray
    sizes: np.ndarray  # stored bytes, -1 when not stored / not read
    problems: list[Problem] = field(default_factory=list)
    stats: StatsPartial | None = None
    decoded_bytes: int = 0
    seconds: float = 0.0
    cancelled: bool = False


# -- reading one level's chunks ------------------------------------------------------------
def _fill(level: Level) -> Any:
    fill = level.fill_value
    return 0 if fill is None else fill


def _all_fill(region: np.ndarray, fill: Any) -> bool:
    try:
        if isinstance(fill, float) and math.isnan(fill):
            return bool(np.isnan(region).all())
        if region.size and region.flat[0] != fill:  # most chunks: decided at once
            return False
        return not bool(np.any(region != fill))
    except (TypeError, ValueError):
        return False


def _clip(level: Level, idx: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(0, b - a) for a, b in level.grid.chunk_box(idx))


def _inner(source: Any, idx: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
    """The array a (stacked) source reads chunk ``idx`` from, and the index there."""
    while hasattr(source, "source_at") and hasattr(source, "sources"):
        k = len(source.grid.shape) - len(source.sources[0].grid.shape)
        source, idx = source.source_at(idx[:k]), tuple(idx[k:])
    return source, idx


def n5_header_problem(raw: bytes, grid: Any, idx: tuple[int, ...]) -> str | None:
    """What is wrong with an N5 block header (``None`` when it is fine).

    The header is big-endian ``uint16 mode, uint16 ndim, ndim x uint32 size`` with sizes
    fastest axis first. Interior blocks must hold ``blockSize``; edge blocks either the
    part inside the dataset (n5-java, z5py) or the full ``blockSize`` (zarr-python 2).
    """
    ndim = grid.ndim
    if len(raw) < 4 + 4 * ndim:
        return f"block is {len(raw)} bytes, shorter than its {4 + 4 * ndim}-byte header"
    mode, n = struct.unpack_from(">HH", raw, 0)
    if mode not in (0, 1):
        return f"block header mode {mode} (0 = default, 1 = varlength; 2 = object unsupported)"
    if n != ndim:
        return f"block header has {n} dimensions, the dataset {ndim}"
    dims = struct.unpack_from(f">{ndim}I", raw, 4)[::-1]  # C order
    block = grid.chunk_shape
    for ax, (d, b, (lo, hi)) in enumerate(zip(dims, block, grid.chunk_box(idx), strict=True)):
        if d == b or d == hi - lo:
            continue
        n5_dims, n5_block = list(dims[::-1]), list(block[::-1])
        edge = "edge " if hi - lo < b else ""
        return (
            f"{edge}block header size {n5_dims} does not match blockSize {n5_block} "
            f"(N5 order; axis {ndim - 1 - ax} holds {d} instead of {hi - lo})"
        )
    if mode == 1:
        return "block header mode 1 (varlength) in a default-mode dataset"
    return None


def _classify(e: BaseException) -> str:
    return "chunk.size" if _SIZE_ERRORS.search(str(e)) else "chunk.undecodable"


class _Scanner:
    def __init__(self, level: Level, result: BatchResult) -> None:
        self.level = level
        self.r = result
        self.fill = _fill(level)
        self.n5 = bool(level.codecs) and level.codecs[0].name == "n5-block"
        self.sharding = next((c for c in level.codecs if c.name == "sharding_indexed"), None)
        self.stats = result.stats
        assert self.stats is not None

    def key(self, idx: tuple[int, ...]) -> str:
        return self.level.source.chunk_key(idx)

    def fail(self, row: int, code: str, message: str, key: str | None = None) -> None:
        self.r.states[row] = FAILED
        idx = tuple(int(i) for i in self.r.indices[row])
        self.r.problems.append((row, code, message, key or self.key(idx)))

    def missing(self, row: int) -> None:
        self.r.states[row] = MISSING
        idx = tuple(int(i) for i in self.r.indices[row])
        n = math.prod(b - a for a, b in self.level.grid.chunk_box(idx))
        assert self.stats is not None
        self.stats.add_constant(self.fill, n)

    def decoded(self, row: int, chunk: np.ndarray) -> None:
        idx = tuple(int(i) for i in self.r.indices[row])
        region = chunk[_clip(self.level, idx)]
        self.r.decoded_bytes += chunk.nbytes
        self.r.states[row] = ALL_FILL if _all_fill(region, self.fill) else OK
        assert self.stats is not None
        self.stats.add(region)

    def raw(self, row: int, raw: bytes | None) -> None:
        """Check and decode one fetched chunk."""
        if raw is None:
            self.missing(row)
            return
        self.r.sizes[row] = len(raw)
        idx = tuple(int(i) for i in self.r.indices[row])
        if self.n5:
            inner, iidx = _inner(self.level.source, idx)
            problem = n5_header_problem(raw, inner.grid, iidx)
            if problem is not None:
                self.fail(row, "n5.header", f"N5 {problem}")
                return
        try:
            chunk = self.level.source.decode(idx, raw)  # type: ignore[attr-defined]
        except Exception as e:
            self.fail(row, _classify(e), error_reason(e))
            return
        expected = self.level.grid.chunk_shape
        if tuple(chunk.shape) != tuple(expected):
            self.fail(row, "chunk.size", f"decoded shape {chunk.shape}, expected {expected}")
            return
        self.decoded(row, chunk)

    # -- the three ways to read ---------------------------------------------------------
    def fast(self, rows: list[int]) -> None:
        src: Any = self.level.source
        idxs = [tuple(int(i) for i in self.r.indices[row]) for row in rows]
        try:
            raws = src.fetch(idxs)
        except Exception as e:
            for row in rows:
                self.fail(row, "chunk.unreadable", error_reason(e))
            return
        for row, raw in zip(rows, raws, strict=True):
            self.raw(row, raw)

    def slow(self, rows: list[int]) -> None:
        """Sources without fetch/decode: tell missing from stored by the key's size,
        then read the chunk's box through the source."""
        for row in rows:
            idx = tuple(int(i) for i in self.r.indices[row])
            inner, _ = _inner(self.level.source, idx)
            root = getattr(inner, "_root", None)
            key = self.key(idx)
            size = root.size(key) if root is not None else None
            if root is not None and size is None:
                self.missing(row)
                continue
            if size is not None:
                self.r.sizes[row] = size
            try:
                block = np.asarray(self.level.source.read(self.level.grid.chunk_box(idx)))
            except Exception as e:
                self.fail(row, _classify(e), error_reason(e))
                continue
            full = np.zeros(self.level.grid.chunk_shape, dtype=block.dtype)
            full[tuple(slice(0, s) for s in block.shape)] = block
            self.decoded(row, full)

    def shards(self, rows: list[int]) -> list[int]:
        """Check the index of each shard the rows fall in; returns the rows left to read
        (inner chunks stored at valid places)."""
        grid = self.level.grid
        assert grid.shard_shape is not None and self.sharding is not None
        conf = self.sharding.configuration
        per = tuple(s // c for s, c in zip(grid.shard_shape, grid.chunk_shape, strict=True))
        crc = any(c.name == "crc32c" for c in self.sharding.index)
        index_nbytes = 16 * math.prod(per) + (4 if crc else 0)
        at_end = conf.get("index_location", "end") == "end"
        by_shard: dict[tuple[int, ...], list[int]] = {}
        for row in rows:
            idx = tuple(int(i) for i in self.r.indices[row])
            sidx = tuple(i // p for i, p in zip(idx, per, strict=True))
            by_shard.setdefault(sidx, []).append(row)
        src: Any = self.level.source
        root = getattr(src, "_root", None)
        left: list[int] = []
        for sidx, srows in by_shard.items():
            key = self.key(tuple(int(i) for i in self.r.indices[srows[0]]))
            try:
                index = src.shard_index(sidx)
            except Exception as e:
                for row in srows:
                    msg = f"shard index unreadable ({error_reason(e)})"
                    self.fail(row, "shard.index", msg, key)
                continue
            if index is None:
                for row in srows:
                    self.missing(row)
                continue
            size = root.size(key) if root is not None else None
            lo = 0 if at_end else index_nbytes
            hi = (size - index_nbytes if at_end else size) if size is not None else None
            for row in srows:
                idx = tuple(int(i) for i in self.r.indices[row])
                pos = tuple(i % p for i, p in zip(idx, per, strict=True))
                offset, nbytes = (int(v) for v in index[pos])
                if offset == _EMPTY and nbytes == _EMPTY:
                    self.missing(row)
                elif hi is not None and (offset < lo or offset + nbytes > hi):
                    self.fail(
                        row, "shard.bounds",
                        f"shard index entry for inner chunk {pos} "
                        f"points at bytes [{offset}, {offset + nbytes}) outside the data "
                        f"region [{lo}, {hi}) of the {size}-byte shard",
                        key,
                    )
                else:
                    left.append(row)
        return left


def scan_batch(
    ref: LevelRef, batch: int, indices: np.ndarray, cancel: threading.Event | None = None
) -> BatchResult:
    """Scan the chunks ``indices`` ((n, ndim) ints, C order) of level ``ref``."""
    t0 = time.perf_counter()
    level = ref.get()
    n = len(indices)
    result = BatchResult(
        image=ref.image,
        level=ref.level,
        batch=batch,
        indices=np.asarray(indices, dtype=np.int64).reshape(n, level.grid.ndim),
        states=np.zeros(n, dtype=np.uint8),
        sizes=np.full(n, -1, dtype=np.int64),
        stats=partial_for(level.dtype),
    )
    sc = _Scanner(level, result)
    rows = list(range(n))
    fast = bool(getattr(level.source, "has_fast_path", False))
    for start in range(0, n, FETCH_GROUP):
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            break
        group = rows[start : start + FETCH_GROUP]
        if fast and sc.sharding is not None and hasattr(level.source, "shard_index"):
            group = sc.shards(group)
        if fast:
            sc.fast(group)
        else:
            sc.slow(group)
    result.seconds = time.perf_counter() - t0
    return result
