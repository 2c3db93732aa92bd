"""The seam for multiscale conventions, and helpers they share.

A convention looks at a ``Node`` (any format) and, when it recognises it, builds a
``Pyramid``: ``match`` is cheap (attributes only) and says *why*; ``build`` opens the
levels (metadata only).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

from ...model import Axis, AxisType, Level, MetadataError
from .._base import ArrayInfo, Node
from .._store import join_path

SPATIAL_NAMES = ("z", "y", "x")


class Convention(Protocol):
    name: str

    def match(self, node: Node) -> str | None:
        """A reason (human text) when ``node`` follows this convention, else ``None``."""
        ...

    def build(self, node: Node, reason: str) -> Any:  # -> Pyramid
        ...


def make_level(
    node: Node,
    info: ArrayInfo,
    scale: Sequence[float] | None = None,
    translation: Sequence[float] | None = None,
) -> Level:
    ndim = len(info.source.shape)
    scale = tuple(float(s) for s in scale) if scale is not None else (1.0,) * ndim
    translation = tuple(float(t) for t in translation) if translation is not None else (0.0,) * ndim
    if len(scale) != ndim or len(translation) != ndim:
        raise MetadataError(
            f"{node.root.describe(node.path)}: {len(scale)} scale / {len(translation)} "
            f"translation values for a {ndim}-d array"
        )
    # conventions multiply factors, resolutions and global scales: finite, non-zero inputs
    # can still underflow to 0 or overflow to inf (5e-324 * 0.5)
    check_scale(scale, f"{node.root.describe(node.path)}: the level's scale")
    if not all(math.isfinite(t) for t in translation):
        raise MetadataError(
            f"{node.root.describe(node.path)}: the level's translation {list(translation)} "
            "is not finite"
        )
    return Level(
        path=node.path,
        source=info.source,
        codecs=info.codecs,
        key_encoding=info.key_encoding,
        key_template=info.key_template,
        scale=scale,
        translation=translation,
        attributes=dict(node.attrs),
    )


def default_axes(ndim: int, names: Sequence[str | None] | None = None) -> tuple[Axis, ...]:
    """Axes when metadata names none: the last ≤3 are z, y, x; before them ``t``/``c``
    when the dimension names say so, otherwise ``dim_i``."""
    out = []
    for i in range(ndim):
        name = names[i] if names is not None and i < len(names) else None
        if not name:
            k = ndim - i
            name = SPATIAL_NAMES[-k] if k <= 3 else f"dim_{i}"
        out.append(Axis(name, axis_type_for(name)))
    return tuple(out)


def axis_type_for(name: str) -> AxisType:
    low = name.lower()
    if low in ("t", "time"):
        return "time"
    if low in ("c", "ch", "channel", "channels"):
        return "channel"
    if low in ("x", "y", "z"):
        return "space"
    return "custom"


def axis_type(kind: Any, name: str) -> AxisType:
    """``kind`` when it is an axis type, else a guess from ``name``."""
    return (
        cast(AxisType, kind)
        if kind in ("space", "time", "channel", "custom")
        else axis_type_for(name)
    )


def numbers(value: Any, n: int | None, what: str) -> tuple[float, ...]:
    """A list of ``n`` finite-or-not numbers from metadata, or ``MetadataError``."""
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise MetadataError(f"{what} must be a list of numbers, got {value!r}")
    if n is not None and len(value) != n:
        raise MetadataError(f"{what} has {len(value)} values for {n} axes")
    return tuple(float(v) for v in value)


def get_mapping(attrs: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    v = attrs.get(key)
    return v if isinstance(v, Mapping) else None


# -- shared by the multiscale conventions ---------------------------------------------------

#: Unit spellings found in N5 / COSEM / BigDataViewer metadata → the UDUNITS-2 names that
#: OME-NGFF uses, so every convention reports units in one vocabulary. Unknown spellings
#: are kept as written; OME-NGFF units are never rewritten (they are already these names).
UNIT_NAMES: Mapping[str, str] = {
    "pm": "picometer",
    "a": "angstrom",
    "å": "angstrom",
    "nm": "nanometer",
    "um": "micrometer",
    "µm": "micrometer",
    "μm": "micrometer",
    "micron": "micrometer",
    "microns": "micrometer",
    "mm": "millimeter",
    "cm": "centimeter",
    "m": "meter",
    "ns": "nanosecond",
    "us": "microsecond",
    "µs": "microsecond",
    "ms": "millisecond",
    "s": "second",
    "sec": "second",
    "min": "minute",
    "h": "hour",
}


def normalise_unit(unit: Any) -> str | None:
    """``"um"`` → ``"micrometer"`` (see ``UNIT_NAMES``); ``None`` for no unit."""
    if not isinstance(unit, str) or not unit.strip():
        return None
    text: str = unit.strip()
    return UNIT_NAMES.get(text.lower(), UNIT_NAMES.get(text, text))


def where(node: Node) -> str:
    return node.root.describe(node.path)


@contextmanager
def located(node: Node) -> Iterator[None]:
    """Prefix ``MetadataError``s raised inside with the node's location (once)."""
    try:
        yield
    except MetadataError as e:
        if str(e).startswith(node.root.uri.rstrip("/")):
            raise
        raise type(e)(f"{where(node)}: {e}") from None


