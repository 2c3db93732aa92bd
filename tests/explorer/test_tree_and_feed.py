"""Hierarchy trees (known without listing, listed with bounds), attribute trees, the live
event feed and the small text helpers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from napari_chunkview import open_pyramid
from napari_chunkview.explorer import LiveFeed, attribute_items, known_tree, list_tree
from napari_chunkview.explorer._text import bytes_text, count_text, fill_text, ratio_text
from napari_chunkview.loading import ChunkEvent, EventStream

from ..qt._support import write_ome_zarr
from ._datasets import Dataset


def test_known_tree_names_levels_and_labels(tmp_path: Path) -> None:
    pytest.importorskip("ome_zarr")
    written = write_ome_zarr(tmp_path / "img.ome.zarr", version="0.4", labels=True)
    pyr = open_pyramid(written.path)
    tree = known_tree(pyr)
    assert tree.kind == "group" and "OME-NGFF 0.4" in tree.summary
    assert [c.path for c in tree.children] == ["s0", "s1", "s2", "labels/cells"]
    assert [c.role for c in tree.children[:3]] == ["level 0", "level 1", "level 2"]
    labels = tree.children[3]
    assert labels.role == "labels 'cells'" and [c.path for c in labels.children] == [
        "labels/cells/s0",
        "labels/cells/s1",
        "labels/cells/s2",
    ]

    listed, status = list_tree(pyr.levels[0].source._root, pyr)
    assert status == "listed 9 nodes"
    paths = [n.path for n in listed.walk()]
    assert paths == [
        "",
        "labels",
        "labels/cells",
        "labels/cells/s0",
        "labels/cells/s1",
        "labels/cells/s2",
        "s0",
        "s1",
        "s2",
    ]
    assert listed.find("labels/cells").role.startswith("labels 'cells'")
    assert listed.find("labels/cells/s1").role == "level 1 of 'cells'"
    assert listed.find("labels").role == ""
    assert listed.find("s0").summary == "2×8×96×96 uint16 · zarr v2"


def test_listing_is_bounded_and_cancellable(ngff_sharded: Dataset) -> None:
    pyr = open_pyramid(ngff_sharded.path)
    root = pyr.levels[0].source._root
    tree, status = list_tree(root, pyr, max_nodes=2)
    assert status == "listed 2 nodes (stopped at 2 nodes)" and len(tree.walk()) == 2
    tree, status = list_tree(root, pyr, max_depth=0)
    assert tree.children == [] and "stopped at depth 0" in status
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(InterruptedError):
        list_tree(root, pyr, cancel=cancel)


def test_n5_tree_is_listed_in_c_order(n5_viewer: Dataset) -> None:
    pyr = open_pyramid(n5_viewer.path)
    tree, _ = list_tree(pyr.levels[0].source._root, pyr)
    s0 = tree.find("s0")
    assert s0 is not None and s0.kind == "array" and s0.summary.startswith("8×48×64 uint16")
    assert s0.attrs["downsamplingFactors"] == [1, 1, 1]


def test_attribute_items() -> None:
    attrs = {
        "name": "x",
        "multiscales": [{"axes": ["z", "y"], "datasets": [{"path": "0"}]}],
        "big": list(range(1000)),
        "nested": {f"k{i}": i for i in range(5)},
    }
    items = {i.key: i for i in attribute_items(attrs, max_items=4)}
    assert items["name"].text == "'x'" and not items["name"].children
    ms = items["multiscales"]
    assert ms.text == "[1 item]" and ms.children[0].key == "[0]"
    assert {c.key: c.text for c in ms.children[0].children}["axes"] == "['z', 'y']"
    assert items["big"].text.startswith("[0, 1, 2,") and items["big"].text.endswith(", …]")
    nested = items["nested"]
    assert nested.text == "{5 keys}" and [c.key for c in nested.children] == [
        "k0",
        "k1",
        "k2",
        "k3",
        "…",
    ]
    assert nested.children[-1].text == "1 more not shown"


def test_live_feed_filters_and_records() -> None:
    stream = EventStream()
    feed = LiveFeed(["img/0"], stream)
    stream.emit(ChunkEvent("requested", "img/0", (0, 0)))
    stream.emit(ChunkEvent("requested", "other/0", (0, 0)))
    assert feed.stats.snapshot()["in_flight"] == 1
    stream.emit(
        ChunkEvent(
            "done",
            "img/0",
            (0, 0),
            "0/0",
            nbytes_stored=100,
            nbytes_decoded=400,
            ms=4.0,
            fetch_ms=1.0,
        )
    )
    stream.emit(ChunkEvent("failed", "img/0", (0, 1), "0/1", reason="bad"))
    assert feed.take_dirty() == {"img/0"} and feed.take_dirty() == set()
    rec = feed.record("img/0", (0, 0))
    assert rec is not None and (rec.kind, rec.nbytes_stored, rec.ms) == ("done", 100, 4.0)
    assert feed.record("img/0", (0, 1)).reason == "bad"
    snap = feed.stats.snapshot()
    assert (snap["done"], snap["failed"], snap["in_flight"]) == (1, 1, 0)
    feed.close()
    assert feed.closed and stream.active is False
    feed.close()


def test_text_helpers() -> None:
    assert bytes_text(0) == "0 B" and bytes_text(999) == "999 B"
    assert bytes_text(1234) == "1.23 kB" and bytes_text(262_144) == "262 kB"
    assert bytes_text(5e9) == "5 GB" and bytes_text(None) == "—"
    assert count_text(1024) == "1,024" and count_text(1000, exact=False) == "≈ 1,000"
    assert ratio_text(2.456) == "2.46×" and ratio_text(None) == "—"
    assert fill_text(float("nan")) == "NaN" and fill_text(None) == "none"
