"""n5-viewer / N5-Spark pyramids written by z5py and tensorstore."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from napari_chunkview.formats import open_node, pyramid_from_node

from .conftest import Written

pytest.importorskip("napari_chunkview.formats.n5")


def test_scales_on_group(n5_viewer_scales: Written) -> None:
    node = open_node(n5_viewer_scales.path)
    reads: list[str] = []
    node.root.add_listener(lambda ev: None if ev.metadata else reads.append(ev.key))
    pyr = pyramid_from_node(node)
    assert reads == []
    assert pyr.provenance.convention == "n5-viewer"
    assert "'scales'" in pyr.provenance.reason
    res = n5_viewer_scales.params["res"]["dimensions"][::-1]  # N5 (x, y, z) → z, y, x
    assert pyr.axis_names == ("z", "y", "x")
    assert [a.type for a in pyr.axes] == ["space"] * 3
    assert pyr.units == ("micrometer",) * 3  # "um" in the metadata
    for level, f, written in zip(
        pyr.levels, n5_viewer_scales.params["scales"], n5_viewer_scales.levels, strict=True
    ):
        fc = f[::-1]
        assert level.shape == written.shape
        assert level.scale == pytest.approx([a * r for a, r in zip(fc, res, strict=True)])
        assert level.translation == pytest.approx(
            [(a - 1) / 2 * r for a, r in zip(fc, res, strict=True)]
        )
    data = open_pyramid(n5_viewer_scales.path)
    for level, written in zip(data.levels, n5_viewer_scales.levels, strict=True):
        np.testing.assert_array_equal(level.data.compute(), written)


def test_downsampling_factors_per_level(n5_viewer_levels: Written) -> None:
    pyr = open_pyramid(n5_viewer_levels.path)
    p = n5_viewer_levels.params
    assert pyr.provenance.convention == "n5-viewer"
    assert "downsamplingFactors" in pyr.provenance.reason
    assert pyr.units == ("nanometer",) * 3
    res = p["res"][::-1]
    assert [lv.shape for lv in pyr.levels] == [w.shape for w in n5_viewer_levels.levels]
    for level, f, written in zip(pyr.levels, p["factors"], n5_viewer_levels.levels, strict=True):
        fc = f[::-1]
        assert level.scale == pytest.approx([a * r for a, r in zip(fc, res, strict=True)])
        assert level.translation == pytest.approx(
            [(a - 1) / 2 * r for a, r in zip(fc, res, strict=True)]
        )
        np.testing.assert_array_equal(level.data.compute(), written)
        assert level.key_encoding.startswith("N5")


def test_single_level_opened_directly(n5_viewer_levels: Written) -> None:
    """Opened on its own, ``s1`` is the store root: the container's pixelResolution above
    it is out of reach, so its scale is its downsampling factors (voxel units)."""
    pyr = open_pyramid(n5_viewer_levels.path / "s1")
    f = n5_viewer_levels.params["factors"][1][::-1]
    assert pyr.provenance.convention == "n5-viewer" and len(pyr.levels) == 1
    assert pyr.levels[0].scale == pytest.approx(f)
    np.testing.assert_array_equal(pyr.levels[0].data.compute(), n5_viewer_levels.levels[1])


def test_channels_are_stacked(n5_viewer_channels: Written) -> None:
    pyr = open_pyramid(n5_viewer_channels.path)
    assert pyr.provenance.convention == "n5-viewer"
    assert pyr.axis_names == ("c", "z", "y", "x") and pyr.channel_axis == 0
    assert [c.name for c in pyr.channels] == ["c0", "c1"]
    res = n5_viewer_channels.params["res"][::-1]
    for i, (level, written) in enumerate(zip(pyr.levels, n5_viewer_channels.levels, strict=True)):
        assert level.shape == written.shape
        assert level.grid.chunk_shape[0] == 1
        assert level.scale == pytest.approx([1.0, *(2**i * r for r in res)])
        np.testing.assert_array_equal(level.data.compute(), written)
        key = level.chunk_key((1, 0, 0, 0))
        assert key.startswith("c1/") and (n5_viewer_channels.path / key).is_file()
    assert pyr.units == (None, "micrometer", "micrometer", "micrometer")


def test_mismatched_channels_open_c0_with_warning(
    n5_viewer_channels: Written, tmp_path: Path
) -> None:
    import shutil

    dst = tmp_path / "c.n5"
    shutil.copytree(n5_viewer_channels.path, dst)
    shutil.rmtree(dst / "c1" / "s1")
    pyr = open_pyramid(dst)
    assert pyr.path == "c0" and pyr.channel_axis is None
    assert any("c0" in w and "differ" in w for w in pyr.warnings)


def test_bare_list_pixel_resolution_and_offset(n5_viewer_levels: Written, tmp_path: Path) -> None:
    """``pixelResolution`` as a bare list and Paintera's ``offset`` (edited copy)."""
    import shutil

    dst = tmp_path / "copy.n5"
    shutil.copytree(n5_viewer_levels.path, dst)
    attrs = json.loads((dst / "attributes.json").read_text())
    attrs["pixelResolution"] = [2.0, 3.0, 4.0]
    attrs["offset"] = [10.0, 20.0, 30.0]
    (dst / "attributes.json").write_text(json.dumps(attrs))
    pyr = open_pyramid(dst)
    assert pyr.units == (None, None, None)
    assert pyr.levels[0].scale == pytest.approx([4.0, 3.0, 2.0])
    assert pyr.levels[0].translation == pytest.approx([30.0, 20.0, 10.0])