def open_level(node: Node, rel: Any, what: str) -> tuple[Node, ArrayInfo]:
    """The array at ``rel`` below ``node`` (``what`` names the metadata key that points
    to it); ``MetadataError`` naming that key when it is missing or not an array."""
    if not isinstance(rel, str) or not rel:
        raise MetadataError(f"{what} must be a non-empty string, got {rel!r}")
    child = node.child(rel)
    if child is None:
        raise MetadataError(
            f"{what} {rel!r}: no array at {node.root.describe(join_path(node.path, rel))}"
        )
    if child.kind != "array":
        raise MetadataError(f"{what} {rel!r}: {where(child)} is a group, not an array")
    return child, child.array()


def c_order(node: Node, values: Sequence[Any]) -> list[Any]:
    """Per-axis metadata in C order: N5 lists the fastest axis first, so reverse it."""
    return list(reversed(values)) if node.axes_reversed else list(values)


def parent(node: Node) -> Node | None:
    """The group holding ``node`` (``None`` at the store root)."""
    if not node.path:
        return None
    up = node.path.rsplit("/", 1)[0] if "/" in node.path else ""
    return node.adapter.open_node(node.root, up)


def check_scale(scale: Sequence[float], what: str) -> None:
    """A scale must be finite and non-zero on every axis."""
    if any(not math.isfinite(s) or s == 0 for s in scale):
        raise MetadataError(f"{what} must be finite and non-zero, got {list(scale)}")


def centred_translation(factors: Sequence[float], resolution: Sequence[float]) -> list[float]:
    """Where a level downsampled by ``factors`` starts: its first voxel centre sits
    ``(f - 1) / 2`` full-resolution voxels in (BigDataViewer's and n5-viewer's rule)."""
    return [(f - 1) / 2 * r for f, r in zip(factors, resolution, strict=True)]


def largest_first(items: list[Any], shape_of: Any) -> bool:
    """Sort ``items`` by level size, largest first (stable); True when the order changed."""
    order = sorted(range(len(items)), key=lambda i: -math.prod(shape_of(items[i])))
    items[:] = [items[i] for i in order]
    return order != list(range(len(order)))


#: How many numbered names (``c0``, ``setup0``, …) to probe where the store cannot list.
MAX_PROBE = 64


def numbered_children(node: Node, prefix: str, widths: Sequence[int] = (1,)) -> list[str]:
    """Children named ``<prefix><number>`` (e.g. ``setup0``, ``timepoint00003``), by
    number; found by listing, or by probing ``0, 1, …`` at each zero-padding width in
    ``widths`` where the store cannot list."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    names = [n for n in node.children() if pattern.match(n)]
    if not names and not node.root.list_dir(node.path):
        for width in widths:
            for i in range(MAX_PROBE):
                name = f"{prefix}{i:0{width}d}"
                if node.child(name) is None:
                    break
                names.append(name)
            if names:
                break
    return sorted(names, key=lambda n: int(pattern.match(n).group(1)))  # type: ignore[union-attr]
