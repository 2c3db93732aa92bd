"""COSEM / Janelia (fibsem-tools) multiscale groups."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.formats.conventions.cosem import is_cosem_multiscales

from .conftest import Written


def test_cosem_n5(cosem_n5: Written) -> None:
    pytest.importorskip("napari_chunkview.formats.n5")
    pyr = open_pyramid(cosem_n5.path)
    assert pyr.provenance.convention == "COSEM"
    assert "transform" in pyr.provenance.reason
    tfs = cosem_n5.params["transforms"]
    assert pyr.axis_names == tuple(tfs[0]["axes"])
    assert [a.type for a in pyr.axes] == ["space"] * 3
    assert [lv.shape for lv in pyr.levels] == [w.shape for w in cosem_n5.levels]
    assert pyr.units == ("nanometer",) * 3
    for level, tf, written in zip(pyr.levels, tfs, cosem_n5.levels, strict=True):
        assert level.scale == pytest.approx(tf["scale"])
        assert level.translation == pytest.approx(tf["translate"])
        np.testing.assert_array_equal(level.data.compute(), written)


def test_cosem_per_level_transforms(cosem_n5: Written, tmp_path: Path) -> None:
    """Without the group's ``multiscales``, each level's own ``transform`` is used."""
    pytest.importorskip("napari_chunkview.formats.n5")
    dst = tmp_path / "levels.n5"
    shutil.copytree(cosem_n5.path.parent, dst)
    (dst / "em" / "attributes.json").write_text("{}")
    pyr = open_pyramid(dst / "em")
    assert pyr.provenance.convention == "COSEM" and len(pyr.levels) == 3
    for level, tf in zip(pyr.levels, cosem_n5.params["transforms"], strict=True):
        assert level.scale == pytest.approx(tf["scale"])


def test_cosem_f_ordering_in_zarr(tmp_path: Path) -> None:
    """``ordering: "F"`` lists axes fastest first; detection is by keys, in zarr too."""
    data = np.arange(4 * 6 * 8, dtype="uint8").reshape(4, 6, 8)
    tf = {
        "axes": ["x", "y", "z"],
        "scale": [1.0, 2.0, 3.0],
        "translate": [0.5, 0.0, 0.0],
        "units": ["nm", "nm", "um"],
        "ordering": "F",
    }
    root = zarr.open_group(
        tmp_path / "c.zarr",
        mode="w",
        zarr_format=2,
        attributes={"multiscales": [{"datasets": [{"path": "s0", "transform": tf}]}]},
    )
    root.create_array("s0", data=data, chunks=(2, 3, 4))
    pyr = open_pyramid(tmp_path / "c.zarr")
    assert pyr.provenance.convention == "COSEM"
    assert pyr.axis_names == ("z", "y", "x")
    assert pyr.units == ("micrometer", "nanometer", "nanometer")
    assert pyr.levels[0].scale == (3.0, 2.0, 1.0) and pyr.levels[0].translation == (0.0, 0.0, 0.5)
    np.testing.assert_array_equal(pyr.levels[0].data.compute(), data)


def test_cosem_does_not_steal_ngff(ngff04_labels: Written) -> None:
    attrs = json.loads((ngff04_labels.path / ".zattrs").read_text())
    assert not is_cosem_multiscales(attrs["multiscales"])
    assert open_pyramid(ngff04_labels.path).provenance.convention == "OME-NGFF 0.4"
