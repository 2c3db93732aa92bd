"""The chunk grid drawn on napari's canvas with vispy visuals (not a napari layer).

Why visuals and not a managed Shapes/Vectors layer (measured on this machine, see
``benchmarks/overlay_redraw.py --compare``): setting 2,500 rectangles on a Shapes layer
takes ~0.6 s (10,000: ~2 s), a Vectors layer ~90–140 ms, one vispy line visual 3–5 ms.
Visuals also stay out of the layer list (nothing to save, select or delete by mistake)
and do not change the viewer's extent. The price: napari has no public API for its
canvas, so ``_canvas_scene`` reaches for ``viewer.window._qt_viewer.canvas.view.scene``;
when that is not there, the overlay is simply off.

Coordinates: cells come in level pixels (edges); napari draws level ``l`` pixel ``j``
over level-0 data coordinates ``[j·f - ½, (j+1)·f - ½)`` (f: napari's downsample factor,
pixel centres on integers), in 2D and 3D alike. The layer's data → world transform
(scale, translate, rotate, shear, affine) becomes one matrix on the visuals' parent node.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..explorer._grid import (
    CURSOR_COLOR,
    FILLED,
    SHARD_COLOR,
    STATE_COLORS,
    GridCells,
)

log = logging.getLogger(__name__)

#: Inset of each chunk's outline, as a fraction of its size (neighbours keep their colour).
INSET = 0.06
#: Draw on top of napari's layers (their nodes get small ``order`` values).
ORDER = 10**6


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the grid of a level lies: ``factors`` (napari's downsample factors of the
    level along rows, cols), the visuals' ``matrix`` (4×4, vispy row-vector convention,
    data-0 (x=col, y=row, z=depth) → scene), and for 3D the depth (data-0) of the plane."""

    factors: tuple[float, float]
    matrix: tuple[tuple[float, ...], ...]
    depth: float | None = None


def _canvas_scene(viewer: Any) -> Any:
    try:
        return viewer.window._qt_viewer.canvas.view.scene
    except AttributeError:
        return None


def placement_for(layer: Any, displayed: list[int], level: int, depth: float | None) -> Placement:
    """``displayed``: the layer's displayed dims (2 or 3, napari order); ``depth``: the
    data-0 coordinate of the slice plane along ``displayed[0]`` in 3D."""
    ndim = layer.ndim
    if getattr(layer, "multiscale", False):
        f = np.asarray(layer.downsample_factors[level], dtype=float)
    else:
        f = np.ones(ndim)
    grid_dims = displayed[-2:]
    # data → world, linearised at the current slice (napari's transforms are affine)
    base = np.zeros(ndim)
    w0 = np.asarray(layer.data_to_world(base), dtype=float)
    vis_dims = list(reversed(displayed))  # vispy x, y, z ↔ layer dims
    m = np.eye(4)
    for j, d in enumerate(vis_dims):
        e = base.copy()
        e[d] = 1.0
        w = np.asarray(layer.data_to_world(e), dtype=float) - w0
        m[j, : len(vis_dims)] = [w[k] for k in vis_dims]
    m[3, : len(vis_dims)] = [w0[k] for k in vis_dims]
    return Placement(
        factors=(float(f[grid_dims[0]]), float(f[grid_dims[1]])),
        matrix=tuple(tuple(float(v) for v in row) for row in m),
        depth=depth,
    )


