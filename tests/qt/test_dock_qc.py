"""The dock's QC tab in a real (headless) napari viewer: a run in the background with
progress, the findings shown, a click on one moves the viewer to its chunk (and to its
channel's layer), cancel, and closing the dock mid-run.

Run under ``xvfb-run -a`` (image layers need OpenGL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt

from napari_chunkview.explorer import QCRow
from napari_chunkview.explorer._grid import FAILED
from napari_chunkview.model import Location

from ..explorer._datasets import Dataset, write_ngff04_v2, write_zarr_v2_nested
from ._support import settle
from .test_dock import open_with_dock

SCREENSHOT = Path("/work/notes/dock-qc.png")


@pytest.fixture
def v2_nested(tmp_path: Path) -> Dataset:
    return write_zarr_v2_nested(tmp_path / "nested.zarr")


def write_channels(path: Path) -> Dataset:
    """zarr-python 3, OME-NGFF 0.4 on zarr v2: (c=2, z=6, y=64, x=64) uint16, chunks
    1x2x16x16, levels ``0`` and ``1`` (y, x halved). In channel 1 of level 0, chunk
    (1, 1, 0, 0) is deleted and chunk (1, 2, 1, 1) overwritten with garbage."""
    import zarr
    from numcodecs import Zlib

    rng = np.random.default_rng(5)
    l0 = rng.integers(1, 256, size=(2, 6, 64, 64), dtype=np.uint16)
    l1 = np.ascontiguousarray(l0[:, :, ::2, ::2])
    axes = [{"name": "c", "type": "channel"}] + [
        {"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"
    ]
    ms = {
        "version": "0.4",
        "name": "channels",
        "axes": axes,
        "datasets": [
            {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": s}]}
            for i, s in enumerate([[1.0, 1.0, 0.25, 0.25], [1.0, 1.0, 0.5, 0.5]])
        ],
    }
    group = zarr.open_group(str(path), mode="w", zarr_format=2, attributes={"multiscales": [ms]})
    for i, data in enumerate((l0, l1)):
        arr = group.create_array(
            str(i),
            shape=data.shape,
            dtype=data.dtype,
            chunks=(1, 2, 16, 16),
            compressors=Zlib(level=5),
            fill_value=0,
            chunk_key_encoding={"name": "v2", "separator": "/"},
        )
        arr[...] = data
    (path / "0" / "1" / "1" / "0" / "0").unlink()
    (path / "0" / "1" / "2" / "1" / "1").write_bytes(b"\x00 not zlib at all")
    return Dataset(path, [l0, l1], missing=[{(1, 1, 0, 0)}, set()], corrupt=[{(1, 2, 1, 1)}, set()])


def show_window(viewer: Any) -> None:
    """A window big enough for the dock's tabs (clicks need a laid-out findings list)."""
    window = viewer.window._qt_window
    window.resize(1300, 950)
    window.show()


def qc_tab(dock: Any) -> Any:
    tabs = dock.view.tabs
    tabs.setCurrentIndex(dock.view.qc_tab_index)
    assert tabs.tabText(dock.view.qc_tab_index) == "QC"
    assert tabs.currentWidget() is dock.qc_view
    return dock.qc_view


def run_to_end(qtbot: Any, qv: Any, status: str = "done") -> None:
    qtbot.mouseClick(qv.run_button, Qt.MouseButton.LeftButton)
    assert qv.state.status == "running" and not qv.progress.isHidden()
    assert not qv.run_button.isEnabled() and qv.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: qv.state.status == status, timeout=60000)


def click_finding(qtbot: Any, qv: Any, code: str) -> None:
    tree = qv.findings
    item = next(
        tree.topLevelItem(i)
        for i in range(tree.topLevelItemCount())
        if tree.topLevelItem(i).text(1) == code
    )
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    assert rect.isValid()
    # on the severity column: the row may be wider than the dock
    pos = QPoint(rect.left() + 10, rect.center().y())
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert tree.currentItem() is item


