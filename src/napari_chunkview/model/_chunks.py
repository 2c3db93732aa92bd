"""The regular chunk grid of one level, in C order, and pure functions on it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

Box = Sequence[tuple[int, int]]  # per axis [start, stop)


@dataclass(frozen=True, slots=True)
class ChunkGrid:
    """``shape`` of the array, ``chunk_shape`` of the stored chunks (the inner chunks of a
    sharded array) and ``shard_shape`` (``None`` when not sharded); all in C order."""

    shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    shard_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.shape) != len(self.chunk_shape):
            raise ValueError(f"shape {self.shape} and chunks {self.chunk_shape} differ in rank")
        if any(c <= 0 for c in self.chunk_shape) or any(s < 0 for s in self.shape):
            raise ValueError(f"bad chunk grid: shape {self.shape}, chunks {self.chunk_shape}")
        if self.shard_shape is not None and len(self.shard_shape) != len(self.shape):
            raise ValueError(
                f"shard shape {self.shard_shape} does not match rank {len(self.shape)}"
            )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Number of chunks along each axis."""
        return tuple(math.ceil(s / c) for s, c in zip(self.shape, self.chunk_shape, strict=True))

    @property
    def n_chunks(self) -> int:
        return math.prod(self.grid_shape)

    @property
    def shard_grid_shape(self) -> tuple[int, ...] | None:
        if self.shard_shape is None:
            return None
        return tuple(math.ceil(s / c) for s, c in zip(self.shape, self.shard_shape, strict=True))

    @property
    def read_unit(self) -> tuple[int, ...]:
        """The smallest block worth one store request in bulk reads: a shard, else a chunk."""
        return self.shard_shape or self.chunk_shape

    def chunk_box(self, index: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """[start, stop) per axis of chunk ``index``, clipped to the array."""
        return tuple(
            (i * c, min((i + 1) * c, s))
            for i, c, s in zip(index, self.chunk_shape, self.shape, strict=True)
        )

    def overlap(
        self, box: Box, index: Sequence[int]
    ) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
        """Where chunk ``index`` meets ``box``: (slices into a block holding ``box``,
        slices into the full chunk)."""
        dst, src = [], []
        for (a, b), (ca, cb) in zip(box, self.chunk_box(index), strict=True):
            lo, hi = max(a, ca), min(b, cb)
            dst.append(slice(lo - a, hi - a))
            src.append(slice(lo - ca, hi - ca))
        return tuple(dst), tuple(src)

    def chunk_ranges(self, box: Box) -> tuple[range, ...]:
        """Per axis, the range of chunk indices that intersect ``box``."""
        out = []
        for (start, stop), c, s in zip(box, self.chunk_shape, self.shape, strict=True):
            start, stop = max(0, start), min(s, stop)
            out.append(range(start // c, -(-stop // c)) if stop > start else range(0))
        return tuple(out)

    def chunks_in_box(self, box: Box) -> Iterator[tuple[int, ...]]:
        """Indices of every chunk intersecting ``box`` (C order)."""
        return itertools.product(*self.chunk_ranges(box))

    def count_in_box(self, box: Box) -> int:
        return math.prod(len(r) for r in self.chunk_ranges(box))


def full_box(shape: Sequence[int]) -> tuple[tuple[int, int], ...]:
    return tuple((0, s) for s in shape)
