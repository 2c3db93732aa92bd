"""The chunk grid of the part of a level in view, with each chunk's loading state.

Cost is bounded by ``max_cells`` whatever the level's size: when more chunks are in view,
cells become blocks of k×k chunks whose state summarises theirs (read in one pass over
the cache with ``LevelArray.known_states``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import ChunkGrid

NOT_LOADED, IN_FLIGHT, LOADED, MISSING, FAILED, PARTIAL = range(6)
#: State names as ``LevelArray.state`` spells them (``partial``: a block of chunks of
#: which some, not all, are loaded; only in coarse grids).
STATE_NAMES = ("not_loaded", "in_flight", "loaded", "missing", "failed", "partial")
STATE_LABELS = ("not loaded", "in flight", "loaded", "missing", "failed", "partly loaded")
STATE_CODES = {name: i for i, name in enumerate(STATE_NAMES)}
#: RGBA (0…1) of each state's outline, shared by every front end's legend and drawing.
STATE_COLORS = (
    (0.62, 0.62, 0.62, 0.55),  # not loaded: grey
    (1.00, 0.62, 0.05, 1.00),  # in flight: orange
    (0.20, 0.90, 0.35, 0.95),  # loaded: green
    (0.35, 0.60, 1.00, 1.00),  # missing: blue (and filled)
    (1.00, 0.12, 0.12, 1.00),  # failed: red (and filled)
    (0.10, 0.55, 0.25, 0.95),  # partly loaded: dark green
)
#: Fill of the states that are filled (missing, failed): their outline colour, faint.
FILLED = {MISSING: 0.35, FAILED: 0.45}
SHARD_COLOR = (1.0, 0.92, 0.15, 1.0)
CURSOR_COLOR = (1.0, 1.0, 1.0, 1.0)
#: Cells drawn at most: beyond this, cells are blocks of chunks.
MAX_CELLS = 16384

Box = Sequence[tuple[int, int]]


@dataclass
class GridCells:
    """Cells of the grid over two axes (``axes``: rows, cols) of one level, in level
    pixels; every other axis is fixed at one chunk (the current slice)."""

    level: int
    axes: tuple[int, int]
    shape: tuple[int, ...]  # the level's shape
    chunk_shape: tuple[int, ...]
    fixed: tuple[int, ...]  # chunk index along every axis (grid axes: first chunk in view)
    block: tuple[int, int]  # chunks per cell along rows, cols (1, 1 unless coarse)
    chunk_rows: tuple[int, int]  # [start, stop) chunk indices in view along the row axis
    chunk_cols: tuple[int, int]
    rows: np.ndarray  # (N, 2) [start, stop) along the row axis, level pixels
    cols: np.ndarray  # (N, 2)
    index: np.ndarray  # (N, ndim) chunk index of each cell's first chunk
    states: np.ndarray  # (N,) uint8 state codes
    shard_rows: np.ndarray = field(default_factory=lambda: np.empty(0))  # shard edges in view
    shard_cols: np.ndarray = field(default_factory=lambda: np.empty(0))
    counts: dict[str, int] = field(default_factory=dict)  # chunks in view per state
    n_chunks: int = 0  # chunks in view

    @property
    def coarse(self) -> bool:
        return self.block != (1, 1)

    @property
    def extent(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(rows, cols) [start, stop) covered by the cells."""
        if not len(self.rows):
            return (0, 0), (0, 0)
        return (
            (int(self.rows[:, 0].min()), int(self.rows[:, 1].max())),
            (int(self.cols[:, 0].min()), int(self.cols[:, 1].max())),
        )

    @property
    def resolved(self) -> int:
        """Chunks in view whose read has finished (loaded, missing or failed)."""
        return sum(self.counts.get(k, 0) for k in ("loaded", "missing", "failed"))


