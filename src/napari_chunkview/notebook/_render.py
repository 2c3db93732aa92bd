"""Tiles for the notebook canvas: read one tile of one level through the shared chunk
cache, apply each channel's window and colour, composite, and hand back ``uint8``.

A tile is ``tile_size`` pixels of *its level* along both drawn axes; tile ``(ty, tx)``
of level ``k`` covers rows ``[ty·T, (ty+1)·T)`` and columns ``[tx·T, (tx+1)·T)`` of that
level (clipped at the far edges). The maths, per pixel, with ``n`` the visible channels::

    value = Σ clip((v_c - lo_c) / (hi_c - lo_c), 0, 1) · colour_c      (float64, RGB in 0…1)
    pixel = rint(clip(value, 0, 1) · 255)                             (uint8)

A single visible white channel is sent as one grey byte per pixel ("L"), anything else as
RGB. NaN reads as black.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import Pyramid
from ._geometry import Layout

#: Default colours for channels without one (the first is used alone for one channel).
PALETTE = ("#FF00FF", "#00FF00", "#00FFFF", "#FF0000", "#0000FF", "#FFFF00")
#: The largest plane (elements) read to estimate a window; larger planes are cropped
#: around their centre.
MAX_WINDOW_PLANE = 1024 * 1024


class TileError(ValueError):
    """A tile request that cannot be answered (bad level, index, channel, dtype)."""


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    index: int  # along the channel axis (0 when there is none)
    color: tuple[float, float, float]
    window: tuple[float, float]


def parse_color(text: Any) -> tuple[float, float, float]:
    """``#RRGGBB`` / ``RRGGBB`` / ``#RGB`` → RGB floats in 0…1."""
    s = str(text).strip().lstrip("#")
    if len(s) == 3:
        s = "".join(c * 2 for c in s)
    if len(s) != 6:
        raise TileError(f"not a colour: {text!r}")
    try:
        r, g, b = (int(s[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        raise TileError(f"not a colour: {text!r}") from None
    return r / 255, g / 255, b / 255


def parse_channels(raw: Any, layout: Layout) -> list[ChannelSpec]:
    """The channels of a request (``[{"index", "color", "window"}]``), validated."""
    if not isinstance(raw, list) or not raw:
        raise TileError("a tile request needs at least one channel")
    out = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise TileError(f"bad channel entry {item!r}")
        try:
            index = int(item.get("index", 0))
            lo, hi = (float(v) for v in item["window"])
        except (KeyError, TypeError, ValueError):
            raise TileError(f"bad channel entry {item!r}") from None
        if not 0 <= index < layout.n_channels:
            raise TileError(f"channel {index} out of range (0…{layout.n_channels - 1})")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise TileError(f"window of channel {index} is not finite: {lo}, {hi}")
        if hi <= lo:
            hi = lo + (abs(lo) * 1e-6 or 1e-6)
        out.append(ChannelSpec(index, parse_color(item.get("color", "#FFFFFF")), (lo, hi)))
    return out


def tile_box(layout: Layout, level: int, ty: int, tx: int, tile: int) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of tile ``(ty, tx)`` in pixels of ``level``."""
    if not 0 <= level < len(layout.levels):
        raise TileError(f"level {level} does not exist ({len(layout.levels)} levels)")
    lv = layout.levels[level]
    y0, x0 = ty * tile, tx * tile
    if ty < 0 or tx < 0 or y0 >= lv.height or x0 >= lv.width:
        raise TileError(f"tile ({ty}, {tx}) is outside level {level} ({lv.height}×{lv.width})")
    return y0, min(y0 + tile, lv.height), x0, min(x0 + tile, lv.width)


def plane_key(
    layout: Layout,
    level: int,
    indices: Mapping[str, Any],
    rows: slice,
    cols: slice,
    channel: slice | int | None,
) -> tuple[Any, ...]:
    """Basic-indexing key for one plane (``channel``: what to take along the channel
    axis, ``None`` when the channel axis is a slider or absent)."""
    key: list[Any] = []
    for ax in range(layout.ndim):
        if ax == layout.rows:
            key.append(rows)
        elif ax == layout.cols:
            key.append(cols)
        elif ax == layout.channel_axis and channel is not None:
            key.append(channel)
        else:
            name = layout.axis_names[ax]
            try:
                index0 = int(indices.get(name, 0))
            except (TypeError, ValueError):
                raise TileError(f"bad index for axis {name!r}: {indices.get(name)!r}") from None
            size0 = layout.levels[0].shape[ax]
            if not 0 <= index0 < size0:
                raise TileError(f"index {index0} of axis {name!r} is out of range (0…{size0 - 1})")
            key.append(layout.level_index(level, ax, index0))
    return tuple(key)


def read_planes(
    pyramid: Pyramid,
    layout: Layout,
    level: int,
    box: tuple[int, int, int, int],
    indices: Mapping[str, Any],
    channels: Sequence[ChannelSpec],
) -> np.ndarray:
    """``(len(channels), h, w)`` raw values of ``box`` (level pixels) at ``indices``."""
    y0, y1, x0, x1 = box
    array = pyramid.levels[level].array
    if array is None:
        raise TileError(f"level {level} has no array attached")
    ch_axis = layout.channel_axis
    if ch_axis is not None and layout.composite:
        wanted = [c.index for c in channels]
        lo, hi = min(wanted), max(wanted) + 1
        block = np.asarray(
            array[plane_key(layout, level, indices, slice(y0, y1), slice(x0, x1), slice(lo, hi))]
        )
        kept = [ch_axis, layout.rows, layout.cols]
        order = sorted(kept)  # the axes the read keeps, in array order
        block = np.moveaxis(block, [order.index(a) for a in kept], [0, 1, 2])
        return block[[i - lo for i in wanted]]
    # rows < cols by construction, so the plane comes out (rows, cols)
    return np.asarray(array[plane_key(layout, level, indices, slice(y0, y1), slice(x0, x1), None)])[
        None
    ]


def _weights(values: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    lo, hi = window
    n = (values.astype(np.float64) - lo) / (hi - lo)
    np.clip(n, 0.0, 1.0, out=n)
    if values.dtype.kind == "f":
        n[np.isnan(n)] = 0.0
    return n


def composite(planes: np.ndarray, channels: Sequence[ChannelSpec]) -> np.ndarray:
    """Window, colour and add ``planes`` (C, h, w) → ``uint8`` (h, w) for one white
    channel, else (h, w, 3). Accumulates one colour plane at a time, skipping zero
    colour components (adding 0 or multiplying by 1 changes nothing: the result is
    bit-identical to the per-pixel formula, ~10× faster than interleaved RGB)."""
    if planes.dtype.kind not in "biuf":
        raise TileError(f"cannot display {planes.dtype} data")
    gray = len(channels) == 1 and channels[0].color == (1.0, 1.0, 1.0)
    acc = np.zeros((1 if gray else 3, *planes.shape[1:]), dtype=np.float64)
    for plane, spec in zip(planes, channels, strict=True):
        n = _weights(plane, spec.window)
        for k, c in enumerate((1.0,) if gray else spec.color):
            if c == 1.0:
                acc[k] += n
            elif c:
                acc[k] += n * c
    np.clip(acc, 0.0, 1.0, out=acc)
    acc *= 255.0
    np.rint(acc, out=acc)
    out = acc.astype(np.uint8)
    return out[0] if gray else np.ascontiguousarray(out.transpose(1, 2, 0))


def render_tile(
    pyramid: Pyramid,
    layout: Layout,
    level: int,
    ty: int,
    tx: int,
    tile: int,
    indices: Mapping[str, Any],
    channels: Sequence[ChannelSpec],
) -> np.ndarray:
    """One tile, ready to encode (see the module docstring)."""
    box = tile_box(layout, level, ty, tx, tile)
    return composite(read_planes(pyramid, layout, level, box, indices, channels), channels)


# -- default display settings ---------------------------------------------------------------
def _plane_sample(
    pyramid: Pyramid, layout: Layout, channel: int, indices: Mapping[str, Any]
) -> np.ndarray:
    """The coarsest level's plane at ``indices`` (cropped to ``MAX_WINDOW_PLANE``)."""
    level = len(layout.levels) - 1
    lv = layout.levels[level]
    side = int(math.sqrt(MAX_WINDOW_PLANE))
    h, w = min(lv.height, side), min(lv.width, side)
    y0, x0 = (lv.height - h) // 2, (lv.width - w) // 2
    spec = [ChannelSpec(channel, (1.0, 1.0, 1.0), (0.0, 1.0))]
    return read_planes(pyramid, layout, level, (y0, y0 + h, x0, x0 + w), indices, spec)[0]


def auto_window(
    pyramid: Pyramid,
    layout: Layout,
    channel: int,
    indices: Mapping[str, Any],
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> tuple[float, float]:
    """A window from the coarsest level's plane at ``indices`` (never full resolution)."""
    data = _plane_sample(pyramid, layout, channel, indices).astype(np.float64)
    data = data[np.isfinite(data)]
    if not data.size:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(data, percentiles))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def value_range(
    dtype: np.dtype[Any], window: tuple[float, float], sample: tuple[float, float] | None
) -> tuple[float, float]:
    """Bounds of the contrast sliders: the dtype's range for ≤ 16-bit integers, else the
    sampled data range (widened), always including the window."""
    if dtype.kind == "b":
        lo, hi = 0.0, 1.0
    elif dtype.kind in "iu" and dtype.itemsize <= 2:
        info = np.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
    elif sample is not None:
        lo, hi = sample
        pad = (hi - lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
        if dtype.kind == "u":
            lo = max(0.0, lo)
    else:
        lo, hi = window
    return min(lo, window[0]), max(hi, window[1])


def default_channels(
    pyramid: Pyramid, layout: Layout, indices: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Per channel: name, colour, window (metadata, else the coarsest plane's min/max),
    visibility and the sliders' range."""
    out = []
    n = layout.n_channels
    dtype = pyramid.dtype
    for c in range(n):
        meta = pyramid.channels[c] if c < len(pyramid.channels) else None
        name = (
            meta.name
            if meta is not None and meta.name
            else (f"channel {c}" if layout.channel_axis is not None else pyramid.name or "image")
        )
        if meta is not None and meta.color:
            color = "#" + meta.color.lstrip("#").upper()
        elif n == 1 or not layout.composite:
            color = "#FFFFFF"
        else:
            color = PALETTE[c % len(PALETTE)]
        sample: tuple[float, float] | None = None
        window = tuple(meta.window) if meta is not None and meta.window else None
        if window is None or dtype.kind not in "iub" or dtype.itemsize > 2:
            try:
                sample = auto_window(pyramid, layout, c, indices, (0.0, 100.0))
            except Exception:  # an unreadable coarse level: fall back to the dtype
                sample = None
        if window is None:
            window = sample or (
                (0.0, 1.0) if dtype.kind in "fb" else value_range(dtype, (0, 1), None)
            )
        lo, hi = float(window[0]), float(window[1])
        if hi <= lo:
            hi = lo + 1.0
        out.append(
            {
                "index": c,
                "name": name,
                "color": color,
                "window": [lo, hi],
                "visible": bool(meta.visible) if meta is not None else True,
                "range": list(value_range(dtype, (lo, hi), sample)),
            }
        )
    return out
