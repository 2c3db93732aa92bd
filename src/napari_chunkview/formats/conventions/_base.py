"""The seam for multiscale conventions, and helpers they share.

A convention looks at a ``Node`` (any format) and, when it recognises it, builds a
``Pyramid``: ``match`` is cheap (attributes only) and says *why*; ``build`` opens the
levels (metadata only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ...model import Axis, Level, MetadataError
from .._base import ArrayInfo, Node

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
    translation = (
        tuple(float(t) for t in translation) if translation is not None else (0.0,) * ndim
    )
    if len(scale) != ndim or len(translation) != ndim:
        raise MetadataError(
            f"{node.root.describe(node.path)}: {len(scale)} scale / {len(translation)} "
            f"translation values for a {ndim}-d array"
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


def axis_type_for(name: str) -> Any:
    low = name.lower()
    if low in ("t", "time"):
        return "time"
    if low in ("c", "ch", "channel", "channels"):
        return "channel"
    if low in ("x", "y", "z"):
        return "space"
    return "custom"


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
