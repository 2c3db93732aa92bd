"""What a front end shows of a pyramid (``ViewState``), and why it shows that level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import Pyramid


@dataclass(frozen=True, slots=True)
class ViewState:
    """What the front end shows of the pyramid: ``level``, and ``box`` — per pyramid axis,
    [start, stop) in that level's pixels: the region shown along the two grid ``axes``
    (rows, cols) and the current slice (one index) along every other axis.

    The rest explains the choice of level: ``ndisplay`` (2 or 3), whether the front end
    has several levels to choose from (``multiscale``) or was told which (``locked``), the
    canvas size (height, width) in screen pixels, and the view's extent along the grid
    axes in level-0 pixels (``view0``)."""

    level: int
    box: tuple[tuple[int, int], ...]
    axes: tuple[int, int]
    ndisplay: int = 2
    multiscale: bool = True
    locked: bool = False
    canvas: tuple[int, int] | None = None
    view0: tuple[float, float] | None = None


def store_root(pyramid: Pyramid) -> Any:
    """The store the pyramid was read from (``None`` for computed-only sources)."""
    for lv in pyramid.stored_levels:
        root = getattr(lv.source, "_root", None)
        if root is not None:
            return root
    return None


def level_reason(pyramid: Pyramid, state: ViewState) -> str:
    """Why the front end shows ``state.level`` (napari's rule for picking a level)."""
    n = len(pyramid.levels)
    if not state.multiscale or n == 1:
        return "A single-level image: it is shown at full resolution."
    if state.locked:
        return f"Level {state.level} is locked on the layer (locked_data_level)."
    if state.ndisplay == 3:
        return "3D view: napari renders the coarsest level."
    if state.view0 is None or state.canvas is None:
        return "napari picks the level from the canvas zoom."
    vh, vw = state.view0
    ch, cw = state.canvas
    lv0, lv = pyramid.levels[0], pyramid.levels[state.level]
    ra, ca = state.axes
    fr = lv0.shape[ra] / max(1, lv.shape[ra])
    fc = lv0.shape[ca] / max(1, lv.shape[ca])
    return (
        "napari shows the coarsest level with at least one data pixel per screen pixel: "
        f"the view spans ≈ {vw:,.0f}×{vh:,.0f} pixels of level 0 "
        f"(≈ {vw / fc:,.0f}×{vh / fr:,.0f} of level {state.level}) on a {cw}×{ch} canvas."
    )


__all__ = ["ViewState", "level_reason", "store_root"]
