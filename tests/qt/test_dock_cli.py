"""``chunkview view --dock --screenshot``: the whole window, inspector included, once the
chunks in view are read (2D with the grid, 3D with the current slice's grid).

The command itself runs in a fresh process: a plain ``napari.Viewer`` made in this
process would register napari's plugin actions a second time after a
``make_napari_viewer`` test cleared napari's plugin cache (``tests/test_cli.py`` makes
plain viewers too). The 3D screenshot goes through the same function with the test's
viewer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from napari_chunkview.cli._view import DOCK_WIDTH, _screenshot_with_dock

from ..explorer._datasets import write_zarr_v2_nested

PLUGIN = "napari-chunkview"


def _read_png(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.asarray(iio.imread(path))[..., :3]


def _check(image: np.ndarray, width: int, height: int) -> None:
    assert image.shape[1] >= width + DOCK_WIDTH and image.shape[0] >= height
    right = image[:, width:].reshape(-1, 3)  # the dock: text, table, legend
    assert len(np.unique(right, axis=0)) > 20
    # the grid is on the canvas: the data are grey, the "loaded" outlines green
    canvas = image[:, :width].reshape(-1, 3).astype(int)
    green = (canvas[:, 1] > 180) & (canvas[:, 0] < 120) & (canvas[:, 2] < 150)
    assert green.sum() > 50


def test_view_with_the_dock_2d(tmp_path: Path) -> None:
    data = write_zarr_v2_nested(tmp_path / "nested.zarr")
    png = tmp_path / "dock-2d.png"
    env = {**os.environ, "NAPARI_CONFIG": str(tmp_path / "napari-settings.yaml")}
    cmd = [
        sys.executable,
        "-m",
        "napari_chunkview",
        "view",
        str(data.path),
        "--dock",
        "--size",
        "400",
        "300",
        "--screenshot",
        str(png),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not fully read" not in done.stderr
    _check(_read_png(png), 400, 300)


def test_screenshot_with_dock_3d(make_napari_viewer: Any, tmp_path: Path) -> None:
    data = write_zarr_v2_nested(tmp_path / "nested.zarr")
    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "Chunk inspector")
    viewer.open(str(data.path), plugin=PLUGIN)
    viewer.dims.ndisplay = 3
    png = tmp_path / "dock-3d.png"
    _screenshot_with_dock(viewer, dock, png, 400, 300, angles=(0, -30, 50))
    assert dock.controller.state.ndisplay == 3
    _check(_read_png(png), 400, 300)
