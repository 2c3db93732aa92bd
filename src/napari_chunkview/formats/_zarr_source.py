"""``ChunkSource`` over a zarr-python ``Array`` (used for zarr v2, v3, N5 and the v3 draft:
each adapter builds zarr metadata and lets zarr-python do the chunk I/O and decoding)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import zarr
from zarr.core.array import Array, AsyncArray
from zarr.storage import StorePath

from ..model import ChunkGrid
from ._store import StoreRoot

KeyFn = Callable[[Sequence[int]], str]


def zarr_array(root: StoreRoot, path: str, metadata: Any) -> zarr.Array:
    """A zarr ``Array`` for already-parsed ``metadata`` at ``path`` (no store read)."""
    return Array(AsyncArray(metadata, StorePath(root.store, path)))


class ZarrSource:
    """Reads an array through zarr-python; ``key_fn`` maps a storage-unit index (a shard's
    for sharded arrays) to its store key."""

    def __init__(self, array: zarr.Array, key_fn: KeyFn) -> None:
        self._array = array
        self._key_fn = key_fn
        shards = getattr(array, "shards", None)
        self._grid = ChunkGrid(
            tuple(array.shape), tuple(array.chunks), tuple(shards) if shards else None
        )
        self._dtype = np.dtype(array.dtype)

    @property
    def array(self) -> zarr.Array:
        return self._array

    @property
    def shape(self) -> tuple[int, ...]:
        return self._grid.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    @property
    def grid(self) -> ChunkGrid:
        return self._grid

    @property
    def fill_value(self) -> Any:
        return self._array.fill_value

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        sel = tuple(slice(a, b) for a, b in box)
        return np.asarray(self._array[sel] if sel else self._array[()])

    def chunk_key(self, index: Sequence[int]) -> str:
        unit = self._grid.shard_shape
        if unit is not None:
            index = [i * c // s for i, c, s in zip(index, self._grid.chunk_shape, unit, strict=True)]
        return self._key_fn(tuple(index))

    def __repr__(self) -> str:
        return f"ZarrSource({self._array.store_path}, shape={self.shape}, dtype={self.dtype})"
