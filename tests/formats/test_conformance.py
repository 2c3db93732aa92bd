"""Every corpus array with data reads with its ground-truth checksum, through
``open_pyramid`` and through the npe2 reader."""

from __future__ import annotations

import os

import numpy as np
import pytest

from napari_chunkview import open_pyramid
from tests.corpus import (
    CORPUS,
    SKIP_REASON,
    expected_sha256,
    ground_truth_sha256,
    record_path,
    records_with_data,
)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=SKIP_REASON),
]

RECORDS = records_with_data()


@pytest.mark.parametrize("rec", RECORDS, ids=[r["path"] for r in RECORDS])
def test_open_pyramid_matches_ground_truth(rec: dict) -> None:
    pyr = open_pyramid(record_path(rec))
    level = pyr.levels[0]
    data = level.data.compute()
    assert data.shape == tuple(level.shape)
    if rec["format"] == "N5":
        assert list(data.shape) == list(rec["shape"])[::-1]  # C order view
    else:
        assert list(data.shape) == list(rec["shape"])
    assert ground_truth_sha256(data, rec.get("sha256_kind")) == expected_sha256(rec)


def _is_text(path: str) -> bool:
    """Strings, bytes and objects: data napari cannot show as an image."""
    return open_pyramid(path).dtype.kind not in "biuf"


@pytest.fixture(scope="module")
def npe2_discovered() -> None:
    """napari discovers plugins at start-up; a bare ``npe2.read`` needs it done once."""
    npe2 = pytest.importorskip("npe2")
    npe2.PluginManager.instance().discover()


@pytest.mark.parametrize("rec", RECORDS, ids=[r["path"] for r in RECORDS])
def test_npe2_reader_matches_ground_truth(rec: dict, npe2_discovered: None) -> None:
    """Through napari's plugin machinery. Paths inside a zip file or a zarr v3 draft
    container are not on disk, and napari/npe2 route only real paths (a user drops the
    ``.zarr.zip`` or the container); those go through our reader function directly.
    String and object arrays are not images: the reader refuses them clearly."""
    import npe2

    from napari_chunkview import UnsupportedError
    from napari_chunkview._napari import read_pyramids

    path = record_path(rec)
    on_disk = os.path.exists(path)
    if _is_text(path):
        with pytest.raises(UnsupportedError, match="napari"):
            read_pyramids(path)
        return
    if on_disk:
        layers = npe2.read([path], stack=False, plugin_name="napari-chunkview")
    else:
        layers = read_pyramids(path)
    assert layers, "the reader returned no layer"
    data, meta, _kind = layers[0]
    largest = data[0] if meta.get("multiscale") else data
    arr = np.asarray(largest[...])
    assert ground_truth_sha256(arr, rec.get("sha256_kind")) == expected_sha256(rec)
