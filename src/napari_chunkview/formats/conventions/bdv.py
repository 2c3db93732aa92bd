"""BigDataViewer N5: ``setup{S}/timepoint{T}/s{L}`` (also zero-padded ``setup00`` /
``timepoint00000``).

Each setup group holds ``downsamplingFactors`` (one list per level, N5 order) and
``dataType``. Opening the root stacks every view into levels of shape
``(t, c, z, y, x)`` — timepoints on ``t``, setups on ``c`` — through ``StackedSource``
(chunk size 1 along both); opening a setup group gives ``(t, z, y, x)``. Setups whose levels
differ from the first setup's (shape, dtype, chunks, missing timepoints) are left out with
a warning. The voxel size lives in the companion BDV XML, not in the N5, so scales come from
``downsamplingFactors`` alone (voxel units).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...model import Axis, Channel, Level, MetadataError, Provenance, Pyramid
from .._base import Node
from .._stacked import stack_levels
from ._base import (
    c_order,
    centred_translation,
    check_scale,
    default_axes,
    located,
    make_level,
    numbered_children,
    numbers,
    open_level,
)

PADDING = (1, 2)  # setup0 / setup00
TP_PADDING = (1, 5)  # timepoint0 / timepoint00000
NO_VOXEL_SIZE = (
    "voxel size is kept in the BDV XML, not in the N5: scale from downsamplingFactors only"
)


def is_setup(attrs: Mapping[str, Any]) -> bool:
    """A BDV setup group: ``downsamplingFactors`` is a list of per-level lists."""
    f = attrs.get("downsamplingFactors")
    return (
        isinstance(f, list)
        and bool(f)
        and all(isinstance(level, list) and level for level in f)
        and "dataType" in attrs
    )


def _first_setup(node: Node) -> Node | None:
    for width in PADDING:
        child = node.child(f"setup{0:0{width}d}")
        if child is not None:
            return child
    return None


class Bdv:
    name = "BigDataViewer N5"

    def match(self, node: Node) -> str | None:
        if node.kind != "group":
            return None
        if is_setup(node.attrs):
            return f"a BigDataViewer setup group: 'downsamplingFactors' per level ({NO_VOXEL_SIZE})"
        setup = _first_setup(node)
        if setup is not None and setup.kind == "group" and is_setup(setup.attrs):
            return (
                f"a BigDataViewer N5 root: {setup.name}/timepoint*/s* with the setup's "
                f"'downsamplingFactors' ({NO_VOXEL_SIZE})"
            )
        return None

    def build(self, node: Node, reason: str) -> Pyramid:
        with located(node):
            if is_setup(node.attrs):
                return self._setup(node, reason)
            return self._root(node, reason)

    def _setup_levels(self, setup: Node) -> tuple[list[str], list[list[Level]]]:
        """Timepoint names and, per timepoint, the setup's levels (largest first)."""
        raw = setup.attrs["downsamplingFactors"]
        tps = numbered_children(setup, "timepoint", TP_PADDING)
        if not tps:
            raise MetadataError(f"{setup.name}: no timepoint groups (timepoint0, …)")
        per_tp: list[list[Level]] = []
        for tp in tps:
            group = setup.child(tp)
            if group is None:
                raise MetadataError(f"{setup.name}/{tp}: not found")
            levels = []
            for i, factors in enumerate(raw):
                child, info = open_level(group, f"s{i}", f"downsamplingFactors[{i}] (level path)")
                ndim = len(info.source.shape)
                f = c_order(setup, numbers(factors, ndim, f"downsamplingFactors[{i}]"))
                check_scale(f, f"downsamplingFactors[{i}]")
                levels.append(make_level(child, info, f, centred_translation(f, [1.0] * ndim)))
            for first, lv in zip(per_tp[0] if per_tp else levels, levels, strict=True):
                if (lv.shape, lv.dtype, lv.grid) != (first.shape, first.dtype, first.grid):
                    raise MetadataError(
                        f"{lv.path}: shape {lv.shape} {lv.dtype}, chunks {lv.grid.chunk_shape} "
                        f"differ from {first.path}'s; timepoints cannot be stacked"
                    )
            per_tp.append(levels)
        return tps, per_tp

    def _setup(self, node: Node, reason: str) -> Pyramid:
        tps, per_tp = self._setup_levels(node)
        prefix = f"{node.path}/" if node.path else ""
        levels = tuple(
            stack_levels(
                [per_tp[t][i] for t in range(len(tps))],
                (len(tps),),
                _pattern(prefix, [("timepoint", tps)], i) or per_tp[0][i].path,
            )
            for i in range(len(per_tp[0]))
        )
        ndim = len(per_tp[0][0].shape)
        return self._pyramid(node, reason, levels, (Axis("t", "time"), *default_axes(ndim)), ())

    def _root(self, node: Node, reason: str) -> Pyramid:
        width = len(_first_setup(node).name) - len("setup")  # type: ignore[union-attr]
        names = numbered_children(node, "setup", (width,))
        warnings: list[str] = []
        setups: list[tuple[str, list[str], list[list[Level]]]] = []
        for name in names:
            setup = node.child(name)
            if setup is None or not is_setup(setup.attrs):
                warnings.append(f"{name}: no downsamplingFactors/dataType; left out")
                continue
            try:
                tps, per_tp = self._setup_levels(setup)
            except MetadataError as e:
                if not setups:
                    raise
                warnings.append(f"{name}: left out ({e})")
                continue
            if setups and not _same(setups[0], (name, tps, per_tp)):
                warnings.append(
                    f"{name}: its timepoints or levels (shape, dtype, chunks) differ from "
                    f"{setups[0][0]}'s; left out"
                )
                continue
            setups.append((name, tps, per_tp))
        tps = setups[0][1]
        n_t, n_c = len(tps), len(setups)
        prefix = f"{node.path}/" if node.path else ""
        levels = tuple(
            stack_levels(
                [s[2][t][i] for t in range(n_t) for s in setups],
                (n_t, n_c),
                _pattern(prefix, [("setup", [s[0] for s in setups]), ("timepoint", tps)], i)
                or setups[0][2][0][i].path,
            )
            for i in range(len(setups[0][2][0]))
        )
        ndim = len(setups[0][2][0][0].shape)
        axes = (Axis("t", "time"), Axis("c", "channel"), *default_axes(ndim))
        channels = tuple(Channel(f"setup {int(s[0][5:])}") for s in setups)
        return self._pyramid(node, reason, levels, axes, channels, warnings)

    def _pyramid(
        self,
        node: Node,
        reason: str,
        levels: tuple[Level, ...],
        axes: tuple[Axis, ...],
        channels: tuple[Channel, ...],
        warnings: Sequence[str] = (),
    ) -> Pyramid:
        return Pyramid(
            uri=node.root.uri,
            name=node.name,
            levels=levels,
            axes=axes,
            provenance=Provenance(node.format, self.name, reason),
            channels=channels,
            attributes=dict(node.attrs),
            path=node.path,
            warnings=tuple(warnings),
        )


