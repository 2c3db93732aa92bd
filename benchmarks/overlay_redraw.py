"""How long the Chunk inspector's grid overlay takes to redraw after a pan or a zoom, on a
pyramid with more than 10⁶ chunks at level 0. Standalone; run headless:

    xvfb-run -a python benchmarks/overlay_redraw.py [--steps N] [--canvas W H] [--compare]

The data: an OME-NGFF 0.5 (zarr v3) pyramid written as metadata only into a temporary
folder — level 0 is 65,536² uint8 in 64² chunks (1,048,576 chunks), seven levels down to
1,024²; no chunk is stored, so every read is a quick "missing".

For each pan (half a canvas) or zoom (one level up or down) step the script lets napari
update its view (``canvas.on_draw``: level choice and region, then slicing), then times

* ``dock``: the inspector's whole redraw — read napari's view, compute the cells in view
  and their states, set the vispy visuals' data (``ChunkDock.refresh``, forced: the
  dock's own timer is stopped and its last view forgotten, so every step redraws);
* ``frame``: the next render of the canvas (napari's new tile was rendered once before
  the redraw; this one includes the overlay's vertex upload and drawing — Mesa
  llvmpipe here, i.e. the CPU draws), ``frame0`` a render with the overlay hidden;

then the live update (chunk events arrived: states re-read, colours re-set) and a view of
the *whole* level 0 (10⁶ chunks in view: the grid falls back to blocks of chunks, at most
``MAX_CELLS`` cells), controller and overlay.
``--compare`` also times the alternatives that were considered for drawing (a Shapes
layer, a Vectors layer, one vispy line visual) for the same number of rectangles.
Medians (and 90th percentiles) in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SIDE = 65536
CHUNK = 64
LEVELS = 7


def write_metadata_only(root: Path) -> Path:
    """The pyramid's ``zarr.json`` documents, no chunk (zarr-python writes nothing else)."""
    import zarr

    path = root / "huge.ome.zarr"
    datasets = [
        {"path": f"s{i}", "coordinateTransformations": [{"type": "scale", "scale": [2.0**i] * 2}]}
        for i in range(LEVELS)
    ]
    ms = {
        "name": "huge",
        "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "datasets": datasets,
    }
    group = zarr.open_group(
        str(path),
        mode="w",
        zarr_format=3,
        attributes={"ome": {"version": "0.5", "multiscales": [ms]}},
    )
    for i in range(LEVELS):
        side = SIDE >> i
        group.create_array(
            f"s{i}", shape=(side, side), chunks=(CHUNK, CHUNK), dtype="uint8", fill_value=0
        )
    return path


def _stats(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    return {
        "median": statistics.median(v),
        "p90": v[min(len(v) - 1, round(0.9 * (len(v) - 1)))],
        "n": len(v),
    }


def _set_canvas(viewer: Any, width: int, height: int) -> None:
    qt_viewer, window = viewer.window._qt_viewer, viewer.window._qt_window
    for d in (qt_viewer.dockLayerList, qt_viewer.dockLayerControls):
        d.setVisible(False)
    window.resize(width + 600, height + 100)
    for _ in range(4):
        viewer.screenshot(canvas_only=False, flash=False)
        h, w = qt_viewer.canvas.size
        if (w, h) == (width, height):
            return
        window.resize(window.width() + width - w, window.height() + height - h)


def _settle(viewer: Any, layer: Any, timeout: float = 30.0) -> None:
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    viewer.window._qt_viewer.canvas.on_draw(None)  # napari: level + region for this view
    deadline = time.monotonic() + timeout
    while not layer.loaded and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)
    app.processEvents()