def world_box(pyr: Any, level: int, index: tuple[int, ...], axis: int) -> tuple[float, float]:
    """World span of chunk ``index`` along ``axis``, from the pyramid's own geometry."""
    lv = pyr.levels[level]
    a, b = lv.grid.chunk_box(index)[axis]
    s, t = lv.scale[axis], lv.translation[axis]
    return t + (a - 0.5) * s, t + (b - 0.5) * s


def camera(viewer: Any) -> Any:
    return viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera


def test_qc_tab_runs_shows_findings_and_goes_to_the_corrupt_chunk(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset, tmp_path: Path
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    show_window(viewer)
    qv = qc_tab(dock)
    assert qv.state.title == "nested" and qv.state.status == "idle"
    assert [qv.level_box.itemText(i) for i in range(qv.level_box.count())] == [
        "all levels",
        "level 0 (0)",
        "level 1 (1)",
    ]
    settle(qtbot, viewer, dock, layer)
    viewer.dims.set_current_step(0, 0)  # away from the corrupt chunk (z 4-5)
    run_to_end(qtbot, qv)
    assert qv.progress.isHidden() and qv.run_button.isEnabled()
    assert qv.save_button.isEnabled() and not qv.cancel_button.isEnabled()
    summary = qv.summary.text()
    assert "2 errors" in summary and "0 warnings" in summary and "1 note" in summary
    rows = qv.rows_text()
    assert [r[0] for r in rows] == ["error", "error", "info"]
    assert {r[1] for r in rows} == {"chunk.undecodable", "chunk.missing_data", "chunk.missing"}
    bad = next(r for r in rows if r[1] == "chunk.undecodable")
    assert bad[3] == "level 0 (0), chunk (2, 1, 1), key 0/2/1/1"

    click_finding(qtbot, qv, "chunk.undecodable")
    details = qv.details.toPlainText()
    assert "Why it matters:" in details and "Fix:" in details and "chunk (2, 1, 1)" in details
    # the slider lands in the chunk's z range, the camera's centre inside its y / x box
    pyr = layer.metadata["pyramid"]
    z0, z1 = world_box(pyr, 0, (2, 1, 1), 0)
    assert z0 <= viewer.dims.point[0] <= z1 and viewer.dims.current_step[0] in (4, 5)
    center = camera(viewer).center[-2:]
    for axis, c in zip((1, 2), center, strict=True):
        lo, hi = world_box(pyr, 0, (2, 1, 1), axis)
        assert lo < c < hi, (axis, c, lo, hi)
    # the inspector pins that chunk; the canvas outlines it once napari has drawn
    chunk = dock.controller.chunk
    assert chunk is not None and chunk.pinned and (chunk.level, chunk.index) == (0, (2, 1, 1))
    settle(qtbot, viewer, dock, layer)
    assert dock.controller.state.box[0] in ((4, 5), (5, 6))
    assert dock.overlay.visual("cursor").visible
    assert "Selected (2, 1, 1) of level 0" in dock.view.chunk_text.text()
    # the chunk shows as failed in the grid of the view napari now shows
    assert dock.controller.cells is not None
    cells = dock.controller.cells
    states = dict(zip(map(tuple, cells.index.tolist()), cells.states.tolist(), strict=True))
    assert states.get((2, 1, 1)) == FAILED

    qv.save_report(str(tmp_path / "qc.json"))  # what "Save report…" does once a file is picked
    qtbot.waitUntil(lambda: "Saved the report to" in qv.summary.text(), timeout=10000)
    assert '"chunk.undecodable"' in (tmp_path / "qc.json").read_text()
    # the note about missing chunks goes to the first of them, chunk (1, 0, 0): z 2-3
    click_finding(qtbot, qv, "chunk.missing")
    assert viewer.dims.current_step[0] in (2, 3)
    chunk = dock.controller.chunk
    assert chunk is not None and chunk.pinned and chunk.index == (1, 0, 0)
    # a finding about a whole level: the level's row is picked, the slice stays
    assert dock.go_to_finding(QCRow("info", "test", "", "", "", "", 1, Location(level=1, path="1")))
    assert dock.view.table.currentRow() == 1 and viewer.dims.current_step[0] in (2, 3)
    # one about the group metadata goes nowhere
    assert not dock.go_to_finding(QCRow("info", "test", "", "", "", "", 1, Location()))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    click_finding(qtbot, qv, "chunk.undecodable")
    qtbot.wait(50)
    assert dock.grab().save(str(SCREENSHOT))


def test_a_finding_of_another_channel_selects_its_layer(
    make_napari_viewer: Any, qtbot: Any, tmp_path: Path
) -> None:
    ds = write_channels(tmp_path / "channels.zarr")
    viewer = make_napari_viewer(strict_qt=True)
    _, dock = viewer.window.add_plugin_dock_widget("napari-chunkview", "Chunk inspector")
    layers = viewer.open(str(ds.path), plugin="napari-chunkview")
    assert [ly.metadata["channel"] for ly in layers] == [0, 1]
    viewer.layers.selection.active = layers[0]
    assert dock.layer is layers[0]
    qv = qc_tab(dock)
    run_to_end(qtbot, qv)
    codes = [r[1] for r in qv.rows_text()]
    assert codes[:2] == ["chunk.missing_data", "chunk.undecodable"] or set(codes[:2]) == {
        "chunk.missing_data",
        "chunk.undecodable",
    }
    layers[1].visible = False
    show_window(viewer)
    click_finding(qtbot, qv, "chunk.undecodable")
    # channel 1's layer is selected and shown, and the dock follows it (same pyramid, so
    # the QC tab keeps its findings)
    assert viewer.layers.selection.active is layers[1] and layers[1].visible
    assert dock.layer is layers[1] and qv.state.status == "done"
    pyr = layers[1].metadata["pyramid"]
    z0, z1 = world_box(pyr, 0, (1, 2, 1, 1), 1)
    assert z0 <= viewer.dims.point[0] <= z1
    center = camera(viewer).center[-2:]
    for axis, c in zip((2, 3), center, strict=True):
        lo, hi = world_box(pyr, 0, (1, 2, 1, 1), axis)
        assert lo < c < hi
    chunk = dock.controller.chunk
    assert chunk is not None and chunk.pinned and chunk.index == (1, 2, 1, 1)


def test_cancel_from_the_tab_then_run_again(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    _viewer, _layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    qv = qc_tab(dock)
    qtbot.mouseClick(qv.run_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(qv.cancel_button, Qt.MouseButton.LeftButton)  # at once: mid-run
    assert not qv.cancel_button.isEnabled()  # once is enough
    qtbot.waitUntil(lambda: qv.state.status == "cancelled", timeout=60000)
    assert "Cancelled" in qv.summary.text() and "partial results" in qv.summary.text()
    assert qv.run_button.isEnabled() and qv.progress.isHidden()
    assert not dock.qc.job.report.complete
    # options: level 1 only, a 50 % sample
    qv.level_box.setCurrentIndex(2)
    qv.sample_box.setValue(50.0)
    assert qv.options() == (1, 0.5)
    run_to_end(qtbot, qv)
    assert "level 1 scanned, 50% of the chunks sampled" in qv.summary.text()
    report = dock.qc.job.report
    assert report.complete and (report.level, report.sample) == (1, 0.5)


def test_a_failed_run_says_so(make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset) -> None:
    _viewer, _layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    qv = qc_tab(dock)
    # the level list offers what exists; a stale choice (level 9) is refused by the engine
    dock.qc.run(level=9)
    qtbot.waitUntil(lambda: qv.state.status == "failed", timeout=30000)
    assert "QC failed: level 9 does not exist" in qv.summary.text()
    assert qv.run_button.isEnabled() and qv.findings.topLevelItemCount() == 0


def test_closing_the_dock_mid_run(make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset) -> None:
    viewer, _layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    qv = qc_tab(dock)
    qtbot.mouseClick(qv.run_button, Qt.MouseButton.LeftButton)
    job = dock.qc.job
    assert job is not None and not job.done.is_set()
    n = len(qv.rows_text())
    viewer.window.remove_dock_widget(dock)
    assert dock.qc.closed and job.cancel.is_set()
    assert job.done.wait(60)
    qtbot.wait(200)  # late results reach the main thread: dropped
    assert len(qv.rows_text()) == n and qv.state.status == "running"


def test_closing_the_viewer_mid_run(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    viewer, _layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    qv = qc_tab(dock)
    qtbot.mouseClick(qv.run_button, Qt.MouseButton.LeftButton)
    job, qc = dock.qc.job, dock.qc
    viewer.close()  # make_napari_viewer then checks that nothing leaked
    qtbot.waitUntil(lambda: qc.closed, timeout=5000)
    assert job is not None and job.cancel.is_set() and job.done.wait(60)
    qtbot.wait(200)


def write_big_2_levels(path: Path) -> Dataset:
    """zarr v2 (zarr-python 3), OME-NGFF 0.4: z=2, 2048x2048 uint8 and its 1024x1024
    level, chunks 1x256x256 — big enough that napari shows level 1 when zoomed out. Chunk
    (1, 2, 3) of level ``1`` is overwritten with garbage."""
    from numcodecs import Zlib

    yy, xx = np.mgrid[0:2048, 0:2048]
    l0 = np.stack([(yy // 7 + xx // 5) % 251, (yy // 3 + xx // 11) % 241]).astype(np.uint8) + 1
    l1 = np.ascontiguousarray(l0[:, ::2, ::2])
    write_ngff04_v2(
        path, "big", [l0, l1], [[1.0, 0.5, 0.5], [1.0, 1.0, 1.0]],
        chunks=(1, 256, 256), compressors=Zlib(level=1),
    )
    (path / "1" / "1.2.3").write_bytes(b"\x00 not zlib at all")
    return Dataset(path, [l0, l1], missing=[set(), set()], corrupt=[set(), {(1, 2, 3)}])


def test_a_finding_on_level_1_is_shown_at_level_1(
    make_napari_viewer: Any, qtbot: Any, tmp_path: Path
) -> None:
    ds = write_big_2_levels(tmp_path / "big.zarr")
    viewer, layer, dock = open_with_dock(make_napari_viewer, ds.path)
    show_window(viewer)
    qv = qc_tab(dock)
    run_to_end(qtbot, qv)
    bad = next(r for r in qv.rows_text() if r[1] == "chunk.undecodable")
    assert bad[3] == "level 1 (1), chunk (1, 2, 3), key 1/1.2.3"
    camera(viewer).zoom = 20.0  # close up on level 0 somewhere else
    click_finding(qtbot, qv, "chunk.undecodable")
    settle(qtbot, viewer, dock, layer)
    # napari picked level 1 for the new zoom, the chunk is in view and outlined
    assert layer.data_level == 1 and dock.controller.state.level == 1
    assert viewer.dims.current_step[0] == 1
    pyr = layer.metadata["pyramid"]
    center = camera(viewer).center[-2:]
    for axis, c in zip((1, 2), center, strict=True):
        lo, hi = world_box(pyr, 1, (1, 2, 3), axis)
        assert lo < c < hi
    chunk = dock.controller.chunk
    assert chunk is not None and chunk.pinned and (chunk.level, chunk.index) == (1, (1, 2, 3))
    assert dock.overlay.visual("cursor").visible
    box = dock.controller.state.box
    assert box[1][0] <= 512 and box[1][1] >= 768 and box[2][0] <= 768 and box[2][1] >= 1024


def test_going_to_a_chunk_in_3d(make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    viewer.dims.ndisplay = 3
    qv = qc_tab(dock)
    run_to_end(qtbot, qv)
    row = next(r for r in qv.state.rows if r.code == "chunk.undecodable")
    assert dock.go_to_finding(row)
    pyr = layer.metadata["pyramid"]
    center = camera(viewer).center
    for axis, c in enumerate(center):  # z, y, x: all displayed
        lo, hi = world_box(pyr, 0, (2, 1, 1), axis)
        assert lo < c < hi, (axis, c, lo, hi)
    chunk = dock.controller.chunk
    assert chunk is not None and chunk.pinned and chunk.index == (2, 1, 1)
