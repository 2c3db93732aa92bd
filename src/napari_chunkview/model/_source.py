"""What a format hands the loading layer for each level: a way to read chunks.

A ``ChunkSource`` is the only thing the loading layer needs from a format. It reads
regions (fast path, several chunks at once) and single chunks (to isolate a failure and
to tell a stored chunk from a missing one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._chunks import ChunkGrid


@runtime_checkable
class ChunkSource(Protocol):
    """Reads one array, in C order."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    @property
    def grid(self) -> ChunkGrid: ...

    @property
    def fill_value(self) -> Any: ...

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        """Read ``box`` ([start, stop) per axis). Missing chunks read as the fill value.
        Raises when any chunk in the box cannot be decoded."""
        ...

    def chunk_key(self, index: Sequence[int]) -> str:
        """The store key of chunk ``index`` (C order), relative to the store root.
        For a sharded array, the key of the shard holding that inner chunk."""
        ...


class GridSource:
    """The properties every source derives from ``_grid``, ``_dtype`` and ``_fill``."""

    _grid: ChunkGrid
    _dtype: np.dtype[Any]
    _fill: Any = None

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
        return self._fill
