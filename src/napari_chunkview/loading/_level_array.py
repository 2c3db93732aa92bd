"""An array-like over a ``ChunkSource`` that never lets one bad chunk take a read down."""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model import ChunkSource, ChunkviewError

log = logging.getLogger(__name__)


def _default_max_read() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


#: One read larger than this is refused with a clear error instead of a MemoryError.
MAX_READ_BYTES = _default_max_read()


def _normalise(key: Any, shape: Sequence[int]) -> tuple[list[tuple[int, int]], list[Any]]:
    """Basic indexing → (box to read, post-selection on the read block)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - len(key) + 1) + key[i + 1 :]
    key = key + (slice(None),) * (len(shape) - len(key))
    if len(key) != len(shape):
        raise IndexError(f"too many indices for a {len(shape)}-d array")
    box, post = [], []
    for k, n in zip(key, shape, strict=True):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step < 0:
                raise IndexError("negative steps are not supported")
            stop = max(start, stop)
            box.append((start, stop))
            post.append(slice(None, None, step) if step != 1 else slice(None))
        else:
            i = int(k)
            if i < 0:
                i += n
            if not 0 <= i < n:
                raise IndexError(f"index {k} out of bounds for axis of size {n}")
            box.append((i, i + 1))
            post.append(0)
    return box, post


class LevelArray:
    """``shape``/``dtype``/``ndim``/``__getitem__`` over a ``ChunkSource``.

    A box is read in one call (fast path); if that fails, it is read chunk by chunk so
    that only the broken chunks are filled (with the fill value) and recorded in
    ``failures``.
    """

    def __init__(self, source: ChunkSource, name: str = "") -> None:
        self.source = source
        self.name = name
        self.shape = tuple(source.shape)
        self.dtype = source.dtype
        self.ndim = len(self.shape)
        self.failures: dict[tuple[int, ...], str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[...]
        return out.astype(dtype) if dtype is not None else out

    def __getitem__(self, key: Any) -> np.ndarray:
        box, post = _normalise(key, self.shape)
        return self.read_box(box)[tuple(post)]

    def read_box(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        if any(b <= a for a, b in box):
            return np.empty(tuple(max(0, b - a) for a, b in box), dtype=self.dtype)
        nbytes = math.prod(b - a for a, b in box) * max(1, self.dtype.itemsize)
        if nbytes > MAX_READ_BYTES:
            raise ChunkviewError(
                f"refusing to read {nbytes / 2**30:.1f} GiB at once from {self.name} "
                f"(limit {MAX_READ_BYTES / 2**30:.1f} GiB): read a smaller region"
            )
        try:
            return self.source.read(box)
        except Exception as e:  # isolate the bad chunk(s) below
            log.debug("read of %s in %s failed (%s); retrying chunk by chunk", box, self.name, e)
        return self._read_by_chunk(box)

    def _fill_block(self, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=self.dtype)
        fill = self.source.fill_value
        try:
            out[...] = 0 if fill is None else fill
        except (TypeError, ValueError):
            out[...] = np.zeros((), dtype=self.dtype)
        return out

    def _read_by_chunk(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        out = self._fill_block(tuple(b - a for a, b in box))
        grid = self.source.grid
        for idx in grid.chunks_in_box(box):
            cbox = grid.chunk_box(idx)
            inter = [(max(a, ca), min(b, cb)) for (a, b), (ca, cb) in zip(box, cbox, strict=True)]
            try:
                block = self.source.read(inter)
            except Exception as e:
                reason = f"{type(e).__name__}: {e}"
                with self._lock:
                    self.failures[idx] = reason
                log.warning("chunk %s of %s could not be read: %s", idx, self.name, reason)
                continue
            out[tuple(slice(lo - a, hi - a) for (lo, hi), (a, _) in zip(inter, box, strict=True))] = block
        return out
