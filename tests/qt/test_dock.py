"""The Chunk inspector dock in a real (headless) napari viewer: table values, chunk states
as napari reads the slices, the overlay on the canvas, hover, following layers, teardown.

Run under ``xvfb-run -a`` (image layers need OpenGL)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from napari_chunkview.explorer import STATE_NAMES
from napari_chunkview.explorer._grid import FAILED, LOADED, STATE_COLORS
from napari_chunkview.loading import EVENTS

from ..explorer._datasets import (
    Dataset,
    write_n5_viewer,
    write_ngff05_sharded,
    write_zarr_v2_nested,
)
from ._support import settle

PLUGIN = "napari-chunkview"
SHARDED_CODECS = (
    "transpose(0,2,1) → bytes(le) → zstd(3) "
    "inside sharding(4×64×64 of 2×32×32, index crc32c @start)"
)


@pytest.fixture
def ngff_sharded(tmp_path: Path) -> Dataset:
    return write_ngff05_sharded(tmp_path / "sharded.ome.zarr")


@pytest.fixture
def v2_nested(tmp_path: Path) -> Dataset:
    return write_zarr_v2_nested(tmp_path / "nested.zarr")


@pytest.fixture
def n5_viewer(tmp_path: Path) -> Dataset:
    pytest.importorskip("tensorstore")
    return write_n5_viewer(tmp_path / "pyramid.n5")


def open_with_dock(make_napari_viewer: Any, path: Path) -> tuple[Any, Any, Any]:
    """The dock first, then the dataset (as ``chunkview view --dock`` does): the dock sees
    every read, and follows the new layer as napari selects it."""
    viewer = make_napari_viewer(strict_qt=True)
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "Chunk inspector")
    assert "Select an image or labels layer" in dock.view.message.text()
    [layer] = viewer.open(str(path), plugin=PLUGIN)
    assert dock.layer is layer
    return viewer, layer, dock




def scanned(qtbot: Any, dock: Any) -> list[dict[str, str]]:
    qtbot.waitUntil(lambda: not dock.controller.busy, timeout=30000)
    qtbot.waitUntil(
        lambda: all(r.stored is not None or r.virtual for r in dock.controller.rows), timeout=10000
    )
    return dock.view.table_text()


def states(dock: Any) -> dict[tuple[int, ...], str]:
    cells = dock.controller.cells
    return {
        tuple(i): STATE_NAMES[s] for i, s in zip(cells.index.tolist(), cells.states, strict=True)
    }


def test_table_of_a_sharded_ngff_05_pyramid(
    make_napari_viewer: Any, qtbot: Any, ngff_sharded: Dataset
) -> None:
    _viewer, _layer, dock = open_with_dock(make_napari_viewer, ngff_sharded.path)
    table = scanned(qtbot, dock)
    assert [r["Shape"] for r in table] == ["8×128×128", "8×64×64"]
    assert [r["Chunk"] for r in table] == ["2×32×32"] * 2
    assert [r["Shard"] for r in table] == ["4×64×64"] * 2
    assert [r["Codecs"] for r in table] == [SHARDED_CODECS] * 2
    assert [(r["Chunks"], r["Stored"], r["Missing"]) for r in table] == [
        ("64 (4×4×4)", "63", "1"),
        ("16 (4×2×2)", "16", "0"),
    ]
    rows = dock.controller.rows
    for r, row in zip(table, rows, strict=True):
        assert (
            r["Ratio"] == f"{row.logical_bytes / row.n_chunks * row.stored / row.stored_bytes:.3g}×"
        )
        assert r["Scan"] == "listing + shard indexes (exact)"
    assert table[0]["Scale"] == "z 2 µm · y 0.5 µm · x 0.5 µm"
    header = dock.view.header.text()
    assert "zarr v3 · OME-NGFF 0.5" in header and "ome.multiscales" in header
    # the hierarchy, listed in the background
    qtbot.waitUntil(lambda: dock.view.tree_status.text().startswith("listed"), timeout=10000)
    top = dock.view.tree.topLevelItem(0)
    assert [top.child(i).text(0) for i in range(top.childCount())] == ["s0", "s1"]
    assert top.child(0).text(1) == "level 0 of 'sharded'"
    dock.view.tree.setCurrentItem(top.child(1))
    assert dock.view.attr_title.text().startswith("s1 (array)")
    meta = next(
        dock.view.attrs.topLevelItem(i)
        for i in range(dock.view.attrs.topLevelItemCount())
        if dock.view.attrs.topLevelItem(i).text(0) == "metadata"
    )
    assert not meta.isExpanded()  # collapsed until asked


def test_n5_viewer_table_and_states(
    make_napari_viewer: Any, qtbot: Any, n5_viewer: Dataset
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, n5_viewer.path)
    table = scanned(qtbot, dock)
    assert [r["Shape"] for r in table] == ["8×48×64", "8×24×32"]
    assert [r["Codecs"] for r in table] == ["n5-block(be) → gzip(6)"] * 2
    assert [(r["Stored"], r["Missing"]) for r in table] == [("23", "1"), ("8", "0")]
    assert "N5 · n5-viewer" in dock.view.header.text()
    viewer.dims.set_current_step(0, 5)  # z 5 → chunk layer 1, where block (1, 0, 0) is missing
    settle(qtbot, viewer, dock, layer)
    assert dock.controller.state.level == 0
    st = states(dock)
    assert st[(1, 0, 0)] == "missing"
    assert {s for i, s in st.items() if i != (1, 0, 0)} == {"loaded"}
    np.testing.assert_array_equal(np.asarray(layer.data[0][5]), n5_viewer.levels[0][5])


def test_stepping_through_z_loads_chunks_and_shows_missing_and_failed(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    pyr = layer.metadata["pyramid"]
    array = pyr.levels[0].array
    table = scanned(qtbot, dock)
    assert [(r["Stored"], r["Missing"]) for r in table] == [("47", "1"), ("12", "0")]
    assert [r["Key encoding"] for r in table] == ["v2 '/' · e.g. 0/0/0/0", "v2 '/' · e.g. 1/0/0/0"]
    expected = {0: {}, 1: {(1, 0, 0): "missing"}, 2: {(2, 1, 1): "failed"}}
    first = viewer.dims.current_step[0] // 2  # napari opens at the middle slice
    for z in (0, 2, 4):
        k = z // 2
        layer_chunks = [(k, r, c) for r in range(4) for c in range(4)]
        if k != first:  # never shown yet: not loaded, and the dock's grid said so
            assert {array.state(i) for i in layer_chunks} == {"not_loaded"}
        viewer.dims.set_current_step(0, z)
        settle(qtbot, viewer, dock, layer)
        assert dock.controller.state.box[0] == (z, z + 1)
        st = states(dock)
        assert set(st) == set(layer_chunks)
        for idx, s in st.items():
            assert s == expected[k].get(idx, "loaded"), (z, idx, s)
    # the dock was there before the first read: its figures saw every chunk read
    live = dock.controller.live
    # (46 chunks of level 0, plus the coarsest level's for contrast at open)
    assert (live.missing, live.failed) == (1, 1) and live.done >= 46
    # the overlay shows the failed chunk filled in red, the rest outlined by state
    cells = dock.controller.cells
    line = dock.overlay.visual("cells")
    assert line.visible and len(line.pos) == 8 * len(cells.states)
    fill = dock.overlay.visual("fill")
    assert fill.visible
    face_colors = fill.mesh_data.get_face_colors()
    np.testing.assert_allclose(face_colors[0][:3], STATE_COLORS[FAILED][:3])
    failed_cell = next(i for i, s in enumerate(cells.states) if s == FAILED)
    np.testing.assert_allclose(line.color[8 * failed_cell], STATE_COLORS[FAILED], atol=1e-6)
    loaded_cell = next(i for i, s in enumerate(cells.states) if s == LOADED)
    np.testing.assert_allclose(line.color[8 * loaded_cell], STATE_COLORS[LOADED], atol=1e-6)
    assert "failed 1" in dock.view.legend.text()
    assert "16 / 16" in dock.view.progress.text()


def test_overlay_follows_the_layer_transform(
    make_napari_viewer: Any, qtbot: Any, ngff_sharded: Dataset
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, ngff_sharded.path)
    settle(qtbot, viewer, dock, layer)
    node = dock.overlay._node
    m = node.transform.matrix
    np.testing.assert_allclose([m[0, 0], m[1, 1]], [0.5, 0.5])  # x, y scale of level 0
    assert node.parent is viewer.window._qt_viewer.canvas.view.scene
    line = dock.overlay.visual("cells")
    # the first cell starts at pixel edge 0 (data -0.5) plus the inset (6 % of 32 pixels)
    np.testing.assert_allclose(line.pos[0, :2], [-0.5 + 1.92, -0.5 + 1.92], atol=1e-5)
    shards = dock.overlay.visual("shards")
    assert shards.visible and len(shards.pos) > 0
    layer.translate = (0, 10, 20)
    layer.scale = (2, 1, 1)
    qtbot.waitUntil(
        lambda: np.allclose(dock.overlay._node.transform.matrix[3, :2], [20, 10]), timeout=5000
    )
    m = dock.overlay._node.transform.matrix
    np.testing.assert_allclose([m[0, 0], m[1, 1]], [1.0, 1.0])
    # toggling the grid hides the visuals and stops computing cells
    dock.view.grid_box.setChecked(False)
    assert not line.visible and dock.controller.cells is None
    dock.view.grid_box.setChecked(True)
    assert dock.controller.cells is not None and dock.overlay.visual("cells").visible


def test_hover_and_click_show_a_chunk(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    viewer.dims.set_current_step(0, 4)
    settle(qtbot, viewer, dock, layer)
    # world position of data pixel (4, 20, 20): inside chunk (2, 1, 1), the corrupt one
    world = layer.data_to_world((4, 20, 20))
    dock._on_mouse_move(layer, SimpleNamespace(position=world))
    qtbot.waitUntil(lambda: dock.controller.chunk is not None, timeout=5000)
    qtbot.waitUntil(lambda: "Stored size: 17 B" in dock.view.chunk_text.text(), timeout=5000)
    text = dock.view.chunk_text.text()
    assert "Chunk (2, 1, 1) of level 0" in text and "failed" in text
    assert "Key: 0/2/1/1" in text and "Failure:" in text
    cursor = dock.overlay.visual("cursor")
    assert cursor.visible and len(cursor.pos) == 8
    dock._on_mouse_press(layer, SimpleNamespace(position=layer.data_to_world((4, 40, 40))))
    qtbot.waitUntil(lambda: "Selected (2, 2, 2)" in dock.view.chunk_text.text(), timeout=5000)
    assert "loaded" in dock.view.chunk_text.text() and "Read:" in dock.view.chunk_text.text()


def test_follows_the_selected_layer_and_says_when_it_is_not_ours(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    settle(qtbot, viewer, dock, layer)
    assert dock.overlay.attached
    other = viewer.add_image(np.zeros((6, 64, 64), np.uint8), name="plain numpy")
    assert viewer.layers.selection.active is other
    assert dock.view.stack.currentIndex() == 0
    assert "'plain numpy' was not opened by napari-chunkview" in dock.view.message.text()
    assert dock.layer is None and not dock.overlay.attached
    viewer.layers.selection.active = layer
    assert dock.layer is layer and dock.view.stack.currentIndex() == 1
    settle(qtbot, viewer, dock, layer)
    viewer.layers.remove(layer)
    assert dock.layer is None and not dock.overlay.attached


def test_channel_layers_share_their_pyramid(
    make_napari_viewer: Any, qtbot: Any, ome_v05: Any
) -> None:
    viewer = make_napari_viewer(strict_qt=True)
    first, second = viewer.open(str(ome_v05.path), plugin=PLUGIN)
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "Chunk inspector")
    assert dock.layer is second and "(channel 1)" in dock.view.header.text()
    settle(qtbot, viewer, dock, second)
    assert dock.controller.state.box[0] == (1, 2)  # the channel axis, fixed at channel 1
    feed = dock.controller.feed
    viewer.layers.selection.active = first
    assert dock.layer is first and dock.controller.feed is feed  # same pyramid: kept
    settle(qtbot, viewer, dock, first)
    assert dock.controller.state.box[0] == (0, 1)


def test_3d_shows_the_current_slice_of_the_coarsest_level(
    make_napari_viewer: Any, qtbot: Any, ngff_sharded: Dataset
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, ngff_sharded.path)
    viewer.dims.ndisplay = 3
    viewer.dims.set_point(0, 10.0)  # world z 10 µm = data z 5
    settle(qtbot, viewer, dock, layer)
    state = dock.controller.state
    assert state.ndisplay == 3 and state.level == 1 and state.box[0] == (5, 6)
    assert "3D view" in dock.controller.live.why
    line = dock.overlay.visual("cells")
    assert line.pos.shape[1] == 3 and np.allclose(line.pos[:, 2], 5.0)  # the plane at z = 5
    assert dock.overlay.placement.depth == 5.0


def test_qc_tab_hook(make_napari_viewer: Any, ngff_sharded: Dataset) -> None:
    from qtpy.QtWidgets import QLabel

    _viewer, _layer, dock = open_with_dock(make_napari_viewer, ngff_sharded.path)
    tabs = dock.view.tabs
    i = dock.view.qc_tab_index
    assert tabs.tabText(i) == "QC" and tabs.widget(i) is dock.qc_view  # the dock's own tab
    widget = QLabel("checks")
    dock.set_qc_widget(widget)
    assert tabs.tabText(i) == "QC" and tabs.widget(i) is widget


def test_hiding_the_panel_hides_the_grid(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    settle(qtbot, viewer, dock, layer)
    line = dock.overlay.visual("cells")
    assert line.visible
    panel = dock.parentWidget()
    panel.close()  # napari's "hide this panel" button
    dock._tick()
    assert not line.visible and dock.overlay.attached
    panel.show()
    dock._tick()
    assert dock.overlay.visual("cells").visible


def test_removing_the_dock_stops_everything(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    before = len(EVENTS._listeners)
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    settle(qtbot, viewer, dock, layer)
    assert len(EVENTS._listeners) == before + 2
    assert dock._on_mouse_move in layer.mouse_move_callbacks
    viewer.window.remove_dock_widget(dock)
    assert dock.controller.closed and not dock._timer.isActive()
    assert len(EVENTS._listeners) == before
    assert not dock.overlay.attached and dock._on_mouse_move not in layer.mouse_move_callbacks
    # napari keeps going without it
    viewer.dims.set_current_step(0, 0)
    viewer.screenshot(canvas_only=False, flash=False)


def test_closing_the_viewer_lets_go(
    make_napari_viewer: Any, qtbot: Any, v2_nested: Dataset
) -> None:
    before = len(EVENTS._listeners)
    viewer, layer, dock = open_with_dock(make_napari_viewer, v2_nested.path)
    settle(qtbot, viewer, dock, layer)
    controller = dock.controller
    viewer.close()  # make_napari_viewer then checks that no QtViewer leaked
    assert dock.layer is None and not dock.overlay.attached
    qtbot.waitUntil(lambda: controller.closed, timeout=5000)
    assert len(EVENTS._listeners) == before
