"""The inspector's controller without any GUI (a ``MagicMock(spec=ChunkView)``): table
rows, hierarchy, grid states, chunk details, stale results, teardown."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from unittest.mock import MagicMock

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from napari_chunkview.explorer import (
    ChunkController,
    ChunkView,
    GridCells,
    LevelRow,
    ViewState,
    level_reason,
)
from napari_chunkview.loading import EVENTS

from ._datasets import Dataset, stored_bytes

SHARDED_CODECS = (
    "transpose(0,2,1) → bytes(le) → zstd(3) "
    "inside sharding(4×64×64 of 2×32×32, index crc32c @start)"
)


def make_view() -> MagicMock:
    view = MagicMock(spec=ChunkView)
    view.call_in_main.side_effect = lambda fn: fn()
    return view


def controller_for(ds: Dataset, **kw: Any) -> tuple[ChunkController, MagicMock, Any]:
    view = make_view()
    ctl = ChunkController(view, **kw)
    pyr = open_pyramid(ds.path)
    ctl.show(pyr, title="test")
    assert ctl.wait(30)
    return ctl, view, pyr


def controller_for_async(ds: Dataset) -> tuple[ChunkController, MagicMock, Any]:
    """Like ``controller_for`` without waiting for the background work."""
    view = make_view()
    ctl = ChunkController(view)
    pyr = open_pyramid(ds.path)
    ctl.show(pyr, title="test")
    return ctl, view, pyr


def last_rows(view: MagicMock) -> list[LevelRow]:
    return view.set_levels.call_args.args[0]


def slice_state(pyr: Any, level: int, z: int) -> ViewState:
    shape = pyr.levels[level].shape
    return ViewState(level=level, box=((z, z + 1), (0, shape[1]), (0, shape[2])), axes=(1, 2))


# -- the levels table ------------------------------------------------------------------------
def test_rows_of_a_sharded_ngff_05_pyramid(ngff_sharded: Dataset) -> None:
    ctl, view, _pyr = controller_for(ngff_sharded)
    try:
        rows = last_rows(view)
        assert [r.shape for r in rows] == [(8, 128, 128), (8, 64, 64)]  # C order
        assert [r.cells["shape"] for r in rows] == ["8×128×128", "8×64×64"]
        assert [r.chunk_shape for r in rows] == [(2, 32, 32)] * 2
        assert [r.shard_shape for r in rows] == [(4, 64, 64)] * 2
        assert [r.codecs for r in rows] == [SHARDED_CODECS] * 2
        assert [(r.n_chunks, r.stored, r.missing) for r in rows] == [(64, 63, 1), (16, 16, 0)]
        assert all(r.exact for r in rows)
        assert rows[0].scan == "listing + shard indexes (exact)"
        for r, level in zip(rows, ("s0", "s1"), strict=True):
            # inner chunks only: the shard files also hold their index
            files = stored_bytes(ngff_sharded.path / level)
            assert r.stored_bytes is not None and 0 < r.stored_bytes < files
            per_chunk = r.logical_bytes / r.n_chunks
            assert r.ratio == pytest.approx(per_chunk * r.stored / r.stored_bytes)
            assert r.cells["ratio"] == f"{r.ratio:.3g}×"
        assert rows[0].cells["scale"] == "z 2 µm · y 0.5 µm · x 0.5 µm"
        assert rows[0].cells["keys"] == "default '/' · e.g. s0/c/0/0/0"
        assert rows[0].fill_value == "0"
    finally:
        ctl.close()


def test_rows_of_an_n5_viewer_pyramid(n5_viewer: Dataset) -> None:
    ctl, view, _ = controller_for(n5_viewer)
    try:
        rows = last_rows(view)
        assert [r.cells["shape"] for r in rows] == ["8×48×64", "8×24×32"]  # N5 reversed to C
        assert [r.cells["chunk"] for r in rows] == ["4×16×16"] * 2
        assert [r.codecs for r in rows] == ["n5-block(be) → gzip(6)"] * 2
        assert [(r.stored, r.missing) for r in rows] == [(23, 1), (8, 0)]
        assert rows[0].cells["keys"] == "N5 '/' (axes reversed) · e.g. s0/0/0/0"
        for r, level in zip(rows, ("s0", "s1"), strict=True):
            assert r.stored_bytes == stored_bytes(n5_viewer.path / level)
            assert r.ratio == pytest.approx(
                r.logical_bytes / r.n_chunks * r.stored / r.stored_bytes
            )
        assert rows[1].cells["scale"] == "z 40 nm · y 8 nm · x 8 nm"
    finally:
        ctl.close()


def test_rows_of_a_nested_zarr_v2_pyramid(v2_nested: Dataset) -> None:
    ctl, view, _ = controller_for(v2_nested)
    try:
        rows = last_rows(view)
        assert [r.cells["shape"] for r in rows] == ["6×64×64", "6×32×32"]
        assert [r.codecs for r in rows] == ["zlib(5)"] * 2
        assert rows[0].cells["keys"] == "v2 '/' · e.g. 0/0/0/0"
        # the corrupt chunk is stored (its bytes are there); only the deleted one is missing
        assert [(r.stored, r.missing) for r in rows] == [(47, 1), (12, 0)]
        assert rows[0].stored_bytes == stored_bytes(v2_nested.path / "0")
        assert rows[0].cells["shard"] == "—"
    finally:
        ctl.close()


def test_rows_say_scanning_before_the_figures_arrive(v2_nested: Dataset) -> None:
    view = make_view()
    posted: list[Callable[[], None]] = []
    view.call_in_main.side_effect = posted.append  # hold results back
    ctl = ChunkController(view, list_store=False)
    try:
        ctl.show(open_pyramid(v2_nested.path))
        first = last_rows(view)
        assert [r.stored for r in first] == [None, None]
        assert first[0].cells["stored"] == "—" and first[0].scan == "waiting to scan…"
        assert ctl.wait(30)
        for fn in posted:
            fn()
        assert [r.stored for r in last_rows(view)] == [47, 12]
    finally:
        ctl.close()


def test_sampled_figures_are_marked_as_estimates(
    v2_nested: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from napari_chunkview.explorer import _work

    real = _work.scan_storage
    monkeypatch.setattr(
        _work, "scan_storage", lambda lv, **kw: real(lv, max_keys=1, sample=64, **kw)
    )
    ctl, view, _ = controller_for(v2_nested, list_store=False)
    try:
        row = last_rows(view)[0]
        assert row.exact is False and "estimate" in row.scan
        assert row.cells["stored"].startswith("≈ ")
    finally:
        ctl.close()


def test_cancel_and_rescan(v2_nested: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_chunkview.explorer import _work

    started, release = threading.Event(), threading.Event()
    real = _work.scan_storage

    def slow(level: Any, **kw: Any) -> Any:
        started.set()
        release.wait(10)
        return real(level, **kw)

    monkeypatch.setattr(_work, "scan_storage", slow)
    ctl, view, _ = controller_for_async(v2_nested)
    try:
        assert started.wait(10)
        ctl.cancel_scans()
        release.set()
        assert ctl.wait(30)
        assert [r.scan for r in last_rows(view)] == ["scan cancelled", "scan cancelled"]
        # the listing shares nothing with the scans: it went on
        assert view.set_tree.call_args.args[1].startswith("listed")
        monkeypatch.setattr(_work, "scan_storage", real)
        ctl.rescan()
        assert ctl.wait(30)
        assert [(r.stored, r.scan) for r in last_rows(view)] == [
            (47, "listing (exact)"),
            (12, "listing (exact)"),
        ]
    finally:
        ctl.close()


# -- hierarchy --------------------------------------------------------------------------------
def test_hierarchy_known_then_listed(ngff_sharded: Dataset) -> None:
    ctl, view, _pyr = controller_for(ngff_sharded)
    try:
        first_tree, first_status = view.set_tree.call_args_list[0].args
        assert [c.path for c in first_tree.children] == ["s0", "s1"]
        assert "not listed" in first_status
        tree, status = view.set_tree.call_args.args
        assert status.startswith("listed 3 nodes")
        assert tree.role.startswith("image 'sharded'") and "OME-NGFF 0.5" in tree.role
        s0 = tree.find("s0")
        assert s0 is not None and s0.kind == "array" and s0.role == "level 0 of 'sharded'"
        assert s0.summary.startswith("8×128×128 uint16")
        assert s0.metadata["chunk_grid"]["configuration"]["chunk_shape"] == [4, 64, 64]
        # clicking a node shows its attributes as a tree
        ctl.select_node("")
        title, items = view.set_attributes.call_args.args
        assert title.startswith("/ (group)")
        attrs = {i.key: i for i in items}["attributes"]
        ome = {i.key: i for i in attrs.children}["ome"]
        assert {i.key for i in ome.children} == {"version", "multiscales"}
    finally:
        ctl.close()


# -- the grid and its states ------------------------------------------------------------------
def test_grid_states_follow_reads(v2_nested: Dataset) -> None:
    ctl, view, pyr = controller_for(v2_nested)
    try:
        level = pyr.levels[0]
        assert ctl.set_view(slice_state(pyr, 0, 2))  # z 2 → chunk layer 1: (1, 0, 0) missing
        cells: GridCells = view.set_grid.call_args.args[0]
        assert cells.n_chunks == 16 and not cells.coarse
        assert cells.counts == {"not_loaded": 16}
        assert cells.rows[0].tolist() == [0, 16] and cells.cols[-1].tolist() == [48, 64]
        assert not ctl.set_view(slice_state(pyr, 0, 2))  # same view: nothing to do
        np.asarray(level.array[2, :, :])
        ctl.tick()
        by_index = {tuple(i): s for i, s in zip(cells.index.tolist(), cells.states, strict=True)}
        assert ctl.cells is cells
        assert by_index[(1, 0, 0)] == 3  # missing
        assert cells.counts == {"loaded": 15, "missing": 1}
        assert ctl.live.view_resolved == 16 and ctl.live.view_total == 16
        ctl.set_view(slice_state(pyr, 0, 4))  # next chunk layer: not read yet
        assert ctl.cells.counts == {"not_loaded": 16}
        np.asarray(level.array[4, :, :])
        ctl.tick()
        assert ctl.cells.counts == {"loaded": 15, "failed": 1}
        assert (
            dict(zip(map(tuple, ctl.cells.index.tolist()), ctl.cells.states.tolist(), strict=True))[
                (2, 1, 1)
            ]
            == 4
        )
        assert ctl.live.done >= 15 and ctl.live.failed == 1
    finally:
        ctl.close()


def test_a_huge_view_is_drawn_as_blocks(v2_nested: Dataset) -> None:
    ctl, _view, pyr = controller_for(v2_nested, max_cells=4, scan=False, list_store=False)
    try:
        np.asarray(pyr.levels[0].array[2:4, 0:32, 0:64])  # 8 chunks of layer 1, one missing
        ctl.set_view(slice_state(pyr, 0, 2))
        cells = ctl.cells
        assert cells.coarse and cells.block == (2, 2) and len(cells.states) == 4
        assert cells.n_chunks == 16
        assert cells.counts == {"loaded": 7, "missing": 1, "not_loaded": 8}
        # top blocks: one with the missing chunk among loaded ones → loaded; bottom: nothing
        assert cells.states.tolist() == [2, 2, 0, 0]
        assert ctl.live.grid_note.startswith("1 cell = 2×2 chunks")
    finally:
        ctl.close()


def test_grid_toggle(v2_nested: Dataset) -> None:
    ctl, view, pyr = controller_for(v2_nested, scan=False, list_store=False)
    try:
        ctl.set_view(slice_state(pyr, 1, 0))
        ctl.set_grid_enabled(False)
        assert view.set_grid.call_args.args[0] is None and ctl.cells is None
        ctl.set_grid_enabled(True)
        assert view.set_grid.call_args.args[0] is ctl.cells and ctl.cells.level == 1
    finally:
        ctl.close()


# -- one chunk ---------------------------------------------------------------------------------
def test_chunk_details_of_a_sharded_level(ngff_sharded: Dataset) -> None:
    ctl, view, pyr = controller_for(ngff_sharded, scan=False, list_store=False)
    try:
        ctl.hover(0, (2.0, 10.0, 40.0))  # chunk (1, 0, 1): stored
        assert ctl.wait(10)
        d = view.set_chunk.call_args.args[0]
        assert d.index == (1, 0, 1) and d.key == "s0/c/0/0/0" and d.state == "not_loaded"
        assert "Inner chunk (1, 0, 1) of the shard at s0/c/0/0/0" in d.note
        assert d.stored_bytes and d.size_note == "from the shard index"
        ctl.hover(0, (3.0, 5.0, 5.0))  # chunk (1, 0, 0): empty in its shard
        assert ctl.wait(10)
        d = view.set_chunk.call_args.args[0]
        assert d.index == (1, 0, 0) and d.stored_bytes is None
        assert d.size_note == "not stored (empty in its shard)"
        np.asarray(pyr.levels[0].array[3, :, :])
        ctl.tick()
        assert view.set_chunk.call_args.args[0].state == "missing"
        ctl.hover(0, (3.0, 5.0, 200.0))  # outside: nothing shown
        assert view.set_chunk.call_args.args[0] is None
    finally:
        ctl.close()


def test_click_pins_a_chunk_and_reads_show_its_cost(v2_nested: Dataset) -> None:
    ctl, view, pyr = controller_for(v2_nested, scan=False, list_store=False)
    try:
        ctl.click(0, (4.0, 20.0, 20.0))  # the corrupt chunk (2, 1, 1)
        assert ctl.wait(10)
        d = view.set_chunk.call_args.args[0]
        assert d.pinned and d.key == "0/2/1/1" and d.stored_bytes == len(b"\x00 not zlib at all")
        ctl.hover(0, (0.0, 0.0, 0.0))  # hovering does not replace a pinned chunk
        assert view.set_chunk.call_args.args[0].index == (2, 1, 1)
        np.asarray(pyr.levels[0].array[4, :, :])
        ctl.tick()
        d = view.set_chunk.call_args.args[0]
        assert d.state == "failed" and d.reason
        assert any(line.startswith("Failure:") for line in d.lines())
        ctl.click(0, (0.0, 0.0, 0.0))  # a loaded chunk: its read cost is known
        assert ctl.wait(10)
        np.asarray(pyr.levels[0].array[0, 0:16, 0:16])
        ctl.tick()
        d = view.set_chunk.call_args.args[0]
        assert d.index == (0, 0, 0) and d.state == "loaded" and d.ms is not None
        assert d.stored_bytes == (v2_nested.path / "0" / "0" / "0" / "0").stat().st_size
        ctl.click(0, (0.0, 0.0, 0.0))  # again: unpinned
        assert not view.set_chunk.call_args.args[0].pinned
    finally:
        ctl.close()


# -- generations and teardown ----------------------------------------------------------------
def test_results_for_an_older_pyramid_are_dropped(
    v2_nested: Dataset, ngff_sharded: Dataset
) -> None:
    view = make_view()
    posted: list[Callable[[], None]] = []
    view.call_in_main.side_effect = posted.append
    ctl = ChunkController(view)
    try:
        first = open_pyramid(v2_nested.path)
        ctl.show(first)
        assert ctl.wait(30)
        early = list(posted)  # results for the first pyramid, not delivered yet
        second = open_pyramid(ngff_sharded.path)
        ctl.show(second)
        view.set_levels.reset_mock()
        view.set_tree.reset_mock()
        for fn in early:
            fn()
        view.set_levels.assert_not_called()
        view.set_tree.assert_not_called()
        assert ctl.wait(30)
        for fn in posted[len(early) :]:
            fn()
        assert [r.shape for r in last_rows(view)] == [(8, 128, 128), (8, 64, 64)]
    finally:
        ctl.close()


def test_close_unsubscribes_and_stops(v2_nested: Dataset) -> None:
    before = len(EVENTS._listeners)
    ctl, view, pyr = controller_for(v2_nested)
    assert len(EVENTS._listeners) == before + 2  # the pyramid's feed and the backlog
    feed = ctl.feed
    ctl.close()
    assert len(EVENTS._listeners) == before and feed is not None and feed.closed
    ctl.close()  # twice is fine
    view.reset_mock()
    ctl.show(pyr)
    ctl.set_view(slice_state(pyr, 0, 0))
    ctl.tick()
    assert view.method_calls == []


def test_same_pyramid_keeps_its_figures(v2_nested: Dataset) -> None:
    ctl, view, pyr = controller_for(v2_nested, list_store=False)
    try:
        feed = ctl.feed
        ctl.show(pyr, title="another channel")
        assert ctl.feed is feed and view.set_header.call_args.args[0].title == "another channel"
        ctl.show(None, message="nothing here")
        view.show_message.assert_called_with("nothing here")
        assert feed.closed
        ctl.show(pyr)
        assert [r.stored for r in last_rows(view)] == [47, 12]  # remembered, not rescanned
    finally:
        ctl.close()


def test_level_reasons(v2_nested: Dataset) -> None:
    pyr = open_pyramid(v2_nested.path)
    base = slice_state(pyr, 1, 0)
    from dataclasses import replace

    assert "locked" in level_reason(pyr, replace(base, locked=True))
    assert "3D" in level_reason(pyr, replace(base, ndisplay=3))
    assert "single-level" in level_reason(pyr, replace(base, multiscale=False))
    text = level_reason(pyr, replace(base, canvas=(600, 800), view0=(300.0, 400.0)))
    assert "≈ 400×300 pixels of level 0" in text and "≈ 200×150 of level 1" in text
    assert "800×600 canvas" in text


def test_deferred_ngff_validation_reaches_the_header() -> None:
    """The napari reader opens without ome-zarr-models validation (quick); the inspector
    runs it in the background and adds what it finds to the header's warnings."""
    import copy as _copy

    from ..corpus import CORPUS

    path = CORPUS / "ome-ngff-validator/test_samples/invalid/missing_min.zarr"
    if not path.is_dir():
        pytest.skip(f"conformance corpus not found at {CORPUS}")
    quick = open_pyramid(path, validate=False)
    assert not any("window.min" in w for w in quick.warnings)
    view = make_view()
    ctl = ChunkController(view, scan=False, list_store=False)
    ctl.show(quick, title="quick")
    assert ctl.wait(60)
    header = view.set_header.call_args.args[0]
    assert any("window.min" in w for w in header.warnings), header.warnings
    # a second show of the same image does not validate again
    calls = view.set_header.call_count
    ctl.show(_copy.copy(quick), title="again")
    assert ctl.wait(30)
    assert view.set_header.call_count == calls + 1
    ctl.close()
