"""Each level's read path (``LevelArray``), and dask arrays over it chunked along storage
boundaries (built on first use: dask.array costs 0.2–1 s to import)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..model import ChunkGrid, Pyramid
from ._level_array import LevelArray
from ._virtual import virtual_levels

#: Grow dask chunks of tiny storage chunks up to about this many bytes.
TARGET_TASK_BYTES = 8 * 1024 * 1024
#: dask keeps one entry per block along each axis: bound it so that absurd declared
#: shapes (2**40 elements along an axis) stay cheap to open (2**16 cost 146 MiB and
#: 1.6 s to open a 2**62-sided 2-D array with its virtual levels; 2**12: 9 MiB, 0.2 s).
MAX_BLOCKS_PER_AXIS = 1 << 12


def dask_chunks(grid: ChunkGrid, itemsize: int, target: int = TARGET_TASK_BYTES) -> tuple[int, ...]:
    """A dask chunk shape that is a whole multiple of the storage unit (a shard, else a
    chunk) along every axis, grown from the last axis until about ``target`` bytes."""
    unit = list(grid.read_unit)
    chunks = [min(u, s) if s else 1 for u, s in zip(unit, grid.shape, strict=True)]
    for ax in reversed(range(grid.ndim)):
        while math.prod(chunks) * itemsize * 2 <= target and chunks[ax] < grid.shape[ax]:
            chunks[ax] = min(chunks[ax] * 2, grid.shape[ax])
            if chunks[ax] % unit[ax] and chunks[ax] != grid.shape[ax]:
                chunks[ax] -= chunks[ax] % unit[ax]
    for ax, s in enumerate(grid.shape):
        while chunks[ax] and -(-s // chunks[ax]) > MAX_BLOCKS_PER_AXIS:
            chunks[ax] *= 2
    return tuple(max(1, c) for c in chunks)


def as_dask(array: LevelArray) -> Any:
    """A dask array over ``array`` (``LevelArray.dask`` builds it once, on first use)."""
    import dask.array as da

    chunks = dask_chunks(array.source.grid, max(1, array.dtype.itemsize))
    return da.from_array(
        array,
        chunks=chunks,
        name=f"chunkview-{array.name}-{id(array):x}",
        inline_array=True,
        asarray=True,
        fancy=False,
        meta=np.empty((0,) * array.ndim, dtype=array.dtype),
    )


def attach(pyramid: Pyramid) -> Pyramid:
    """The same pyramid with ``Level.array`` (napari's read path) and ``Level.data`` (a
    dask array over it) on each level, labels too, plus virtual coarse levels when the
    coarsest stored level is still huge."""
    levels = []
    for lv in (*pyramid.levels, *virtual_levels(pyramid)):
        name = f"{pyramid.name}/{lv.path}"
        if lv.virtual:
            name += f"@{max(getattr(lv.source, 'factors', (1,)))}x"
        array = LevelArray(lv.source, name=name)
        levels.append(replace(lv, array=array))
    labels = tuple(attach(lab) for lab in pyramid.labels)
    return replace(pyramid, levels=tuple(levels), labels=labels)
