"""COSEM / Janelia CellMap (fibsem-tools): ``transform {axes, scale, translate, units}``.

Three forms are read:

* a group whose ``multiscales[0].datasets[]`` carry ``{"path": "s0", "transform": …}``;
* a group without that list whose level arrays (``s0``, ``s1``, …) each carry their own
  ``transform`` (``cosem_ms`` in the n5-ij fixtures);
* a single array with a ``transform`` (one level).

The lists in ``transform`` are in C order (…, z, y, x) — for N5 too, where fibsem-tools
wrote them through a reversing store — unless ``transform.ordering`` is ``"F"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...model import Axis, Level, MetadataError, Provenance, Pyramid
from .._base import ArrayInfo, Node
from ._base import (
    axis_type_for,
    check_scale,
    default_axes,
    largest_first,
    located,
    make_level,
    normalise_unit,
    numbers,
    open_level,
)
from .plain import level_children

#: Keys an OME-NGFF multiscale has and a COSEM one has not.
_NGFF_KEYS = ("axes", "coordinateTransformations", "version", "coordinateSystems")


def is_cosem_multiscales(ms: Any) -> bool:
    """``multiscales`` in the COSEM form: datasets with ``transform``, no OME-NGFF keys."""
    if not isinstance(ms, list) or not ms or not isinstance(ms[0], Mapping):
        return False
    m = ms[0]
    datasets = m.get("datasets")
    if any(k in m for k in _NGFF_KEYS) or not isinstance(datasets, list):
        return False
    entries = [d for d in datasets if isinstance(d, Mapping)]
    return any(isinstance(d.get("transform"), Mapping) for d in entries) and not any(
        "coordinateTransformations" in d for d in entries
    )


def is_transform(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("scale"), list)


class Cosem:
    name = "COSEM"

    def match(self, node: Node) -> str | None:
        if node.kind == "array":
            if is_transform(node.attrs.get("transform")):
                return f"a {node.format} array with a COSEM 'transform' (one level)"
            return None
        if is_cosem_multiscales(node.attrs.get("multiscales")):
            return f"COSEM 'multiscales' with datasets[].transform in the {node.format} group"
        if "multiscales" in node.attrs:
            return None
        s0 = node.child("s0")
        if s0 is not None and s0.kind == "array" and is_transform(s0.attrs.get("transform")):
            return f"COSEM level arrays: {s0.path!r} and its siblings carry a 'transform'"
        return None

    def build(self, node: Node, reason: str) -> Pyramid:
        with located(node):
            return self._build(node, reason)

    def _build(self, node: Node, reason: str) -> Pyramid:
        warnings: list[str] = []
        entries: list[tuple[Node, ArrayInfo, Any, str]] = []
        if node.kind == "array":
            entries.append((node, node.array(), node.attrs.get("transform"), "transform"))
        elif is_cosem_multiscales(node.attrs.get("multiscales")):
            datasets = node.attrs["multiscales"][0]["datasets"]
            for i, ds in enumerate(datasets):
                loc = f"multiscales[0].datasets[{i}]"
                if not isinstance(ds, Mapping):
                    raise MetadataError(f"{loc} must be an object, got {ds!r}")
                child, info = open_level(node, ds.get("path"), f"{loc}.path")
                tf = ds.get("transform", child.attrs.get("transform"))
                entries.append((child, info, tf, f"{loc}.transform"))
        else:
            for child in level_children(node):
                entries.append(
                    (child, child.array(), child.attrs.get("transform"), f"{child.name}.transform")
                )
        ndim = len(entries[0][1].source.shape)
        entries = [e for e in entries if len(e[1].source.shape) == ndim]
        largest_first(entries, lambda e: e[1].source.shape)
        base = entries[0][1].source.shape
        levels: list[Level] = []
        axes: tuple[Axis, ...] | None = None
        for child, info, tf, loc in entries:
            if tf is None:
                warnings.append(f"{loc} is missing; scale taken from the level shape")
                shape = info.source.shape
                scale = [b / s if s else 1.0 for b, s in zip(base, shape, strict=True)]
                levels.append(make_level(child, info, scale))
                continue
            names, scale, translate, units = parse_transform(tf, ndim, loc)
            if axes is None:
                axes = tuple(
                    Axis(n, axis_type_for(n), u) for n, u in zip(names, units, strict=True)
                )
            levels.append(make_level(child, info, scale, translate))
        return Pyramid(
            uri=node.root.uri,
            name=node.name,
            levels=tuple(levels),
            axes=axes or default_axes(ndim),
            provenance=Provenance(node.format, self.name, reason, entries[0][1].format_details),
            attributes=dict(node.attrs),
            path=node.path,
            warnings=tuple(warnings),
        )


def parse_transform(
    tf: Any, ndim: int, loc: str
) -> tuple[list[str], list[float], list[float], list[str | None]]:
    """(axis names, scale, translation, units) in C order."""
    if not is_transform(tf):
        raise MetadataError(f"{loc} must be an object with a 'scale' list, got {tf!r}")
    scale = list(numbers(tf["scale"], ndim, f"{loc}.scale"))
    check_scale(scale, f"{loc}.scale")
    translate = list(numbers(tf.get("translate", [0] * ndim), ndim, f"{loc}.translate"))
    names = tf.get("axes")
    if names is None:
        names = [a.name for a in default_axes(ndim)]
    elif (
        not isinstance(names, list)
        or len(names) != ndim
        or not all(isinstance(n, str) for n in names)
    ):
        raise MetadataError(f"{loc}.axes must be {ndim} axis names, got {names!r}")
    units = tf.get("units")
    if isinstance(units, str) or units is None:
        units = [units] * ndim
    elif not isinstance(units, list) or len(units) != ndim:
        raise MetadataError(f"{loc}.units must be {ndim} unit names, got {units!r}")
    ordering = tf.get("ordering", "C")
    if ordering not in ("C", "F"):
        raise MetadataError(f"{loc}.ordering must be 'C' or 'F', got {ordering!r}")
    lists = [list(names), scale, translate, [normalise_unit(u) for u in units]]
    if ordering == "F":
        lists = [v[::-1] for v in lists]
    return lists[0], lists[1], lists[2], lists[3]