def _same(
    a: tuple[str, list[str], list[list[Level]]], b: tuple[str, list[str], list[list[Level]]]
) -> bool:
    la, lb = a[2][0], b[2][0]
    return (
        a[1] == b[1]
        and len(la) == len(lb)
        and all(
            x.shape == y.shape and x.dtype == y.dtype and x.grid == y.grid and x.scale == y.scale
            for x, y in zip(la, lb, strict=True)
        )
        and all(
            lv.shape == la[i].shape and lv.grid == la[i].grid
            for levels in b[2]
            for i, lv in enumerate(levels)
        )
    )


def _pattern(prefix: str, parts: Sequence[tuple[str, Sequence[str]]], level: int) -> str | None:
    """The stacked level's path with ``{i}`` for the index along new axis ``i``
    (``parts`` = (kind, names) per path segment, e.g. ``[("setup", …), ("timepoint", …)]``
    with the timepoint axis first). Exact only when every kind is numbered 0, 1, … without
    padding; ``None`` otherwise (then ``Level.chunk_key`` gives the exact keys)."""
    if any(list(names) != [f"{kind}{i}" for i in range(len(names))] for kind, names in parts):
        return None
    k = len(parts)
    segments = [f"{kind}{{{k - 1 - j}}}" for j, (kind, _) in enumerate(parts)]
    return f"{prefix}{'/'.join(segments)}/s{level}"