def _ranges(grid: ChunkGrid, box: Box, axes: tuple[int, int]) -> tuple[range, range, list[int]]:
    fixed = []
    for ax, ((a, _), c, s) in enumerate(zip(box, grid.chunk_shape, grid.shape, strict=True)):
        a = min(max(0, a), max(0, s - 1))
        fixed.append(a // c if ax not in axes else 0)
    ranges = grid.chunk_ranges(box)
    return ranges[axes[0]], ranges[axes[1]], fixed


def compute_cells(
    level_index: int,
    grid: ChunkGrid,
    array: Any,
    box: Box,
    axes: tuple[int, int],
    max_cells: int = MAX_CELLS,
) -> GridCells:
    """The cells of ``grid`` inside ``box`` ([start, stop) per axis, level pixels), with
    states from ``array`` (a ``LevelArray``; ``None`` → every chunk "not_loaded")."""
    rr, cc, fixed = _ranges(grid, box, axes)
    n = len(rr) * len(cc)
    k = 1 if n <= max_cells else math.ceil(math.sqrt(n / max_cells))
    r_starts = np.arange(rr.start, rr.stop, k, dtype=np.int64)
    c_starts = np.arange(cc.start, cc.stop, k, dtype=np.int64)
    rgrid, cgrid = np.meshgrid(r_starts, c_starts, indexing="ij")
    rs, cs = rgrid.ravel(), cgrid.ravel()
    ra, ca = axes
    cr, ccs = grid.chunk_shape[ra], grid.chunk_shape[ca]
    r_end = np.minimum(rs + k, rr.stop)
    c_end = np.minimum(cs + k, cc.stop)
    rows = np.stack([rs * cr, np.minimum(r_end * cr, grid.shape[ra])], axis=1)
    cols = np.stack([cs * ccs, np.minimum(c_end * ccs, grid.shape[ca])], axis=1)
    index = np.tile(np.asarray(fixed, dtype=np.int64), (len(rs), 1))
    index[:, ra] = rs
    index[:, ca] = cs
    cells = GridCells(
        level=level_index,
        axes=axes,
        shape=tuple(grid.shape),
        chunk_shape=tuple(grid.chunk_shape),
        fixed=tuple(fixed),
        block=(k, k),
        chunk_rows=(rr.start, rr.stop),
        chunk_cols=(cc.start, cc.stop),
        rows=rows,
        cols=cols,
        index=index,
        states=np.zeros(len(rs), dtype=np.uint8),
        n_chunks=n,
    )
    if grid.shard_shape is not None and len(rs):
        (r0, r1), (c0, c1) = cells.extent
        sr, sc = grid.shard_shape[ra], grid.shard_shape[ca]
        cells.shard_rows = np.arange(-(-r0 // sr) * sr, r1 + 1, sr)
        cells.shard_cols = np.arange(-(-c0 // sc) * sc, c1 + 1, sc)
        # the array's far edge closes the last (partial) shard
        cells.shard_rows = np.union1d(cells.shard_rows, [r1] if r1 == grid.shape[ra] else [])
        cells.shard_cols = np.union1d(cells.shard_cols, [c1] if c1 == grid.shape[ca] else [])
    refresh_states(cells, array)
    return cells


def refresh_states(cells: GridCells, array: Any) -> bool:
    """Read the states of ``cells`` again from ``array``; True when any changed."""
    if array is None or not len(cells.states):
        new = np.zeros(len(cells.states), dtype=np.uint8)
        counts = {"not_loaded": cells.n_chunks}
    elif not cells.coarse:
        state = array.state
        codes = STATE_CODES
        new = np.fromiter(
            (codes[state(tuple(idx))] for idx in cells.index.tolist()),
            dtype=np.uint8,
            count=len(cells.index),
        )
        counts = {STATE_NAMES[i]: int(n) for i, n in enumerate(np.bincount(new, minlength=5)) if n}
    else:
        new, counts = _coarse_states(cells, array.known_states())
    changed = not np.array_equal(new, cells.states)
    cells.states = new
    cells.counts = counts
    return changed


def _coarse_states(
    cells: GridCells, known: dict[tuple[int, ...], str]
) -> tuple[np.ndarray, dict[str, int]]:
    """Per block: failed > in flight > all missing > all done (loaded) > some done
    (partial) > not loaded."""
    ra, ca = cells.axes
    k = cells.block[0]
    (r_first, r_stop), (c_first, c_stop) = cells.chunk_rows, cells.chunk_cols
    nbr, nbc = -(-(r_stop - r_first) // k), -(-(c_stop - c_first) // k)
    tally = np.zeros((5, nbr, nbc), dtype=np.int64)
    other = [ax for ax in range(len(cells.fixed)) if ax not in cells.axes]
    fixed = cells.fixed
    for idx, name in known.items():
        if any(idx[ax] != fixed[ax] for ax in other):
            continue
        r, c = idx[ra], idx[ca]
        if r_first <= r < r_stop and c_first <= c < c_stop:
            tally[STATE_CODES[name], (r - r_first) // k, (c - c_first) // k] += 1
    # chunks per block (edge blocks hold fewer)
    rb = np.minimum(np.arange(nbr) * k + k, r_stop - r_first) - np.arange(nbr) * k
    cb = np.minimum(np.arange(nbc) * k + k, c_stop - c_first) - np.arange(nbc) * k
    size = np.outer(rb, cb)
    done = tally[LOADED] + tally[MISSING] + tally[FAILED]
    state = np.full((nbr, nbc), NOT_LOADED, dtype=np.uint8)
    state[done > 0] = PARTIAL
    state[done >= size] = LOADED
    state[(tally[MISSING] >= size)] = MISSING
    state[tally[IN_FLIGHT] > 0] = IN_FLIGHT
    state[tally[FAILED] > 0] = FAILED
    bi = (cells.index[:, ra] - r_first) // k
    bj = (cells.index[:, ca] - c_first) // k
    sums = tally.sum(axis=(1, 2))
    counts = {STATE_NAMES[i]: int(sums[i]) for i in range(5) if i != NOT_LOADED and sums[i]}
    rest = cells.n_chunks - sum(counts.values())
    if rest:
        counts["not_loaded"] = rest
    return state[bi, bj], counts


def chunk_at(grid: ChunkGrid, point: Sequence[float]) -> tuple[int, ...] | None:
    """The chunk holding ``point`` (level pixels, one value per axis); None outside."""
    out = []
    for p, c, s in zip(point, grid.chunk_shape, grid.shape, strict=True):
        if not 0 <= p < s:
            return None
        out.append(int(p // c))
    return tuple(out)


__all__ = [
    "CURSOR_COLOR",
    "FAILED",
    "FILLED",
    "IN_FLIGHT",
    "LOADED",
    "MAX_CELLS",
    "MISSING",
    "NOT_LOADED",
    "PARTIAL",
    "SHARD_COLOR",
    "STATE_CODES",
    "STATE_COLORS",
    "STATE_LABELS",
    "STATE_NAMES",
    "GridCells",
    "chunk_at",
    "compute_cells",
    "refresh_states",
]