def measure_napari(path: Path, steps: int, width: int, height: int) -> dict[str, Any]:
    import napari

    from napari_chunkview._napari._dock import ChunkDock

    viewer = napari.Viewer(show=False)
    dock = ChunkDock(viewer)
    viewer.window.add_dock_widget(dock, name="Chunk inspector")
    try:
        [layer] = viewer.open(str(path), plugin="napari-chunkview")
        _set_canvas(viewer, width, height)
        canvas = viewer.window._qt_viewer.canvas
        camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
        render = canvas._scene_canvas.render
        dock._timer.stop()  # every redraw below is the timed one

        def redraw() -> float:
            dock.controller.state = None
            dock.placement = None
            t0 = time.perf_counter()
            dock.refresh()
            return (time.perf_counter() - t0) * 1e3

        out: dict[str, Any] = {}
        for name, zoom in (("pan at level 0", 1.5), ("pan at a coarser level", 1.5 / 6)):
            # a zoom where napari shows the wanted level; start mid-image
            camera.zoom = zoom
            camera.center = (*camera.center[:-2], SIDE / 2, SIDE / 2)
            _settle(viewer, layer)
            dock.refresh()
            t_dock, t_frame, t_frame0, cells, levels = [], [], [], [], set()
            for i in range(steps):
                # walk around the middle, half a canvas per step (camera.center is z, y, x)
                c = camera.center
                dy = height / camera.zoom / 2 * (1 if i % 4 in (0, 1) else -1)
                dx = width / camera.zoom / 2 * (1 if i % 4 in (1, 2) else -1)
                camera.center = (*c[:-2], c[-2] + dy, c[-1] + dx)
                _settle(viewer, layer)
                render()  # napari's own new tile reaches the GPU: not ours to time
                t_dock.append(redraw())
                t0 = time.perf_counter()
                render()
                t_frame.append((time.perf_counter() - t0) * 1e3)
                dock.overlay.set_visible(False)
                t0 = time.perf_counter()
                render()
                t_frame0.append((time.perf_counter() - t0) * 1e3)
                dock.overlay.set_visible(True)
                cells.append(len(dock.controller.cells.states))
                levels.add(dock.controller.state.level)
            out[name] = {
                "dock": _stats(t_dock),
                "frame": _stats(t_frame),
                "frame0": _stats(t_frame0),
                "cells": int(np.median(cells)),
                "levels": sorted(levels),
            }
        # zoom in and out across levels
        camera.center = (*camera.center[:-2], SIDE / 2, SIDE / 2)
        zooms = [1.5 / 2**k for k in (0, 2, 4, 6, 4, 2)]
        t_dock, t_frame, cells, levels = [], [], [], set()
        for i in range(steps):
            camera.zoom = zooms[i % len(zooms)]
            _settle(viewer, layer)
            render()
            t_dock.append(redraw())
            t0 = time.perf_counter()
            render()
            t_frame.append((time.perf_counter() - t0) * 1e3)
            cells.append(len(dock.controller.cells.states))
            levels.add(dock.controller.state.level)
        out["zoom across levels"] = {
            "dock": _stats(t_dock),
            "frame": _stats(t_frame),
            "cells": int(np.median(cells)),
            "levels": sorted(levels),
        }
        # live update: chunk states change (events), same view
        t_tick = []
        for _ in range(steps):
            dock.controller.feed._dirty.add(
                layer.metadata["pyramid"].levels[dock.controller.state.level].array.name
            )
            t0 = time.perf_counter()
            dock.controller.tick()
            t_tick.append((time.perf_counter() - t0) * 1e3)
        out["live tick (states re-read)"] = {
            "dock": _stats(t_tick),
            "cells": len(dock.controller.cells.states),
        }
        # the whole of level 0 in view (what a single-level image zoomed out asks for)
        from napari_chunkview.explorer import compute_cells

        pyr = layer.metadata["pyramid"]
        placement = dock.placement
        t_cells, t_draw, t_frame = [], [], []
        for i in range(steps):
            s = (i % 4) * CHUNK
            t0 = time.perf_counter()
            cells = compute_cells(
                0, pyr.levels[0].grid, pyr.levels[0].array, ((s, SIDE), (0, SIDE - s)), (0, 1)
            )
            t_cells.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            dock.overlay.draw(cells, placement)
            t_draw.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            render()
            t_frame.append((time.perf_counter() - t0) * 1e3)
        out["whole level 0 in view"] = {
            "cells": _stats(t_cells),
            "overlay": _stats(t_draw),
            "frame": _stats(t_frame),
            "cells drawn": len(cells.states),
            "chunks in view": cells.n_chunks,
            "block": cells.block,
        }
        return out
    finally:
        dock.close_inspector()
        viewer.close()


