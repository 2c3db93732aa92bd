"""The "Chunk inspector" dock widget: glue between napari (selected layer, dims, camera,
mouse, canvas) and the GUI-free ``ChunkController`` drawing into a ``QtChunkView``.

What napari shows is read from the followed layer: ``data_level`` (the level),
``corner_pixels`` (the region napari loads at that level), ``viewer.dims`` (the current
slice and the displayed axes) and the camera (why that level). The chunk grid is drawn on
napari's canvas by ``GridOverlay`` (vispy visuals, not a layer). The QC tab is a
``QtQCView`` driven by the GUI-free ``QCStep``; a click on a finding moves the viewer there
(``_goto.py``) and pins the chunk in the inspector.

Lifetime: the dock follows one layer at a time and lets go of it (and of the canvas)
when the layer is removed, another one is selected or the viewer closes; closing or
removing the dock stops everything (timer, event subscriptions, background scans, QC
runs).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from qtpy.QtCore import QEvent, QTimer
from qtpy.QtWidgets import QVBoxLayout, QWidget
from superqt.utils import qthrottled

from ..explorer import ChunkController, ChunkView, GridCells, QCRow, QCStep, QCView, ViewState
from ..explorer._qt import QtChunkView
from ..explorer._qt_qc import QtQCView
from ..model import Pyramid, error_reason
from ._goto import choose_layer, go_to
from ._overlay import GridOverlay, Placement, placement_for

if TYPE_CHECKING:
    import napari

log = logging.getLogger(__name__)

#: Live updates (chunk states, figures) this often, in milliseconds.
TICK_MS = 150
NOT_OURS = (
    "{name!r} was not opened by napari-chunkview, so there is no chunk layout to show. "
    "Open the dataset with napari-chunkview (File ▸ Open, or drag and drop) to inspect it."
)
NO_LAYER = "Select an image or labels layer opened by napari-chunkview."


class _DockView(QtChunkView):
    """The Qt view whose chunk grid goes to the canvas overlay."""

    def __init__(self, draw: Callable[[GridCells | None], None]) -> None:
        super().__init__()
        self._draw = draw

    def set_grid(self, cells: GridCells | None) -> None:
        super().set_grid(cells)
        self._draw(cells)


class ChunkDock(QWidget):
    """Chunk inspector for the selected layer of ``viewer``."""

    def __init__(self, viewer: napari.viewer.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chunkview-dock")
        # napari hands plugin widgets a PublicOnlyProxy; the overlay needs the canvas
        # (see _overlay.py), so keep the viewer itself.
        self.viewer: Any = getattr(viewer, "__wrapped__", viewer)
        self.overlay = GridOverlay(self.viewer)
        self.view = _DockView(self._draw_grid)
        # QtChunkView is a ChunkView by registration (Qt's metaclass cannot mix with ABCMeta)
        self.controller = ChunkController(cast(ChunkView, self.view))
        self.layer: Any = None
        self.state: ViewState | None = None
        self.placement: Placement | None = None
        self._axes_map: list[int] = []  # layer dim → pyramid axis
        self._channel: int | None = None
        self._closed = False
        self._paused = False  # the panel is hidden ("hide this panel"): so is the grid
        self._connections: list[tuple[Any, Callable[..., Any]]] = []
        self._layer_connections: list[tuple[Any, Callable[..., Any]]] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

        v = self.view
        v.grid_toggled.connect(self._on_grid_toggled)
        v.node_selected.connect(self.controller.select_node)
        v.rescan_requested.connect(self.controller.rescan)
        v.cancel_requested.connect(self.controller.cancel_scans)
        v.reset_requested.connect(self.controller.reset_stats)

        # the QC tab: its own GUI-free step (runs on a worker thread), findings → viewer
        self.qc_view = QtQCView()
        self.qc = QCStep(cast(QCView, self.qc_view))
        v.set_qc_widget(self.qc_view)
        q = self.qc_view
        q.run_requested.connect(self.qc.run)
        q.cancel_requested.connect(self.qc.cancel)
        q.save_requested.connect(self.qc.save)
        q.finding_activated.connect(self.go_to_finding)

        self._schedule = qthrottled(self.refresh, timeout=50, leading=False)
        self._hover = qthrottled(self._hover_now, timeout=40)
        viewer_ = self.viewer
        self._connect(viewer_.layers.selection.events.active, self._on_active)
        self._connect(viewer_.layers.events.removed, self._on_removed)
        for name in ("current_step", "ndisplay", "order"):
            self._connect(getattr(viewer_.dims.events, name), self._on_view_event)
        for name in ("center", "zoom", "angles"):
            self._connect(getattr(_camera(viewer_).events, name), self._on_view_event)

        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self.destroyed.connect(_stop_all(self.controller, self.overlay, self.qc))
        self.follow(viewer_.layers.selection.active)

    # -- connections ---------------------------------------------------------------------------
    def _connect(self, emitter: Any, fn: Callable[..., Any], layer: bool = False) -> None:
        emitter.connect(fn)
        (self._layer_connections if layer else self._connections).append((emitter, fn))

    @staticmethod
    def _disconnect(pairs: list[tuple[Any, Callable[..., Any]]]) -> None:
        for emitter, fn in pairs:
            try:
                emitter.disconnect(fn)
            except Exception:  # already gone with its object
                pass
        pairs.clear()

    # -- following a layer -----------------------------------------------------------------------
    def _on_active(self, event: Any = None) -> None:
        active = self.viewer.layers.selection.active
        if active is None:
            # napari clears the selection before selecting another layer: look again once
            # the change is complete instead of letting go of the pyramid in between
            QTimer.singleShot(0, self._recheck_active)
            return
        self.follow(active)

    def _recheck_active(self) -> None:
        if not self._closed and self.viewer is not None:
            self.follow(self.viewer.layers.selection.active)

    def _on_removed(self, event: Any) -> None:
        if event.value is self.layer:
            self.follow(self.viewer.layers.selection.active if self.viewer is not None else None)

    def follow(self, layer: Any) -> None:
        """Inspect ``layer`` (``None``: nothing)."""
        if self._closed or (layer is not None and layer is self.layer):
            return
        self._unfollow()
        if layer is None:
            self.controller.show(None, message=NO_LAYER)
            self.qc.show(None)
            return
        pyramid = getattr(layer, "metadata", {}).get("pyramid")
        if not isinstance(pyramid, Pyramid) or not hasattr(layer, "data_level"):
            self.controller.show(None, message=NOT_OURS.format(name=layer.name))
            self.qc.show(None)
            return
        channel = layer.metadata.get("channel")
        axes = list(range(pyramid.ndim))
        if channel is not None and pyramid.channel_axis is not None:
            axes.remove(pyramid.channel_axis)
        if len(axes) != layer.ndim or layer.ndim < 2:
            self.controller.show(
                None, message=f"{layer.name!r}: its axes do not match the pyramid's."
            )
            self.qc.show(None)
            return
        self.layer, self._axes_map, self._channel = layer, axes, channel
        for name in ("set_data", "scale", "translate", "rotate", "shear", "affine", "loaded"):
            em = getattr(layer.events, name, None)
            if em is not None:
                self._connect(em, self._on_view_event, layer=True)
        layer.mouse_move_callbacks.append(self._on_mouse_move)
        layer.mouse_drag_callbacks.append(self._on_mouse_press)
        title = layer.name + (f" (channel {channel})" if channel is not None else "")
        self.controller.show(pyramid, title=title)
        self.qc.show(pyramid, title=pyramid.name)
        self.refresh()

    def _unfollow(self) -> None:
        layer = self.layer
        self._disconnect(self._layer_connections)
        if layer is not None:
            for cbs, fn in (
                (layer.mouse_move_callbacks, self._on_mouse_move),
                (layer.mouse_drag_callbacks, self._on_mouse_press),
            ):
                if fn in cbs:
                    cbs.remove(fn)
        self.layer, self.state, self.placement = None, None, None
        self.overlay.detach()

    # -- what napari shows ---------------------------------------------------------------------
    def _on_view_event(self, event: Any = None) -> None:
        self._schedule()

    def _tick(self) -> None:
        if self._closed:
            return
        panel = self.parentWidget()
        hidden = panel is not None and panel.isHidden()
        if hidden != self._paused:
            self._paused = hidden
            self.overlay.set_visible(not hidden and self.view.grid_box.isChecked())
        if hidden:
            return
        self.refresh()
        self.controller.tick()

    def refresh(self) -> None:
        """Read napari's view of the followed layer; redraw the grid if it changed."""
        if self._closed or self.layer is None:
            return
        try:
            state, placement = self._read_view()
        except Exception as e:  # napari mid-update (dims changing, layer going): next tick
            log.debug("chunk inspector: view not readable now: %s", e)
            return
        changed = placement != self.placement
        self.placement = placement
        if not self.controller.set_view(state) and changed:
            self._draw_grid(self.controller.cells)
        self.state = state

    def _read_view(self) -> tuple[ViewState | None, Placement | None]:
        layer, viewer = self.layer, self.viewer
        pyr: Pyramid = self.controller.pyramid  # type: ignore[assignment]
        ndim = layer.ndim
        offset = viewer.dims.ndim - ndim
        displayed = [d - offset for d in viewer.dims.displayed if d - offset >= 0]
        ndisplay = viewer.dims.ndisplay
        if len(displayed) < 2:
            return None, None
        level = int(layer.data_level) if layer.multiscale else 0
        shape = pyr.levels[level].shape
        f = (
            np.asarray(layer.downsample_factors[level], dtype=float)
            if layer.multiscale
            else np.ones(ndim)
        )
        point = np.asarray(layer.world_to_data(viewer.dims.point), dtype=float)
        corners = np.asarray(layer.corner_pixels)
        box: list[tuple[int, int]] = [(0, 1)] * pyr.ndim
        grid_dims = displayed[-2:]
        for d in range(ndim):
            ax = self._axes_map[d]
            n = shape[ax]
            if d in grid_dims:
                lo, hi = int(corners[0, d]), int(corners[1, d]) + 1
                if hi - lo <= 1 or lo < 0 or hi > n:  # not drawn yet: napari shows it whole
                    lo, hi = 0, n
                box[ax] = (lo, hi)
            else:
                i = int(np.round(np.clip(point[d] / f[d], 0, n - 1)))
                box[ax] = (i, i + 1)
        if self._channel is not None and pyr.channel_axis is not None:
            box[pyr.channel_axis] = (self._channel, self._channel + 1)
        canvas = tuple(int(v) for v in viewer.canvas.size)
        zoom = float(_camera(viewer).zoom)
        scale = np.abs(np.asarray(layer.scale, dtype=float))
        view0 = None
        if zoom > 0 and math.isfinite(zoom):
            view0 = (canvas[0] / zoom / scale[grid_dims[0]], canvas[1] / zoom / scale[grid_dims[1]])
        state = ViewState(
            level=level,
            box=tuple(box),
            axes=(self._axes_map[grid_dims[0]], self._axes_map[grid_dims[1]]),
            ndisplay=ndisplay,
            multiscale=bool(layer.multiscale),
            locked=getattr(layer, "locked_data_level", None) is not None,
            canvas=(canvas[0], canvas[1]),
            view0=view0,
        )
        depth = None
        if ndisplay == 3 and len(displayed) >= 3:
            depth = float(point[displayed[0]])
        placement = placement_for(
            layer, displayed[-3:] if depth is not None else grid_dims, level, depth
        )
        return state, placement

    # -- drawing ---------------------------------------------------------------------------
    def _draw_grid(self, cells: GridCells | None) -> None:
        if cells is None:
            self.overlay.draw(None, None)
        elif cells is self.overlay.cells and self.placement == self.overlay.placement:
            self.overlay.recolor(cells)
        else:
            self.overlay.draw(cells, self.placement)
        self._update_cursor()

    def _on_grid_toggled(self, on: bool) -> None:
        self.overlay.set_visible(on and not self._paused)
        self.controller.set_grid_enabled(on)

    # -- the mouse ---------------------------------------------------------------------------
    def _level_point(self, position: Any) -> tuple[int, tuple[float, ...]] | None:
        state, layer = self.state, self.layer
        if state is None or layer is None or state.ndisplay != 2:
            return None
        pyr = self.controller.pyramid
        if pyr is None:
            return None
        data = np.asarray(layer.world_to_data(position), dtype=float)
        level = state.level
        f = (
            np.asarray(layer.downsample_factors[level], dtype=float)
            if layer.multiscale
            else np.ones(layer.ndim)
        )
        point = [float(a) for a, _ in state.box]
        for d, ax in enumerate(self._axes_map):
            if ax in state.axes:
                point[ax] = (data[d] + 0.5) / f[d]
        return level, tuple(point)

    def _on_mouse_move(self, layer: Any, event: Any) -> None:
        self._hover(event.position)

    def _hover_now(self, position: Any) -> None:
        if self._closed:
            return
        hit = self._level_point(position)
        if hit is None:
            return
        self.controller.hover(*hit)
        self._update_cursor()

    def _on_mouse_press(self, layer: Any, event: Any) -> None:
        hit = self._level_point(event.position)
        if hit is not None:
            self.controller.click(*hit)
            self._update_cursor()

    def _update_cursor(self) -> None:
        c, cells = self.controller.chunk, self.controller.cells
        if c is None or cells is None or c.level != cells.level:
            self.overlay.set_cursor(None)
            return
        ra, ca = cells.axes
        pyr = self.controller.pyramid
        assert pyr is not None
        box = pyr.levels[c.level].grid.chunk_box(c.index)
        rows, cols = box[ra], box[ca]
        if c.level != cells.level:  # a chunk of another level (a QC finding): its region
            have, shown = pyr.levels[c.level].scale, pyr.levels[cells.level].scale
            rows = _rescale(rows, have[ra] / shown[ra])
            cols = _rescale(cols, have[ca] / shown[ca])
        self.overlay.set_cursor((rows, cols))

    # -- QC findings -----------------------------------------------------------------------
    def go_to_finding(self, row: QCRow) -> bool:
        """Move the viewer to ``row``'s place: its image's layer (the channel's), the
        chunk's slice, centre and zoom; pin the chunk (or pick the level's row). False
        when there is nowhere to go."""
        target = self.qc.target(row)
        if self._closed or target is None:
            return False
        layer = choose_layer(self.viewer, self.layer, target)
        if layer is None:
            self.qc.set_note(f"No layer shows {target.image.name!r}: open it to go there.")
            return False
        if layer is not self.layer:
            self.viewer.layers.selection.active = layer  # the dock follows it
            self.follow(layer)
        if not layer.visible:
            layer.visible = True
        try:
            go_to(self.viewer, layer, target, _camera(self.viewer))
        except Exception as e:  # napari mid-update, an odd transform: say so, keep going
            log.warning("chunk inspector: cannot go to %s: %s", row.where, e)
            self.qc.set_note(f"Could not go to {row.where}: {error_reason(e)}")
            return False
        self.refresh()
        c = self.controller.chunk
        if target.chunk is None:
            self.view.table.selectRow(target.level)
        elif not (
            c is not None and c.pinned and (c.level, c.index) == (target.level, target.chunk)
        ):
            if c is not None and c.pinned and c.index == target.chunk:
                self.controller.click(target.level, target.point)  # unpins (another level)
            self.controller.click(target.level, target.point)
            self._update_cursor()
        return True

    # -- hooks -----------------------------------------------------------------------------
    def set_qc_widget(self, widget: QWidget) -> None:
        """Put the QC front end's widget in the QC tab (issue 5)."""
        self.view.set_qc_widget(widget)

    # -- teardown ---------------------------------------------------------------------------
    def close_inspector(self) -> None:
        """Stop following, stop the timer and background work, take the grid off the
        canvas, disconnect from napari. Idempotent; called on close and removal."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self._unfollow()
        self._disconnect(self._connections)
        self.controller.close()
        self.qc.close()
        self.overlay.close()
        self.viewer = None

    def closeEvent(self, event: Any) -> None:
        self.close_inspector()
        super().closeEvent(event)

    def event(self, e: QEvent | None) -> bool:
        # napari's remove_dock_widget un-parents the widget (it is not closed)
        if e is not None and e.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif getattr(self, "_docked", False) and not getattr(self, "_closed", True):
                self.close_inspector()
        return super().event(e)


def _camera(viewer: Any) -> Any:
    """napari ≥ 0.9 keeps the camera on ``viewer.scene`` (``viewer.camera`` is deprecated)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def _rescale(span: tuple[int, int], ratio: float) -> tuple[int, int]:
    """[start, stop) in one level's pixels → the covering span in another's."""
    return math.floor(span[0] * ratio), math.ceil(span[1] * ratio)


def _stop_all(controller: ChunkController, overlay: GridOverlay, qc: QCStep) -> Callable[..., None]:
    """A slot for ``destroyed`` that holds no reference to the dock itself."""

    def stop(*_: Any) -> None:
        controller.close()
        qc.close()
        overlay.close()

    return stop
