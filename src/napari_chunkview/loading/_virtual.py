"""Virtual coarse levels for pyramids whose coarsest stored level is still huge (a single
65536² level, say), so napari never needs a full-resolution read to show the first frame.

A virtual level takes every ``factor``-th element of the coarsest stored level along the
spatial axes (nearest-neighbour decimation: exact values, no smoothing). Its chunks are
sized so that one virtual chunk needs at most one stored chunk per axis, and stored chunks
are decoded, decimated and dropped at once: memory stays at the size of the (small)
virtual chunks kept in the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..model import ChunkGrid, ChunkSource, GridSource, Level, Pyramid

#: Add virtual levels while the coarsest level's largest spatial side exceeds this.
MAX_COARSEST_SIDE = 4096
#: ... and stop once it is at most this.
TARGET_SIDE = 1024


class StridedSource(GridSource):
    """Every ``factors[i]``-th element of ``base`` along axis ``i`` (a ``ChunkSource``)."""

    def __init__(self, base: ChunkSource, factors: Sequence[int]) -> None:
        self.base = base
        self.factors = tuple(int(f) for f in factors)
        bgrid = base.grid
        shape = tuple(-(-s // f) for s, f in zip(bgrid.shape, self.factors, strict=True))
        chunks = tuple(
            max(1, c // f) for c, f in zip(bgrid.chunk_shape, self.factors, strict=True)
        )
        self._grid = ChunkGrid(shape, chunks)
        self._dtype = base.dtype

    @property
    def fill_value(self) -> Any:
        return self.base.fill_value

    def chunk_key(self, index: Sequence[int]) -> str:
        """The key of the stored chunk the virtual chunk's first element comes from."""
        return self.base.chunk_key(self._base_index(index))

    def _base_index(self, index: Sequence[int]) -> tuple[int, ...]:
        """The stored chunk virtual chunk ``index`` samples (one: virtual chunks are at
        most a stored chunk's ``c // f`` elements)."""
        return tuple(
            i * c * f // bc
            for i, c, f, bc in zip(
                index, self._grid.chunk_shape, self.factors, self.base.grid.chunk_shape,
                strict=True,
            )
        )

    def box_reader(self) -> Any:
        fn = getattr(self.base, "box_reader", None)
        return fn() if fn is not None else None

    def read_stored(
        self, box: Sequence[tuple[int, int]], indices: Sequence[tuple[int, ...]]
    ) -> np.ndarray | None:
        """``box`` through the stored level's box reader, with strides (tensorstore decodes
        every stored chunk the samples fall in, on its own threads); ``None`` without one."""
        fn = getattr(self.base, "read_stored", None)
        if fn is None:
            return None
        bshape = self.base.grid.shape
        bbox = [
            (a * f, min(b * f, n)) for (a, b), f, n in zip(box, self.factors, bshape, strict=True)
        ]
        base_chunks = sorted({self._base_index(i) for i in indices})
        return fn(bbox, base_chunks, self.factors)  # type: ignore[no-any-return]

    def read(self, box: Sequence[tuple[int, int]]) -> np.ndarray:
        bgrid = self.base.grid
        # stored positions sampled along each axis, and the stored chunks they fall in
        pos = [np.arange(a, b) * f for (a, b), f in zip(box, self.factors, strict=True)]
        out = np.empty(tuple(len(p) for p in pos), dtype=self.dtype)
        fill = self.fill_value
        out[...] = 0 if fill is None else fill
        per_axis = [np.unique(p // c) for p, c in zip(pos, bgrid.chunk_shape, strict=True)]
        fast = bool(getattr(self.base, "has_fast_path", False))
        for bidx in np.ndindex(*(len(u) for u in per_axis)):
            cidx = tuple(int(per_axis[ax][i]) for ax, i in enumerate(bidx))
            cbox = bgrid.chunk_box(cidx)
            sel_out, sel_in = [], []
            for ax, (lo, hi) in enumerate(cbox):
                m = (pos[ax] >= lo) & (pos[ax] < hi)
                sel_out.append(np.nonzero(m)[0])
                sel_in.append(pos[ax][m] - lo)
            if fast:
                raw = self.base.fetch([cidx])[0]  # type: ignore[attr-defined]
                if raw is None:
                    continue
                chunk = self.base.decode(cidx, raw)  # type: ignore[attr-defined]
            else:
                chunk = self.base.read(cbox)
            out[np.ix_(*sel_out)] = chunk[np.ix_(*sel_in)]
        return out


def _spatial_axes(pyramid: Pyramid) -> list[int]:
    axes = [i for i, a in enumerate(pyramid.axes) if a.type == "space"]
    if not axes:
        axes = list(range(max(0, pyramid.ndim - 3), pyramid.ndim))
    # thin axes (a few z planes) are left alone: only the big ones are decimated
    return [i for i in axes if pyramid.levels[-1].shape[i] > TARGET_SIDE]


def virtual_levels(pyramid: Pyramid) -> tuple[Level, ...]:
    """Levels to append after the coarsest stored one (empty when it is small enough)."""
    coarsest = pyramid.levels[-1]
    axes = _spatial_axes(pyramid)
    if not axes or max(coarsest.shape[i] for i in axes) <= MAX_COARSEST_SIDE:
        return ()
    out = []
    factor = 2
    while True:
        factors = [factor if i in axes else 1 for i in range(pyramid.ndim)]
        src = StridedSource(coarsest.source, factors)
        out.append(
            replace(
                coarsest,
                source=src,
                scale=tuple(s * f for s, f in zip(coarsest.scale, factors, strict=True)),
                # the first sample sits on the first stored element: no shift
                translation=coarsest.translation,
                virtual=(
                    f"1 in {factor} elements of {coarsest.path or 'the array'} along "
                    + ", ".join(pyramid.axes[i].name for i in axes)
                ),
                array=None,
            )
        )
        if max(src.shape[i] for i in axes) <= TARGET_SIDE or factor > 2**20:
            return tuple(out)
        factor *= 2

