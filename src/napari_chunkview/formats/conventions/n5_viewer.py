"""n5-viewer / N5-Spark (and Paintera's ``resolution``/``offset``) multiscale groups.

* a group with ``scales: [[1,1,1],[2,2,1],…]`` over levels ``s0…sN``;
* a group whose ``s0, s1, …`` carry ``downsamplingFactors``;
* a group of channels ``c0, c1, …``, each one of the above: stacked on a channel axis when
  all channels have the same levels (shapes, dtype, chunks), else ``c0`` with a warning;
* a single array with ``pixelResolution`` / ``resolution`` / ``downsamplingFactors``.

Voxel size comes from ``pixelResolution`` (``{"unit", "dimensions"}`` or a bare list),
Paintera's ``resolution`` or the older ``res``, looked up on the level, then its group, then
the group above (n5-viewer's root attributes are defaults for every channel). Level ``f``
is placed like n5-viewer and BigDataViewer do: scale ``f·res``, first voxel centre
``(f-1)/2·res`` in; ``offset``/``off`` and an axis-aligned ``affineTransform`` apply on top.
All per-axis lists are in N5 order on N5 (reversed into C order here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...model import Axis, Channel, Level, MetadataError, Provenance, Pyramid
from .._base import Node
from .._stacked import stack_levels
from ._base import (
    c_order,
    centred_translation,
    check_scale,
    default_axes,
    largest_first,
    located,
    make_level,
    normalise_unit,
    numbered_children,
    numbers,
    open_level,
    parent,
)
from .cosem import Cosem
from .plain import level_children

RESOLUTION_KEYS = ("pixelResolution", "resolution", "res")
OFFSET_KEYS = ("offset", "off")
SINGLE_KEYS = (*RESOLUTION_KEYS, "downsamplingFactors")


def _factor_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _usable(value: Any) -> bool:
    """A resolution / factor value this module can read (generic keys such as ``res``
    mean other things elsewhere: only a list of numbers, or ``{"dimensions": [...]}``)."""
    if isinstance(value, Mapping):
        value = value.get("dimensions")
    return _factor_list(value)


@dataclass(frozen=True, slots=True)
class Spatial:
    """Voxel size, unit, offset and extra affine of one pyramid (C order)."""

    resolution: list[float]
    unit: str | None
    offset: list[float]
    affine: tuple[list[float], list[float]] | None

    def place(self, factors: Sequence[float]) -> tuple[list[float], list[float]]:
        scale = [f * r for f, r in zip(factors, self.resolution, strict=True)]
        trans = [
            t + o
            for t, o in zip(centred_translation(factors, self.resolution), self.offset, strict=True)
        ]
        if self.affine is not None:
            diag, shift = self.affine
            scale = [s * d for s, d in zip(scale, diag, strict=True)]
            trans = [t * d + a for t, d, a in zip(trans, diag, shift, strict=True)]
        return scale, trans


def _per_axis(node: Node, value: Any, ndim: int, what: str, pad: float = 1.0) -> list[float]:
    """A per-axis list in the node's order → C order. A shorter list (pixelResolution of
    the spatial axes only) is padded with ``pad`` for the slowest axes."""
    vals = list(numbers(value, None, what))
    if len(vals) > ndim:
        raise MetadataError(f"{what} has {len(vals)} values for {ndim} axes")
    fill = [pad] * (ndim - len(vals))
    return c_order(node, vals + fill if node.axes_reversed else fill + vals)


def spatial(node: Node, chain: Sequence[Mapping[str, Any]], ndim: int, w: list[str]) -> Spatial:
    """``Spatial`` from the first attributes in ``chain`` (level, group, parent) that
    carry each key."""

    def first(keys: Sequence[str]) -> tuple[str, Any] | None:
        for attrs in chain:
            for k in keys:
                if k in attrs:
                    return k, attrs[k]
        return None

    res, unit = [1.0] * ndim, None
    found = first(RESOLUTION_KEYS)
    if found is not None:
        key, value = found
        if isinstance(value, Mapping):
            unit = normalise_unit(value.get("unit"))
            value = value.get("dimensions")
            key = f"{key}.dimensions"
        res = _per_axis(node, value, ndim, key)
        check_scale(res, key)
    offset = [0.0] * ndim
    found = first(OFFSET_KEYS)
    if found is not None:
        offset = _per_axis(node, found[1], ndim, found[0], pad=0.0)
    found = first(("affineTransform",))
    affine = _affine(node, found[1], ndim, w) if found is not None else None
    return Spatial(res, unit, offset, affine)


def _affine(
    node: Node, value: Any, ndim: int, w: list[str]
) -> tuple[list[float], list[float]] | None:
    """An axis-aligned 3-D ``affineTransform`` (12 numbers, row-packed, N5 axis order)."""
    flat = (
        [v for row in value for v in row]
        if isinstance(value, list) and value and isinstance(value[0], list)
        else value
    )
    if ndim != 3 or not _factor_list(flat) or len(flat) != 12:
        w.append("affineTransform is not a 3-D 3x4 matrix; ignored")
        return None
    rows = [flat[4 * i : 4 * i + 4] for i in range(3)]
    if any(rows[i][j] != 0 for i in range(3) for j in range(3) if i != j):
        w.append("affineTransform rotates or shears; only its scale and translation are used")
    diag = [float(rows[i][i]) for i in range(3)]
    shift = [float(rows[i][3]) for i in range(3)]
    return c_order(node, diag), c_order(node, shift)


class N5Viewer:
    name = "n5-viewer"

    def _form(self, node: Node) -> str | None:
        if node.kind == "array":
            return "array" if any(_usable(node.attrs.get(k)) for k in SINGLE_KEYS) else None
        scales = node.attrs.get("scales")
        if isinstance(scales, list) and scales and all(_factor_list(s) for s in scales):
            return "scales"
        s0 = node.child("s0")
        if (
            s0 is not None
            and s0.kind == "array"
            and _factor_list(s0.attrs.get("downsamplingFactors"))
        ):
            return "levels"
        c0 = node.child("c0")
        if c0 is not None and c0.kind == "group" and self._form(c0) in ("scales", "levels"):
            return "channels"  # (c0 itself may be COSEM too; ``_channels`` defers to it)
        return None

    def match(self, node: Node) -> str | None:
        reasons = {
            "array": f"a {node.format} array with n5-viewer resolution metadata (one level)",
            "scales": f"n5-viewer 'scales' in the {node.format} group attributes",
            "levels": "n5-viewer levels: 's0' and its siblings carry 'downsamplingFactors'",
            "channels": "n5-viewer channel groups 'c0', 'c1', … holding multiscale levels",
        }
        form = self._form(node)
        return None if form is None else reasons[form]

    def build(self, node: Node, reason: str) -> Pyramid:
        with located(node):
            if self._form(node) == "channels":
                return self._channels(node, reason)
            return self._pyramid(node, reason)

    def _pyramid(
        self, node: Node, reason: str, defaults: Sequence[Mapping[str, Any]] = ()
    ) -> Pyramid:
        w: list[str] = []
        up = parent(node) if not defaults else None
        chain = [node.attrs, *defaults, *([up.attrs] if up is not None else [])]
        scales = node.attrs.get("scales")
        if node.kind == "array":
            items = [
                (node, node.array(), node.attrs.get("downsamplingFactors"), "downsamplingFactors")
            ]
        elif isinstance(scales, list) and scales:
            items = []
            for i, f in enumerate(scales):
                child, info = open_level(node, f"s{i}", f"scales[{i}] (level path)")
                items.append((child, info, f, f"scales[{i}]"))
        else:
            items = [
                (c, c.array(), c.attrs.get("downsamplingFactors"), f"{c.name}.downsamplingFactors")
                for c in level_children(node)
            ]
        ndim = len(items[0][1].source.shape)
        items = [it for it in items if len(it[1].source.shape) == ndim]
        if largest_first(items, lambda it: it[1].source.shape) and node.kind == "group":
            w.append("levels are not numbered largest first; sorted by size")
        base = items[0][1].source.shape
        levels: list[Level] = []
        sp: Spatial | None = None
        for child, info, factors, key in items:
            level_chain = [child.attrs, *chain] if child is not node else chain
            here = spatial(child, level_chain, ndim, w)
            sp = sp or here
            if factors is None:
                f = [b / s if s else 1.0 for b, s in zip(base, info.source.shape, strict=True)]
            else:
                f = _per_axis(child, factors, ndim, key)
                check_scale(f, key)
            scale, trans = here.place(f)
            levels.append(make_level(child, info, scale, trans))
        assert sp is not None
        axes = tuple(
            Axis(a.name, a.type, sp.unit if a.type == "space" else None) for a in default_axes(ndim)
        )
        return Pyramid(
            uri=node.root.uri,
            name=node.name,
            levels=tuple(levels),
            axes=axes,
            provenance=Provenance(node.format, self.name, reason, items[0][1].format_details),
            attributes=dict(node.attrs),
            path=node.path,
            warnings=tuple(dict.fromkeys(w)),
        )

    def _channels(self, node: Node, reason: str) -> Pyramid:
        """``c0, c1, …`` stacked on a leading channel axis when they match, else ``c0``."""
        names = numbered_children(node, "c")
        defaults = [node.attrs, *([p.attrs] if (p := parent(node)) is not None else [])]
        pyramids = []
        for name in names:
            child = node.child(name)
            if child is None:
                continue
            cosem = Cosem().match(child)  # a channel opens the same here as on its own
            if cosem is not None:
                pyramids.append(Cosem().build(child, cosem))
            elif self._form(child) in ("scales", "levels"):
                pyramids.append(self._pyramid(child, reason, defaults))
        first = pyramids[0]
        same = all(_compatible(first, p) for p in pyramids[1:])
        if len(pyramids) == 1 or not same:
            note = (
                f"{len(pyramids)} channel groups whose levels differ (shape, dtype or chunks); "
                f"showing {names[0]!r} only"
                if not same
                else ""
            )
            return replace(first, warnings=tuple(x for x in (note, *first.warnings) if x))
        ids = [int(n[1:]) for n in names[: len(pyramids)]]
        prefix = f"{node.path}/" if node.path else ""
        levels = []
        for i, _ in enumerate(first.levels):
            pattern = f"{prefix}c{{0}}/{first.levels[i].path.rsplit('/', 1)[-1]}"
            if ids != list(range(len(ids))):
                pattern = first.levels[i].path
            levels.append(stack_levels([p.levels[i] for p in pyramids], (len(pyramids),), pattern))
        return Pyramid(
            uri=node.root.uri,
            name=node.name,
            levels=tuple(levels),
            axes=(Axis("c", "channel"), *first.axes),
            provenance=Provenance(
                node.format, self.name, f"{reason}; {len(pyramids)} channels stacked on axis c"
            ),
            channels=tuple(Channel(n) for n in names[: len(pyramids)]),
            attributes=dict(node.attrs),
            path=node.path,
            warnings=tuple(dict.fromkeys(x for p in pyramids for x in p.warnings)),
        )


def _compatible(a: Pyramid, b: Pyramid) -> bool:
    return len(a.levels) == len(b.levels) and all(
        x.shape == y.shape and x.dtype == y.dtype and x.grid == y.grid and x.scale == y.scale
        for x, y in zip(a.levels, b.levels, strict=True)
    )
