"""Lazy dask arrays for each level, chunked along storage boundaries."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import dask.array as da
import numpy as np

from ..model import ChunkGrid, Pyramid
from ._level_array import LevelArray

#: Grow dask chunks of tiny storage chunks up to about this many bytes.
TARGET_TASK_BYTES = 8 * 1024 * 1024


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
    return tuple(max(1, c) for c in chunks)


def as_dask(array: LevelArray) -> Any:
    chunks = dask_chunks(array.source.grid, max(1, array.dtype.itemsize))
    return da.from_array(
        array,
        chunks=chunks,
        name=f"chunkview-{array.name}-{id(array):x}",
        inline_array=True,
        asarray=False,
        fancy=False,
        meta=np.empty((0,) * array.ndim, dtype=array.dtype),
    )


def attach(pyramid: Pyramid) -> Pyramid:
    """The same pyramid with ``Level.data`` set to a dask array on each level (labels too)."""
    levels = tuple(
        replace(lv, data=as_dask(LevelArray(lv.source, name=f"{pyramid.name}/{lv.path}")))
        for lv in pyramid.levels
    )
    labels = tuple(attach(lab) for lab in pyramid.labels)
    return replace(pyramid, levels=levels, labels=labels)