class GridOverlay:
    """Outlines coloured by state, fills for missing / failed chunks, shard outlines and
    the chunk under the cursor, as four vispy visuals under one node on napari's scene."""

    def __init__(self, viewer: Any) -> None:
        self._viewer = viewer
        self._node: Any = None
        self._visuals: dict[str, Any] = {}
        self.visible = True
        self.cells: GridCells | None = None
        self.placement: Placement | None = None
        self._cursor: tuple[tuple[int, int], tuple[int, int]] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def _ensure(self) -> bool:
        if self._node is not None:
            return True
        scene = _canvas_scene(self._viewer)
        if scene is None:
            return False
        from vispy.scene.node import Node
        from vispy.scene.visuals import Line, Mesh
        from vispy.visuals.transforms import MatrixTransform

        self._node = Node(parent=scene, name="chunkview chunk grid")
        self._node.order = ORDER
        self._node.transform = MatrixTransform()
        for name in ("fill", "cells", "shards", "cursor"):
            if name == "fill":
                vis = Mesh(parent=self._node)
            else:
                vis = Line(parent=self._node, connect="segments", method="gl", antialias=False)
            vis.set_gl_state("translucent", depth_test=False)
            vis.order = ORDER + len(self._visuals)
            vis.visible = False
            self._visuals[name] = vis
        return True

    def detach(self) -> None:
        """Take the visuals off the canvas and drop every reference to it (they are made
        again on the next ``draw``)."""
        if self._node is not None:
            try:
                self._node.parent = None
            except Exception as e:  # the canvas may already be gone
                log.debug("chunk grid overlay: %s", e)
        self._node = None
        self._visuals = {}
        self.cells = self.placement = None
        self._cursor = None

    def close(self) -> None:
        """``detach`` for good: the viewer is forgotten too."""
        self.detach()
        self._viewer = None

    @property
    def attached(self) -> bool:
        return self._node is not None

    def visual(self, name: str) -> Any:
        """One of ``fill``, ``cells``, ``shards``, ``cursor`` (for tests)."""
        return self._visuals.get(name)

    # -- drawing --------------------------------------------------------------------------------
    def draw(self, cells: GridCells | None, placement: Placement | None) -> None:
        self.cells, self.placement = cells, placement
        if cells is None or placement is None or not self.visible:
            self._hide()
            return
        if self._viewer is None or not self._ensure():
            return
        self._node.transform.matrix = np.asarray(placement.matrix)
        self._draw_cells(cells, placement)
        self._draw_shards(cells, placement)
        self._draw_cursor()
        self._update()

    def recolor(self, cells: GridCells) -> None:
        """Same cells, new states: only colours and fills change."""
        if cells is not self.cells or self.placement is None or not self.attached:
            self.draw(cells, self.placement)
            return
        self._draw_cells(cells, self.placement)
        self._update()

    def set_cursor(self, box: tuple[tuple[int, int], tuple[int, int]] | None) -> None:
        """Outline ``box`` ((rows, cols) [start, stop), level pixels) of the shown level."""
        self._cursor = box
        if self.attached:
            self._draw_cursor()
            self._update()

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        if not visible:
            self._hide()
        elif self.cells is not None:
            self.draw(self.cells, self.placement)

    def _hide(self) -> None:
        for vis in self._visuals.values():
            vis.visible = False
        self._update()

    def _update(self) -> None:
        if self._node is not None:
            self._node.update()

    # -- geometry -------------------------------------------------------------------------
    def _to_data(self, rows: np.ndarray, cols: np.ndarray, p: Placement) -> np.ndarray:
        """Level-pixel edges → vispy vertices (x=col, y=row, z=depth or 0) in data-0
        units (always 3 columns: a vispy line's buffer keeps the width it started with)."""
        fr, fc = p.factors
        x = cols * fc - 0.5
        y = rows * fr - 0.5
        z = np.full_like(x, 0.0 if p.depth is None else p.depth, dtype=float)
        return np.stack([x, y, z], axis=-1).astype(np.float32)

    def _draw_cells(self, cells: GridCells, p: Placement) -> None:
        line, mesh = self._visuals["cells"], self._visuals["fill"]
        n = len(cells.states)
        if n == 0:
            line.visible = mesh.visible = False
            return
        r0, r1 = cells.rows[:, 0].astype(float), cells.rows[:, 1].astype(float)
        c0, c1 = cells.cols[:, 0].astype(float), cells.cols[:, 1].astype(float)
        ir, ic = (r1 - r0) * INSET, (c1 - c0) * INSET
        r0, r1, c0, c1 = r0 + ir, r1 - ir, c0 + ic, c1 - ic
        # four segments per cell: top, right, bottom, left (8 vertices)
        rows = np.stack([r0, r0, r0, r1, r1, r1, r1, r0], axis=1).ravel()
        cols = np.stack([c0, c1, c1, c1, c1, c0, c0, c0], axis=1).ravel()
        colors = np.asarray(STATE_COLORS, dtype=np.float32)[cells.states]
        line.set_data(pos=self._to_data(rows, cols, p), color=np.repeat(colors, 8, axis=0))
        line.visible = True
        filled = np.isin(cells.states, list(FILLED))
        if not filled.any():
            mesh.visible = False
            return
        fr0, fr1, fc0, fc1 = r0[filled], r1[filled], c0[filled], c1[filled]
        m = int(filled.sum())
        verts = self._to_data(
            np.stack([fr0, fr0, fr1, fr1], axis=1).ravel(),
            np.stack([fc0, fc1, fc1, fc0], axis=1).ravel(),
            p,
        )
        base = np.arange(m, dtype=np.uint32)[:, None] * 4
        tri = np.array([0, 1, 2, 0, 2, 3], dtype=np.uint32)
        faces = (base + tri).reshape(-1, 3)
        st = cells.states[filled]
        fill = np.asarray(STATE_COLORS, dtype=np.float32)[st].copy()
        fill[:, 3] = [FILLED[int(s)] for s in st]
        mesh.set_data(vertices=verts, faces=faces, face_colors=np.repeat(fill, 2, axis=0))
        mesh.visible = True

    def _draw_shards(self, cells: GridCells, p: Placement) -> None:
        line = self._visuals["shards"]
        if not len(cells.shard_rows) and not len(cells.shard_cols):
            line.visible = False
            return
        (ra, rb), (ca, cb) = cells.extent
        sr = np.asarray(cells.shard_rows, dtype=float)
        sc = np.asarray(cells.shard_cols, dtype=float)
        rows = np.concatenate([np.repeat(sr, 2), np.tile([ra, rb], len(sc))])
        cols = np.concatenate([np.tile([ca, cb], len(sr)), np.repeat(sc, 2)])
        line.set_data(pos=self._to_data(rows, cols, p), color=SHARD_COLOR)
        line.visible = True

    def _draw_cursor(self) -> None:
        line = self._visuals.get("cursor")
        if line is None:
            return
        if self._cursor is None or self.placement is None or not self.visible or self.cells is None:
            line.visible = False
            return
        (r0, r1), (c0, c1) = self._cursor
        rows = np.array([r0, r0, r0, r1, r1, r1, r1, r0], dtype=float)
        cols = np.array([c0, c1, c1, c1, c1, c0, c0, c0], dtype=float)
        line.set_data(pos=self._to_data(rows, cols, self.placement), color=CURSOR_COLOR)
        line.visible = True
