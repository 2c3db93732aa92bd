"""``chunkview view [PATH] [--dock] [--screenshot PNG]``: open a dataset (or the bundled
sample) in napari through the plugin's own reader, optionally with the Chunk inspector."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..model import NotRecognisedError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "view",
        help="open a dataset in napari",
        description="Open PATH (an N5 / Zarr folder, a .zarr.zip, or a URL) in napari; "
        "without PATH, a synthetic sample pyramid written to a temporary folder.",
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="dataset to open (default: sample)")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        type=Path,
        help="do not show a window: render the canvas to PNG and exit",
    )
    p.add_argument("--ndisplay", type=int, choices=(2, 3), default=2, help="2D or 3D view")
    p.add_argument(
        "--angles",
        nargs=3,
        type=float,
        metavar=("Z", "Y", "X"),
        help="3D camera angles in degrees (napari's camera.angles), e.g. 0 -30 60",
    )
    p.add_argument(
        "--dock",
        action="store_true",
        help="open the Chunk inspector dock (with --screenshot: capture the whole window, "
        "dock included, once the chunks in view are read)",
    )
    p.add_argument(
        "--size",
        nargs=2,
        type=int,
        metavar=("WIDTH", "HEIGHT"),
        default=(800, 600),
        help="canvas size of the screenshot in pixels (default: 800 600)",
    )
    p.set_defaults(run=run)


def _dataset(path: str | None) -> str:
    if path is None:
        from .._sample import temporary_sample

        return str(temporary_sample())
    from .._napari._reader import get_reader

    if get_reader(path) is None:
        raise NotRecognisedError(f"{path}: not an N5 / Zarr dataset napari-chunkview can read")
    return path


def _camera(viewer: Any) -> Any:
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def _reset_view(viewer: Any, angles: Any = None) -> None:
    viewer.reset_view()
    if angles is not None and viewer.dims.ndisplay == 3:
        _camera(viewer).angles = tuple(angles)


def _fit_canvas(viewer: Any, width: int, height: int, extra_width: int = 0) -> tuple[int, int]:
    """Hide napari's layer docks and resize the (hidden) window until the canvas is
    ``width`` x ``height``; returns the canvas size reached. Each try paints the window
    (a full-window screenshot), which is what makes Qt lay it out."""
    qt_viewer, window = viewer.window._qt_viewer, viewer.window._qt_window
    for d in (qt_viewer.dockLayerList, qt_viewer.dockLayerControls):
        d.setVisible(False)
    window.resize(width + extra_width, height)
    w = h = 0
    for _ in range(3):
        viewer.screenshot(canvas_only=False, flash=False)
        h, w = qt_viewer.canvas.size
        if (w, h) == (width, height):
            break
        window.resize(window.width() + width - w, window.height() + height - h)
    return w, h


def _screenshot(viewer: Any, png: Path, width: int, height: int, angles: Any = None) -> None:
    """Render the canvas at ``width`` x ``height`` into ``png``.

    With ``show=False`` the canvas is black until something paints it, and it cannot be
    rendered larger than its widget: a full-window screenshot forces layout and paint
    (shared/RECIPES.md, "Headless napari"), then the hidden window, without its docks, is
    resized until the canvas has the requested size. napari has no public canvas-size
    setter, hence ``_qt_window`` / ``_qt_viewer``.
    """
    size = _fit_canvas(viewer, width, height)
    if size != (width, height):
        w, h = size
        print(
            f"chunkview: the canvas is {w}x{h}, napari's window cannot be smaller", file=sys.stderr
        )
    _reset_view(viewer, angles)
    png.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(png), canvas_only=True, flash=False)


#: Width of the inspector dock in screenshots (pixels).
DOCK_WIDTH = 720


def _add_dock(viewer: Any) -> Any:
    from .._napari._preferences import PLUGIN_NAME

    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Chunk inspector")
    return widget


def _screenshot_with_dock(viewer: Any, dock: Any, png: Path, width: int, height: int,
                          angles: Any = None, timeout: float = 20.0) -> None:
    """Capture the whole window (canvas ``width`` x ``height`` plus the inspector dock)
    once napari has read the chunks in view and the dock has its storage figures."""
    import time

    from qtpy.QtWidgets import QApplication

    dock.setMinimumWidth(DOCK_WIDTH)
    _fit_canvas(viewer, width, height, extra_width=DOCK_WIDTH)
    _reset_view(viewer, angles)
    app = QApplication.instance()
    assert app is not None  # napari.Viewer made it
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        viewer.screenshot(canvas_only=False, flash=False)  # paints: napari picks its level
        app.processEvents()
        dock.refresh()
        dock.controller.tick()
        live = dock.controller.live
        done = live is not None and live.view_total > 0 and live.view_resolved >= live.view_total
        if done and not dock.controller.busy and all(layer.loaded for layer in viewer.layers):
            break
        time.sleep(0.1)
    else:
        print("chunkview: the view was not fully read in time; capturing anyway", file=sys.stderr)
    for _ in range(3):
        app.processEvents()
    png.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(png), canvas_only=False, flash=False)


def run(args: argparse.Namespace) -> int:
    dataset = _dataset(args.path)
    import napari

    from .._napari._preferences import PLUGIN_NAME
    from .._napari._reader import raising_errors

    headless = args.screenshot is not None
    viewer = napari.Viewer(title=f"chunkview — {Path(dataset).name}", show=not headless)
    try:
        # the dock first: its live figures then count the reads of the first frame
        dock = _add_dock(viewer) if args.dock else None
        with raising_errors():  # an error ends the command, not just a notification
            viewer.open(dataset, plugin=PLUGIN_NAME)
        viewer.dims.ndisplay = args.ndisplay
        if args.angles is not None and not headless:
            _camera(viewer).angles = tuple(args.angles)
        if headless:
            width, height = args.size
            if dock is not None:
                _screenshot_with_dock(viewer, dock, args.screenshot, width, height, args.angles)
            else:
                _screenshot(viewer, args.screenshot, width, height, args.angles)
            print(args.screenshot)
            return 0
        napari.run()
    finally:
        if headless:
            # napari saves the window's geometry and dock state on close; the hidden,
            # resized, dockless window must not become the user's next layout.
            viewer.window._qt_window._save_current_window_settings = lambda: None
            viewer.close()
    return 0
