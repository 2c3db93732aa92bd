"""The reader inside a real napari viewer (``viewer.open(path, plugin=...)``): layer types,
multiscale, geometry, contrast, channel names and colours, labels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ._support import (
    CHANNELS,
    LABEL_COLORS,
    SCALE_ZYX,
    Written,
    needs_ome_ngff,
    write_zarr_plain,
)

PLUGIN = "napari-chunkview"
ZYX = [SCALE_ZYX[a] for a in "zyx"]


@needs_ome_ngff
def test_ome_ngff_05_multichannel(make_napari_viewer, ome_v05: Written) -> None:  # type: ignore[no-untyped-def]
    from napari.layers import Image

    viewer = make_napari_viewer()
    layers = viewer.open(str(ome_v05.path), plugin=PLUGIN)
    assert [layer.name for layer in layers] == [c["label"] for c in CHANNELS]
    for i, (layer, ch) in enumerate(zip(layers, CHANNELS, strict=True)):
        assert isinstance(layer, Image)
        assert layer.multiscale is True
        assert [d.shape for d in layer.data] == [lv.shape[1:] for lv in ome_v05.levels]
        np.testing.assert_allclose(layer.scale, ZYX)
        assert [str(u) for u in layer.units] == ["micrometer"] * 3
        assert tuple(layer.axis_labels) == ("z", "y", "x")
        assert list(layer.contrast_limits) == [ch["start"], ch["end"]]
        assert layer.visible is ch["active"]
        rgb = [int(ch["color"][k : k + 2], 16) / 255 for k in (0, 2, 4)]
        np.testing.assert_allclose(layer.colormap.colors[-1], [*rgb, 1.0])
        assert layer.source.reader_plugin == PLUGIN
        assert layer.metadata["pyramid"].channels[i].name == ch["label"]
        np.testing.assert_array_equal(np.asarray(layer.data[-1]), ome_v05.levels[-1][i])
    assert tuple(viewer.dims.axis_labels) == ("z", "y", "x")


@needs_ome_ngff
def test_ome_zarr_py_04_with_labels(make_napari_viewer, ome_v04_labels: Written) -> None:  # type: ignore[no-untyped-def]
    from napari.layers import Image, Labels

    viewer = make_napari_viewer()
    layers = viewer.open(str(ome_v04_labels.path), plugin=PLUGIN)
    assert [type(layer) for layer in layers] == [Image, Image, Labels]
    labels = layers[-1]
    assert labels.name == "cells"
    assert labels.multiscale is True and len(labels.data) == 3
    np.testing.assert_allclose(labels.scale, ZYX)  # aligned with the image
    for value, rgba in LABEL_COLORS.items():
        np.testing.assert_allclose(
            labels.colormap.color_dict[value], np.array(rgba) / 255, atol=1e-6
        )
    assert labels.data[0][3, 20, 20] == 1 and labels.data[0][0, 0, 0] == 0


def test_plain_group_contrast_from_coarsest_level(make_napari_viewer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    written = write_zarr_plain(tmp_path / "plain.zarr")
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(written.path), plugin=PLUGIN)
    assert layer.multiscale is True
    coarse = written.levels[-1]
    assert list(layer.contrast_limits) == [float(coarse.min()), float(coarse.max())]
    np.testing.assert_allclose(layer.scale, [1.0, 1.0, 1.0])


def test_a_broken_dataset_gives_one_clear_error(make_napari_viewer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from napari.utils.notifications import notification_manager

    from napari_chunkview import ChunkviewError
    from napari_chunkview._napari._reader import raising_errors

    broken = tmp_path / "broken.zarr"
    broken.mkdir()
    (broken / "zarr.json").write_text("{oops")
    viewer = make_napari_viewer()
    seen = len(notification_manager.records)
    assert viewer.open(str(broken), plugin=PLUGIN) == []  # in napari: a notification
    [note] = notification_manager.records[seen:]
    assert re.search(r"broken\.zarr/zarr\.json: not valid JSON", note.message)
    with raising_errors(), pytest.raises(ChunkviewError, match=r"zarr\.json: not valid JSON"):
        viewer.open(str(broken), plugin=PLUGIN)
    assert len(viewer.layers) == 0
