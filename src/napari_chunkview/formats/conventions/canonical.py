"""n5-universe "canonical" metadata (saalfeldlab): ``spatialTransform`` on an array, or
``multiscales`` as an *object* whose ``datasets[]`` carry a ``spatialTransform``.

``spatialTransform = {transform: {type, …}, unit, axes: [{type, name|label, unit}]}``.
``axes`` list every array axis in the array's own order (N5: fastest first); the transform
acts on the ``space`` axes in that order (all axes when ``axes`` is absent). Axis-aligned
``affine`` (row-packed nx(n+1)), ``scale``, ``translation``, ``identity`` and ``sequence``
transforms are read; rotation or shear in an affine is dropped with a warning. A
top-level ``intensityLimits {min, max}`` becomes the contrast window. The experimental
``spaces``/``transforms`` form is not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...model import Axis, Channel, Level, MetadataError, Provenance, Pyramid
from .._base import Node
from ._base import (
    axis_type,
    c_order,
    check_scale,
    largest_first,
    located,
    make_level,
    normalise_unit,
    numbers,
    open_level,
)

Affine = tuple[list[float], list[float]]


def _affine(t: Mapping[str, Any], n: int, loc: str, w: list[str]) -> Affine:
    flat = numbers(t.get("affine"), n * (n + 1), f"{loc}.affine")
    rows = [flat[i * (n + 1) : (i + 1) * (n + 1)] for i in range(n)]
    if any(rows[i][j] for i in range(n) for j in range(n) if i != j):
        w.append(f"{loc}: the affine rotates or shears; only its scale and translation are used")
    return [rows[i][i] for i in range(n)], [rows[i][n] for i in range(n)]


def _transform(t: Any, n: int, loc: str, w: list[str]) -> Affine:
    """An n5-universe transform → per-axis (scale, translation) over ``n`` axes."""
    if not isinstance(t, Mapping):
        raise MetadataError(f"{loc} must be an object, got {t!r}")
    kind = t.get("type")
    ones, zeros = [1.0] * n, [0.0] * n
    readers = {
        "affine": lambda: _affine(t, n, loc, w),
        "scale": lambda: (list(numbers(t.get("scale"), n, f"{loc}.scale")), zeros),
        "translation": lambda: (ones, list(numbers(t.get("translation"), n, f"{loc}.translation"))),
        "identity": lambda: (ones, zeros),
        "sequence": lambda: _sequence(t, n, loc, w),
    }
    if kind not in readers:
        raise MetadataError(f"{loc}.type {kind!r} is not affine, scale, translation or sequence")
    return readers[kind]()


def _sequence(t: Mapping[str, Any], n: int, loc: str, w: list[str]) -> Affine:
    s, tr = [1.0] * n, [0.0] * n
    for i, inner in enumerate(t.get("transformations") or []):
        si, ti = _transform(inner, n, f"{loc}.transformations[{i}]", w)
        s = [a * b for a, b in zip(s, si, strict=True)]
        tr = [a * b + c for a, b, c in zip(tr, si, ti, strict=True)]
    return s, tr


def spatial(
    node: Node, st: Any, ndim: int, loc: str, w: list[str]
) -> tuple[list[float], list[float], list[Axis]]:
    """(scale, translation, axes) in C order from a ``spatialTransform``."""
    if not isinstance(st, Mapping):
        raise MetadataError(f"{loc} must be an object, got {st!r}")
    raw_axes = st.get("axes")
    if raw_axes is None:
        names = ["x", "y", "z"][:ndim] if node.axes_reversed else ["z", "y", "x"][-ndim:]
        raw_axes = [{"name": n, "type": "space"} for n in names] if ndim <= 3 else None
    if not isinstance(raw_axes, list) or len(raw_axes) != ndim:
        raise MetadataError(f"{loc}.axes must list {ndim} axes, got {raw_axes!r}")
    unit = normalise_unit(st.get("unit"))
    axes = []
    for i, a in enumerate(raw_axes):
        if not isinstance(a, Mapping):
            raise MetadataError(f"{loc}.axes[{i}] must be an object, got {a!r}")
        name = a.get("name", a.get("label"))
        name = name if isinstance(name, str) and name else f"dim_{i}"
        kind = axis_type(a.get("type"), name)
        axis_unit = normalise_unit(a.get("unit")) if a.get("unit") != "none" else None
        axes.append(Axis(name, kind, unit if kind == "space" and unit else axis_unit))
    space = [i for i, a in enumerate(axes) if a.type == "space"]
    s_sp, t_sp = _transform(
        st.get("transform", {"type": "identity"}), len(space), f"{loc}.transform", w
    )
    scale, trans = [1.0] * ndim, [0.0] * ndim
    for k, i in enumerate(space):
        scale[i], trans[i] = s_sp[k], t_sp[k]
    check_scale(scale, f"{loc}.transform")
    return c_order(node, scale), c_order(node, trans), c_order(node, axes)


class Canonical:
    name = "n5-universe canonical"

    def match(self, node: Node) -> str | None:
        if node.kind == "array" and isinstance(node.attrs.get("spatialTransform"), Mapping):
            return f"n5-universe canonical 'spatialTransform' on a {node.format} array (one level)"
        ms = node.attrs.get("multiscales")
        if (
            node.kind == "group"
            and isinstance(ms, Mapping)
            and isinstance(ms.get("datasets"), list)
        ):
            return f"n5-universe canonical 'multiscales' object in the {node.format} group"
        return None

    def build(self, node: Node, reason: str) -> Pyramid:
        with located(node):
            return self._build(node, reason)

    def _build(self, node: Node, reason: str) -> Pyramid:
        w: list[str] = []
        if node.kind == "array":
            items = [(node, node.array(), node.attrs["spatialTransform"], "spatialTransform")]
        else:
            items = []
            for i, ds in enumerate(node.attrs["multiscales"]["datasets"]):
                loc = f"multiscales.datasets[{i}]"
                if not isinstance(ds, Mapping):
                    raise MetadataError(f"{loc} must be an object, got {ds!r}")
                child, info = open_level(node, ds.get("path"), f"{loc}.path")
                st = ds.get("spatialTransform", child.attrs.get("spatialTransform"))
                items.append((child, info, st, f"{loc}.spatialTransform"))
            if not items:
                raise MetadataError("multiscales.datasets is empty: no level to show")
        ndim = len(items[0][1].source.shape)
        largest_first(items, lambda it: it[1].source.shape)
        levels: list[Level] = []
        axes: list[Axis] = []
        for child, info, st, loc in items:
            scale, trans, lv_axes = spatial(child, st, ndim, loc, w)
            axes = axes or lv_axes
            levels.append(make_level(child, info, scale, trans))
        limits = node.attrs.get("intensityLimits")
        channels: tuple[Channel, ...] = ()
        if isinstance(limits, Mapping) and all(
            isinstance(limits.get(k), int | float) for k in ("min", "max")
        ):
            channels = (Channel(node.name, None, (float(limits["min"]), float(limits["max"]))),)
        return Pyramid(
            uri=node.root.uri,
            name=node.name,
            levels=tuple(levels),
            axes=tuple(axes),
            provenance=Provenance(node.format, self.name, reason, items[0][1].format_details),
            channels=channels,
            attributes=dict(node.attrs),
            path=node.path,
            warnings=tuple(dict.fromkeys(w)),
        )
