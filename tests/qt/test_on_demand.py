"""napari drives the reads: only the level it shows, only the chunks in view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from napari_chunkview.loading import EVENTS, ChunkEvent

PLUGIN = "napari-chunkview"


def _pyramid(path: Path) -> Path:
    g = zarr.open_group(path, mode="w", zarr_format=3)
    rng = np.random.default_rng(0)
    for i, n in enumerate((2048, 1024, 512, 256)):
        a = g.create_array(f"s{i}", shape=(8, n, n), chunks=(1, 64, 64), dtype="uint8")
        a[:] = rng.integers(1, 255, (8, n, n), dtype="uint8")
    return path


def _drawn(viewer, predicate):  # type: ignore[no-untyped-def]
    """A hidden canvas does not draw by itself; napari updates the level and the
    visible corner pixels when it draws."""

    def check() -> bool:
        viewer.window._qt_viewer.canvas.on_draw(None)
        return bool(predicate())

    return check


def test_reads_follow_the_view(make_napari_viewer, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _pyramid(tmp_path / "p.zarr")
    viewer = make_napari_viewer()
    viewer.window._qt_viewer.canvas.size = (400, 400)
    [layer] = viewer.open(str(path), plugin=PLUGIN)
    pyramid = layer.metadata["pyramid"]
    names = [f"{pyramid.name}/{lv.path}" for lv in pyramid.levels]
    # zoom in on a corner: napari picks level 0
    viewer.scene.camera.center = (0, 300, 300)
    viewer.scene.camera.zoom = 2.0
    qtbot.waitUntil(_drawn(viewer, lambda: layer.data_level == 0), timeout=10_000)
    events: list[ChunkEvent] = []
    unsubscribe = EVENTS.subscribe(events.append)
    try:
        # step to plane z=5: reads at level 0, chunks in view only
        viewer.dims.set_current_step(0, 5)
        qtbot.waitUntil(_drawn(viewer, lambda: any(
            e.source == names[0] for e in events if e.kind == "done")), timeout=10_000)
        qtbot.wait(200)
        level = layer.data_level
        corners = np.asarray(layer.corner_pixels)
        box = [(5, 6)] + [(int(corners[0, d]), int(corners[1, d]) + 1) for d in (1, 2)]
        expected = set(pyramid.levels[level].grid.chunks_in_box(box))
        requested = {e.index for e in events if e.kind == "requested" and e.source == names[level]}
        assert requested == expected
        # the only other level napari touches is the coarsest, for the layer thumbnail
        others = {e.source for e in events if e.kind == "requested"} - {names[level]}
        assert others <= {names[-1]}
        plane = [(5, 6), (0, 2048), (0, 2048)]
        assert len(expected) < pyramid.levels[level].grid.count_in_box(plane)

        # zooming out switches to a coarser level, again only its chunks in view
        events.clear()
        viewer.scene.camera.zoom = 0.2
        qtbot.waitUntil(_drawn(viewer, lambda: layer.data_level > 0), timeout=10_000)
        qtbot.wait(300)
        used = {e.source for e in events if e.kind in ("requested", "cache_hit")}
        assert names[0] not in used
        assert names[layer.data_level] in used
    finally:
        unsubscribe()
