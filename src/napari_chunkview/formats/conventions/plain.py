"""A single array (one level), and a plain group of ``s0…sN`` (or ``0…N``) arrays with no
multiscale metadata, ordered by size."""

from __future__ import annotations

import re

from ...model import Provenance, Pyramid
from .._base import Node
from ._base import default_axes, make_level

_LEVEL_NAME = re.compile(r"^s?(\d+)$")
#: How many ``sN`` names to probe on stores that cannot list (plain HTTP).
_MAX_PROBE = 32


class SingleArray:
    name = "array"

    def match(self, node: Node) -> str | None:
        return f"a single {node.format} array (one level)" if node.kind == "array" else None

    def build(self, node: Node, reason: str) -> Pyramid:
        info = node.array()
        level = make_level(node, info)
        return Pyramid(
            uri=node.root.uri,
            name=node.name,
            levels=(level,),
            axes=default_axes(len(level.shape), info.dimension_names),
            provenance=Provenance(node.format, self.name, reason, info.format_details),
            attributes=dict(node.attrs),
            path=node.path,
        )


def level_children(node: Node) -> list[Node]:
    """Array children named ``sN`` or ``N``, by listing or, where listing is not
    possible, by probing ``s0, s1, …`` then ``0, 1, …``."""
    names = [n for n in node.children() if _LEVEL_NAME.match(n)]
    if not names and not node.root.list_dir(node.path):
        for pattern in ("s{}", "{}"):
            for i in range(_MAX_PROBE):
                if node.child(pattern.format(i)) is None:
                    break
                names.append(pattern.format(i))
            if names:
                break
    out = []
    for n in names:
        child = node.child(n)
        if child is not None and child.kind == "array":
            out.append(child)
    return out


class PlainGroup:
    name = "plain"

    def match(self, node: Node) -> str | None:
        if node.kind != "group":
            return None
        levels = level_children(node)
        if not levels:
            return None
        names = ", ".join(c.name for c in levels[:4]) + (" …" if len(levels) > 4 else "")
        return f"a {node.format} group of level arrays ({names}) without multiscale metadata"

    def build(self, node: Node, reason: str) -> Pyramid:
        infos = [(c, c.array()) for c in level_children(node)]
        ndim = len(infos[0][1].source.shape)
        infos = [ci for ci in infos if len(ci[1].source.shape) == ndim]
        infos.sort(key=lambda ci: tuple(-s for s in ci[1].source.shape))
        base = infos[0][1].source.shape
        levels = []
        for child, info in infos:
            scale = [b / s if s else 1.0 for b, s in zip(base, info.source.shape, strict=True)]
            levels.append(make_level(child, info, scale))
        return Pyramid(
            uri=node.root.uri,
            name=node.name,
            levels=tuple(levels),
            axes=default_axes(ndim, infos[0][1].dimension_names),
            provenance=Provenance(node.format, self.name, reason),
            attributes=dict(node.attrs),
            path=node.path,
        )