def compare_mechanisms(sizes: tuple[int, ...] = (400, 2500, 10000)) -> dict[str, Any]:
    """Set N rectangles with each candidate mechanism (and render once)."""
    import napari
    from vispy.scene.visuals import Line

    viewer = napari.Viewer(show=False)
    viewer.add_image(np.zeros((4096, 4096), np.uint8))
    canvas = viewer.window._qt_viewer.canvas
    viewer.screenshot(canvas_only=False, flash=False)
    render = canvas._scene_canvas.render
    out: dict[str, Any] = {}
    try:
        for n in sizes:
            k = int(np.sqrt(n))
            c = 4096 / k
            lo = (
                np.stack(np.meshgrid(np.arange(k), np.arange(k), indexing="ij"), -1).reshape(-1, 2)
                * c
            )
            row: dict[str, float] = {}
            t0 = time.perf_counter()
            rects = [p + np.array([[0, 0], [0, c], [c, c], [c, 0]]) for p in lo]
            shapes = viewer.add_shapes(
                rects, shape_type="rectangle", edge_color="yellow", face_color="transparent"
            )
            row["shapes layer"] = (time.perf_counter() - t0) * 1e3
            viewer.layers.remove(shapes)
            t0 = time.perf_counter()
            segs = [
                np.stack([lo + a, np.broadcast_to(d, lo.shape)], 1)
                for a, d in (
                    ([0, 0], [0, c]),
                    ([0, c], [c, 0]),
                    ([c, c], [0, -c]),
                    ([c, 0], [-c, 0]),
                )
            ]
            vectors = viewer.add_vectors(np.concatenate(segs), edge_color="yellow")
            row["vectors layer"] = (time.perf_counter() - t0) * 1e3
            viewer.layers.remove(vectors)
            t0 = time.perf_counter()
            pts = np.concatenate(
                [
                    np.stack([lo + a, lo + b], 1)
                    for a, b in (
                        ([0, 0], [0, c]),
                        ([0, c], [c, c]),
                        ([c, c], [c, 0]),
                        ([c, 0], [0, 0]),
                    )
                ]
            ).reshape(-1, 2)
            line = Line(
                pos=pts[:, ::-1].astype(np.float32),
                color=np.ones((len(pts), 4), np.float32),
                connect="segments",
                parent=canvas.view.scene,
                method="gl",
            )
            row["vispy line visual"] = (time.perf_counter() - t0) * 1e3
            t0 = time.perf_counter()
            render()
            row["render (with the visual)"] = (time.perf_counter() - t0) * 1e3
            line.parent = None
            out[f"{n} rectangles"] = row
        return out
    finally:
        viewer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=21, help="pan / zoom steps (default 21)")
    parser.add_argument("--canvas", nargs=2, type=int, default=(1024, 768), metavar=("W", "H"))
    parser.add_argument("--compare", action="store_true", help="also time Shapes / Vectors / vispy")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chunkview-overlay-") as tmp:
        path = write_metadata_only(Path(tmp))
        from napari_chunkview import open_pyramid

        n0 = open_pyramid(path).levels[0].grid.n_chunks
        print(
            f"pyramid: {LEVELS} levels, level 0 {SIDE}² in {CHUNK}² chunks = {n0:,} chunks; "
            f"canvas {args.canvas[0]}×{args.canvas[1]}; {args.steps} steps"
        )
        results = measure_napari(path, args.steps, *args.canvas)
        if args.compare:
            results["mechanisms"] = compare_mechanisms()
    for name, r in results.items():
        if name == "mechanisms":
            continue
        parts = [
            f"{k} {v['median']:.2f} ms (p90 {v['p90']:.2f})"
            for k, v in r.items()
            if isinstance(v, dict)
        ]
        extra = {k: v for k, v in r.items() if not isinstance(v, dict)}
        print(f"{name:34s} " + " · ".join(parts) + f"  {extra}")
    if "mechanisms" in results:
        print("drawing mechanisms (set N rectangles, ms):")
        for n, row in results["mechanisms"].items():
            print(f"  {n:17s} " + " · ".join(f"{k} {v:.1f}" for k, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
