"""n5-universe "canonical" metadata on arrays written by tensorstore."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_chunkview import open_pyramid

from .conftest import pyramid_data, ts_n5, z5_root

pytest.importorskip("napari_chunkview.formats.n5")


def test_canonical_multiscales_object(tmp_path: Path) -> None:
    path = tmp_path / "canonical.n5"
    group = z5_root(path).create_group("img")
    levels = pyramid_data((6, 16, 20), 2)
    datasets = []
    for i, data in enumerate(levels):
        f = 2**i
        # row-packed affine over (x, y, z): scale 0.5/0.5/2 um, offset on x
        affine = [0.5 * f, 0, 0, 10.0, 0, 0.5 * f, 0, 0, 0, 0, 2.0 * f, 0]
        st = {"transform": {"type": "affine", "affine": affine}, "unit": "um"}
        ts_n5(path / "img" / f"s{i}", data, (3, 8, 8), {})
        datasets.append({"path": f"s{i}", "spatialTransform": st})
    group.attrs["multiscales"] = {"path": "", "datasets": datasets}
    group.attrs["intensityLimits"] = {"min": 12, "max": 357}
    pyr = open_pyramid(path / "img")
    assert pyr.provenance.convention == "n5-universe canonical"
    assert pyr.axis_names == ("z", "y", "x") and pyr.units == ("micrometer",) * 3
    for level, ds, written in zip(pyr.levels, datasets, levels, strict=True):
        a = ds["spatialTransform"]["transform"]["affine"]
        assert level.scale == pytest.approx([a[10], a[5], a[0]])
        assert level.translation == pytest.approx([a[11], a[7], a[3]])
        np.testing.assert_array_equal(level.data.compute(), written)
    assert pyr.channels[0].window == (12.0, 357.0)


def test_canonical_array_with_channel_axis(tmp_path: Path) -> None:
    """``axes`` name every array axis (N5 order); the affine acts on the space axes."""
    path = tmp_path / "cxy.n5"
    z5_root(path)
    data = pyramid_data((5, 7, 2), 1, spatial=2)[0]  # C order: y, x, c
    st = {
        "transform": {"type": "affine", "affine": [2, 0, 1, 0, 3, 0]},
        "axes": [
            {"type": "channel", "name": "c", "unit": "none"},
            {"type": "space", "name": "x", "unit": "nm"},
            {"type": "space", "name": "y", "unit": "nm"},
        ],
    }
    ts_n5(path / "cxy", data, (5, 7, 2), {"spatialTransform": st})
    pyr = open_pyramid(path / "cxy")
    assert pyr.axis_names == ("y", "x", "c") and pyr.channel_axis == 2
    assert pyr.units == ("nanometer", "nanometer", None)
    assert pyr.levels[0].scale == (3.0, 2.0, 1.0) and pyr.levels[0].translation == (0.0, 1.0, 0.0)
    np.testing.assert_array_equal(pyr.levels[0].data.compute(), data)
