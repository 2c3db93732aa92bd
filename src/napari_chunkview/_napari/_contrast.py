"""Contrast limits from data, read from the coarsest level only.

The whole coarsest level is reduced when it is small; a larger one is sampled a few
storage chunks at a time. A full-resolution level of a multiscale pyramid is never read.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model import Level

log = logging.getLogger(__name__)

#: Above this many elements, the level is sampled instead of reduced whole.
MAX_ELEMENTS = 16 * 1024 * 1024
#: How many storage chunks a sample reads.
SAMPLE_CHUNKS = 8

Limits = tuple[float, float]


def is_displayable(dtype: np.dtype[Any]) -> bool:
    """Bool, integer and real floating-point data can be shown and contrasted."""
    return dtype.kind in "biuf"


def _fallback(dtype: np.dtype[Any]) -> Limits:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 1.0


def _finish(lo: Any, hi: Any, dtype: np.dtype[Any]) -> Limits:
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # all NaN (or empty sample)
        return _fallback(dtype)
    if hi <= lo:  # a constant image: napari needs lo < hi
        hi = lo + 1.0
    return lo, hi


def _sample_boxes(shape: Sequence[int], chunk: Sequence[int]) -> list[tuple[slice, ...]]:
    """Storage chunks spread evenly over the grid, the centre one included: up to
    ``SAMPLE_CHUNKS``, fewer when chunks are so large that they would exceed
    ``MAX_ELEMENTS`` together (at least the centre chunk)."""
    grid = [max(1, math.ceil(s / c)) for s, c in zip(shape, chunk, strict=True)]
    total = math.prod(grid)
    count = max(1, min(SAMPLE_CHUNKS, total, MAX_ELEMENTS // max(1, math.prod(chunk))))
    picks = {total // 2}
    if count > 1:
        picks |= {round(i * (total - 1) / (count - 2 or 1)) for i in range(count - 1)}
    boxes = []
    for flat in sorted(picks)[:count]:
        index = [int(i) for i in np.unravel_index(flat, grid)]
        boxes.append(
            tuple(
                slice(i * c, min((i + 1) * c, s))
                for i, c, s in zip(index, chunk, shape, strict=True)
            )
        )
    return boxes


def _min_max(data: Any, chunk: Sequence[int]) -> tuple[Any, Any]:
    """Min and max of ``data`` (an array-like that reads on ``np.asarray``: the level's
    ``LevelArray``, or a view of it), from a few sampled chunks when it is large. numpy on
    what is read, not dask: dask.array costs 0.2–1 s to import on a first open."""
    if math.prod(data.shape) > MAX_ELEMENTS:
        parts = [np.asarray(data[box]).ravel() for box in _sample_boxes(data.shape, chunk)]
        values = np.concatenate(parts) if parts else np.empty(0, data.dtype)
    else:
        values = np.asarray(data).ravel()
    if values.size == 0:
        return np.nan, np.nan
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]  # NaN and ±inf have no place on a scale
        if values.size == 0:
            return np.nan, np.nan
    return values.min(), values.max()


def contrast_limits(
    level: Level, channel_axis: int | None = None, channels: Sequence[int] = ()
) -> list[Limits | None]:
    """Display limits of ``level`` (one entry), or of each of ``channels`` along
    ``channel_axis``. ``None`` entries for data that has no contrast (strings, …).

    Reads the level given: pass the coarsest one. Read failures fall back to the
    dtype's range (integers) or (0, 1).
    """
    count = len(channels) if channel_axis is not None else 1
    dtype = level.dtype
    if not is_displayable(dtype):
        return [None] * count
    if dtype.kind == "b":
        return [(0.0, 1.0)] * count
    data, chunk = level.array, level.grid.chunk_shape
    if data is None or math.prod(level.shape) == 0:
        return [_fallback(dtype)] * count
    if channel_axis is None:
        views = [(data, chunk)]
    else:
        inner = tuple(c for i, c in enumerate(chunk) if i != channel_axis)
        take = (slice(None),) * channel_axis
        views = [(data[(*take, ch)], inner) for ch in channels]
    try:
        with warnings.catch_warnings():  # "All-NaN slice encountered": handled in _finish
            warnings.simplefilter("ignore", RuntimeWarning)
            results = [_min_max(v, c) for v, c in views]
    except Exception as e:  # a broken store must not stop the layer from opening
        log.warning("contrast limits of level %r could not be computed: %s", level.path, e)
        return [_fallback(dtype)] * count
    return [_finish(lo, hi, dtype) for lo, hi in results]
