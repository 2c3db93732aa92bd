"""``chunkview view [PATH] [--screenshot PNG]``: open a dataset (or the bundled sample) in
napari through the plugin's own reader."""

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


def _screenshot(viewer: Any, png: Path, width: int, height: int) -> None:
    """Render the canvas at ``width`` x ``height`` into ``png``.

    With ``show=False`` the canvas is black until something paints it, and it cannot be
    rendered larger than its widget: a full-window screenshot forces layout and paint
    (shared/RECIPES.md, "Headless napari"), then the hidden window, without its docks, is
    resized until the canvas has the requested size. napari has no public canvas-size
    setter, hence ``_qt_window`` / ``_qt_viewer``.
    """
    qt_viewer, window = viewer.window._qt_viewer, viewer.window._qt_window
    for dock in (qt_viewer.dockLayerList, qt_viewer.dockLayerControls):
        dock.setVisible(False)
    window.resize(width, height)
    for _ in range(3):
        viewer.screenshot(canvas_only=False, flash=False)
        h, w = qt_viewer.canvas.size
        if (w, h) == (width, height):
            break
        window.resize(window.width() + width - w, window.height() + height - h)
    else:
        print(
            f"chunkview: the canvas is {w}x{h}, napari's window cannot be smaller", file=sys.stderr
        )
    viewer.reset_view()
    png.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(png), canvas_only=True, flash=False)


def run(args: argparse.Namespace) -> int:
    dataset = _dataset(args.path)
    import napari

    from .._napari._preferences import PLUGIN_NAME

    headless = args.screenshot is not None
    viewer = napari.Viewer(title=f"chunkview — {Path(dataset).name}", show=not headless)
    try:
        viewer.open(dataset, plugin=PLUGIN_NAME)
        viewer.dims.ndisplay = args.ndisplay
        if headless:
            _screenshot(viewer, args.screenshot, *args.size)
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
