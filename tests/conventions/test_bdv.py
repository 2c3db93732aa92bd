"""BigDataViewer N5: 2 setups x 2 timepoints written with z5py groups and tensorstore
arrays."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from napari_chunkview.formats import open_node, pyramid_from_node

from .conftest import Written

pytest.importorskip("napari_chunkview.formats.n5")


def test_root_stacks_timepoints_and_setups(bdv_n5: Written) -> None:
    node = open_node(bdv_n5.path)
    reads: list[str] = []
    node.root.add_listener(lambda ev: None if ev.metadata else reads.append(ev.key))
    pyr = pyramid_from_node(node)
    assert reads == []
    assert pyr.provenance.convention == "BigDataViewer N5"
    assert "XML" in pyr.provenance.reason  # says where the voxel size would be
    assert pyr.axis_names == ("t", "c", "z", "y", "x")
    assert [a.type for a in pyr.axes] == ["time", "channel", "space", "space", "space"]
    assert [c.name for c in pyr.channels] == ["setup 0", "setup 1"]
    for level, f in zip(pyr.levels, bdv_n5.params["factors"], strict=True):
        fc = f[::-1]
        assert level.scale == pytest.approx([1, 1, *fc])
        assert level.translation == pytest.approx([0, 0, *((a - 1) / 2 for a in fc)])
        assert level.grid.chunk_shape[:2] == (1, 1)
    data = open_pyramid(bdv_n5.path)
    for level, written in zip(data.levels, bdv_n5.levels, strict=True):
        assert level.shape == written.shape
        np.testing.assert_array_equal(level.data.compute(), written)


def test_chunk_keys_point_at_each_view(bdv_n5: Written) -> None:
    pyr = open_pyramid(bdv_n5.path)
    level = pyr.levels[1]
    index = (1, 0, 0, 1, 1)  # t=1, setup 0, chunk z 0, y 1, x 1
    assert all(i < n for i, n in zip(index, level.grid.grid_shape, strict=True))
    key = level.chunk_key(index)
    assert key == "setup0/timepoint1/s1/1/1/0"  # N5 block path: x/y/z
    assert (bdv_n5.path / key).is_file()
    assert level.key_template.format(*index) == key


def test_setup_opened_directly(bdv_n5: Written) -> None:
    pyr = open_pyramid(bdv_n5.path / "setup1")
    assert pyr.provenance.convention == "BigDataViewer N5"
    assert pyr.axis_names == ("t", "z", "y", "x")
    for level, written in zip(pyr.levels, bdv_n5.levels, strict=True):
        np.testing.assert_array_equal(level.data.compute(), written[:, 1])


def test_zero_padded_names(bdv_n5: Written, tmp_path: Path) -> None:
    dst = tmp_path / "padded.n5"
    shutil.copytree(bdv_n5.path, dst)
    for s in range(2):
        for t in range(2):
            (dst / f"setup{s}" / f"timepoint{t}").rename(dst / f"setup{s}" / f"timepoint{t:05d}")
        (dst / f"setup{s}").rename(dst / f"setup{s:02d}")
    pyr = open_pyramid(dst)
    assert pyr.provenance.convention == "BigDataViewer N5"
    assert pyr.levels[0].chunk_key((1, 1, 0, 0, 0)) == "setup01/timepoint00001/s0/0/0/0"
    np.testing.assert_array_equal(pyr.levels[2].data.compute(), bdv_n5.levels[2])


def test_incompatible_setup_left_out_with_warning(bdv_n5: Written, tmp_path: Path) -> None:
    dst = tmp_path / "partial.n5"
    shutil.copytree(bdv_n5.path, dst)
    shutil.rmtree(dst / "setup1" / "timepoint1")
    pyr = open_pyramid(dst)
    assert pyr.shape[:2] == (2, 1)
    assert any("setup1" in w for w in pyr.warnings)


def test_timepoints_that_differ_raise_metadata_error(bdv_n5: Written, tmp_path: Path) -> None:
    import json

    from napari_chunkview.model import MetadataError

    dst = tmp_path / "odd.n5"
    shutil.copytree(bdv_n5.path, dst)
    meta = dst / "setup0" / "timepoint1" / "s0" / "attributes.json"
    doc = json.loads(meta.read_text())
    doc["dimensions"] = [d + 1 for d in doc["dimensions"]]
    meta.write_text(json.dumps(doc))
    with pytest.raises(MetadataError, match="timepoints cannot be stacked"):
        open_pyramid(dst / "setup0")
    # from the root, setup0 is the reference: the whole dataset cannot be stacked either
    with pytest.raises(MetadataError, match="setup0/timepoint1/s0"):
        open_pyramid(dst)
