"""How a ``Pyramid`` is laid out on the notebook canvas (pure; no widget code).

The canvas shows two axes of the pyramid (``rows``, ``cols``: the last two axes that are
not the channel axis). Every other axis is a slider, indexed in level-0 units; each level
maps a level-0 index to its own through the levels' scale and translation (the nearest
plane in world coordinates, as napari does). Channels are composited (each with a colour
and a window) when there are few of them, else the channel axis is one more slider.

Canvas coordinates are *level-0 pixel edges*: level-0 pixel ``i`` covers ``[i, i+1)``;
pixel ``j`` of level ``k`` covers ``[origin + j·factor, origin + (j+1)·factor)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..model import Pyramid

#: Channels composited at most; beyond this the channel axis is a slider.
MAX_COMPOSITE = 6


@dataclass(frozen=True, slots=True)
class LevelLayout:
    index: int
    shape: tuple[int, ...]
    height: int  # along the row axis
    width: int  # along the column axis
    factor: tuple[float, float]  # level-0 pixels per pixel of this level (rows, cols)
    origin: tuple[float, float]  # level-0 edge coordinate of this level's first pixel edge
    scale: tuple[float, ...]  # the level's own scale / translation (all axes)
    translation: tuple[float, ...]
    virtual: bool = False


@dataclass(frozen=True, slots=True)
class Slider:
    axis: int
    name: str
    size: int  # at level 0
    kind: str  # "space", "time", "channel", ...
    unit: str | None = None
    step: float = 1.0  # physical size of one level-0 step


@dataclass(frozen=True, slots=True)
class Layout:
    """The pyramid as the canvas sees it."""

    axis_names: tuple[str, ...]
    units: tuple[str | None, ...]
    rows: int  # axis drawn vertically
    cols: int  # axis drawn horizontally
    channel_axis: int | None
    composite: bool  # channels drawn together (else the channel axis is a slider)
    n_channels: int
    sliders: tuple[Slider, ...]
    levels: tuple[LevelLayout, ...]
    rdefs: dict[str, Any] = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        return len(self.axis_names)

    def default_indices(self) -> dict[str, int]:
        """The middle plane of every slider (``omero.rdefs.defaultZ`` / ``defaultT``
        when the metadata name one); the first channel."""
        out = {}
        for s in self.sliders:
            want = 0 if s.kind == "channel" else s.size // 2
            hint = self.rdefs.get({"z": "defaultZ", "t": "defaultT"}.get(s.name, ""))
            if isinstance(hint, int) and not isinstance(hint, bool) and 0 <= hint < s.size:
                want = hint
            out[s.name] = want
        return out

    def level_index(self, level: int, axis: int, index0: int) -> int:
        """The plane of ``level`` nearest (in world coordinates) to level-0 plane
        ``index0`` along ``axis``."""
        lv, lv0 = self.levels[level], self.levels[0]
        n = lv.shape[axis]
        if level == 0 or n <= 1 or n == lv0.shape[axis]:
            return max(0, min(n - 1, int(index0)))
        s0, t0 = lv0.scale[axis], lv0.translation[axis]
        sk, tk = lv.scale[axis], lv.translation[axis]
        if sk > 0 and s0 > 0:
            pos = (t0 + index0 * s0 - tk) / sk
        else:  # no usable scale: proportional to the shapes
            pos = (index0 + 0.5) * n / max(1, lv0.shape[axis]) - 0.5
        return max(0, min(n - 1, math.floor(pos + 0.5)))

    def to_json(self) -> dict[str, Any]:
        """What the browser needs (sent once, in the widget's ``info``)."""
        lv0 = self.levels[0]
        return {
            "axes": list(self.axis_names),
            "rows": self.rows,
            "cols": self.cols,
            "channel_axis": self.channel_axis,
            "composite": self.composite,
            "n_channels": self.n_channels,
            "sliders": [
                {
                    "axis": s.axis,
                    "name": s.name,
                    "size": s.size,
                    "kind": s.kind,
                    "unit": s.unit,
                    "step": s.step,
                }
                for s in self.sliders
            ],
            "levels": [
                {
                    "index": lv.index,
                    "height": lv.height,
                    "width": lv.width,
                    "factor": list(lv.factor),
                    "origin": list(lv.origin),
                    "virtual": lv.virtual,
                }
                for lv in self.levels
            ],
            "pixel_size": [lv0.scale[self.rows], lv0.scale[self.cols]],
            "unit": self.units[self.cols] or "",
        }


def _per_axis(values: tuple[float, ...], n: int, default: float) -> tuple[float, ...]:
    return tuple(float(v) for v in values) if len(values) == n else (default,) * n


def _rdefs(pyramid: Pyramid) -> dict[str, Any]:
    attrs = pyramid.attributes
    ome = attrs.get("ome", attrs)
    omero = ome.get("omero") if isinstance(ome, dict) else None
    if not isinstance(omero, dict):
        omero = attrs.get("omero")
    rdefs = omero.get("rdefs") if isinstance(omero, dict) else None
    return dict(rdefs) if isinstance(rdefs, dict) else {}


def layout_of(pyramid: Pyramid) -> Layout:
    """The canvas layout of ``pyramid`` (``ValueError`` below two drawable axes)."""
    ndim = pyramid.ndim
    ch = pyramid.channel_axis
    spatial = [i for i in range(ndim) if i != ch]
    if len(spatial) < 2:
        raise ValueError(f"the notebook viewer needs two axes to draw, got shape {pyramid.shape}")
    rows, cols = spatial[-2], spatial[-1]
    n_channels = pyramid.shape[ch] if ch is not None else 1
    composite = ch is not None and n_channels <= MAX_COMPOSITE
    lv0 = pyramid.levels[0]
    s0 = _per_axis(lv0.scale, ndim, 1.0)
    t0 = _per_axis(lv0.translation, ndim, 0.0)
    levels = []
    for k, lv in enumerate(pyramid.levels):
        sk = _per_axis(lv.scale, ndim, 1.0)
        tk = _per_axis(lv.translation, ndim, 0.0)
        factor, origin = [1.0, 1.0], [0.0, 0.0]
        for j, ax in enumerate((rows, cols)):
            if k == 0:
                continue
            if s0[ax] > 0 and sk[ax] > 0:
                f = sk[ax] / s0[ax]
                origin[j] = (tk[ax] - t0[ax]) / s0[ax] + 0.5 - f / 2
            else:
                f = lv0.shape[ax] / max(1, lv.shape[ax])
            factor[j] = f
        levels.append(
            LevelLayout(
                index=k,
                shape=tuple(lv.shape),
                height=lv.shape[rows],
                width=lv.shape[cols],
                factor=(factor[0], factor[1]),
                origin=(origin[0], origin[1]),
                scale=sk,
                translation=tk,
                virtual=bool(lv.virtual),
            )
        )
    sliders = tuple(
        Slider(
            ax,
            pyramid.axes[ax].name,
            lv0.shape[ax],
            pyramid.axes[ax].type,
            pyramid.axes[ax].unit,
            s0[ax],
        )
        for ax in range(ndim)
        if ax not in (rows, cols) and not (ax == ch and composite)
    )
    return Layout(
        axis_names=pyramid.axis_names,
        units=pyramid.units,
        rows=rows,
        cols=cols,
        channel_axis=ch,
        composite=composite,
        n_channels=n_channels,
        sliders=sliders,
        levels=tuple(levels),
        rdefs=_rdefs(pyramid),
    )
