"""Pyramid consistency from metadata alone: every level has the dtype and the channel /
time extent of level 0, and a shape that level 0's shape divided by the declared
downsampling factor (the ratio of the levels' scales) explains."""

from __future__ import annotations

import math

from ..model import Finding, Level, Location, Pyramid
from ._metadata import array_doc, scale_doc

#: Which metadata key holds a level's scale, per convention (for the advice).
SCALE_KEYS = {
    "n5-viewer": "downsamplingFactors / scales",
    "BigDataViewer N5": "downsamplingFactors",
    "COSEM": "transform.scale",
}


def _fits(size: int, base: int, factor: float) -> bool:
    """``size`` is ``base / factor`` rounded down or up (writers differ)."""
    if factor <= 0:
        return False
    exact = base / factor
    return math.floor(exact + 1e-9) <= size <= math.ceil(exact - 1e-9) or (
        size == 1 and exact < 1
    )


def _fmt(x: float) -> str:
    return f"{x:g}"


def level_findings(pyr: Pyramid) -> list[Finding]:
    levels = pyr.stored_levels
    if len(levels) < 2:
        return []
    base = levels[0]
    out: list[Finding] = []
    scale_key = SCALE_KEYS.get(pyr.provenance.convention, "coordinateTransformations scale")
    for i, lv in enumerate(levels[1:], start=1):
        out.extend(_dtype_and_extent(pyr, i, lv, base))
        shape_bad, factor_bad = [], []
        for ax, axis in enumerate(pyr.axes):
            if axis.type in ("channel", "time"):
                continue
            s0, si = base.shape[ax], lv.shape[ax]
            declared = lv.scale[ax] / base.scale[ax] if base.scale[ax] else 1.0
            if _fits(si, s0, declared):
                continue
            observed = round(s0 / si) if si else 0
            if observed >= 1 and _fits(si, s0, observed):
                factor_bad.append((axis.name, declared, observed, s0, si))
            else:
                shape_bad.append((axis.name, declared, s0, si))
        where_group = Location(image=pyr.path, level=i, path=lv.path, key=scale_doc(pyr, lv))
        if factor_bad:
            parts = ", ".join(
                f"{name}: declared ×{_fmt(d)} but the shape ({si} of {s0}) says ×{o}"
                for name, d, o, s0, si in factor_bad
            )
            out.append(Finding(
                "error", "pyramid.factor",
                f"level {i} ({lv.path}) downsampling factor disagrees with its shape — {parts}",
                where_group,
                "viewers scale and place each level by its declared factor: when this level is "
                "shown (zoomed out) the image jumps in size and no longer lines up with the "
                "other levels, annotations or measurements in physical units",
                f"set the level's {scale_key} to the factor its shape shows "
                + ", ".join(f"(×{o} along {n})" for n, _, o, _, _ in factor_bad)
                + ", or rewrite the level at the declared factor",
            ))
        if shape_bad:
            off_by_one = all(abs(si - s0 / d) <= 1 + 1e-9 for _, d, s0, si in shape_bad)
            parts = ", ".join(
                f"{name}: {si}, expected {_expected(s0, d)} (level 0's {s0} ÷ {_fmt(d)})"
                for name, d, s0, si in shape_bad
            )
            out.append(Finding(
                "warning" if off_by_one else "error", "pyramid.shape",
                f"level {i} ({lv.path}) has the wrong shape {lv.shape} — {parts}",
                Location(image=pyr.path, level=i, path=lv.path, key=array_doc(pyr, lv)),
                "a level that does not cover the same field of view as level 0 shows a "
                "cropped, padded or stretched image when the viewer switches to it"
                + (" (here by one pixel: a rounding difference of the writer)"
                   if off_by_one else ""),
                "regenerate the level by downsampling level 0 with the declared factor",
            ))
    return out


def _expected(base: int, factor: float) -> str:
    lo, hi = math.floor(base / factor), math.ceil(base / factor)
    return str(lo) if lo == hi else f"{lo} or {hi}"


def _dtype_and_extent(pyr: Pyramid, i: int, lv: Level, base: Level) -> list[Finding]:
    out = []
    where = Location(image=pyr.path, level=i, path=lv.path, key=array_doc(pyr, lv))
    if lv.dtype != base.dtype:
        out.append(Finding(
            "error", "pyramid.dtype",
            f"level {i} ({lv.path}) is {lv.dtype}, level 0 is {base.dtype}",
            where,
            "levels of one image should hold the same kind of values: contrast limits and "
            "label values set on one level are wrong on the other",
            "rewrite the level with level 0's data type",
        ))
    for ax, axis in enumerate(pyr.axes):
        if axis.type in ("channel", "time") and lv.shape[ax] != base.shape[ax]:
            noun = "channels" if axis.type == "channel" else "timepoints"
            out.append(Finding(
                "error", "pyramid.channels",
                f"level {i} ({lv.path}) has {lv.shape[ax]} {noun} along {axis.name}, "
                f"level 0 has {base.shape[ax]}",
                where,
                f"{noun} must not be downsampled: zooming out drops or mixes {noun}",
                f"rewrite the level with all {base.shape[ax]} {noun} of level 0",
            ))
    return out


def geometry_findings(pyramid: Pyramid) -> list[Finding]:
    out: list[Finding] = []
    for pyr in pyramid.walk():
        out.extend(level_findings(pyr))
    return out
