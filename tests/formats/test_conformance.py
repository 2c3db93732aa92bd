"""Every corpus array with data reads with its ground-truth checksum, through
``open_pyramid`` and through the npe2 reader."""

from __future__ import annotations

import pytest

from napari_chunkview import open_pyramid
from tests.corpus import (
    CORPUS,
    expected_sha256,
    SKIP_REASON,
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


@pytest.mark.parametrize("rec", RECORDS, ids=[r["path"] for r in RECORDS])
def test_npe2_reader_matches_ground_truth(rec: dict) -> None:
    npe2 = pytest.importorskip("npe2")
    pytest.importorskip("napari_chunkview._napari._reader")
    layers = npe2.read([record_path(rec)], stack=False, plugin_name="napari-chunkview")
    assert layers, "the reader returned no layer"
    data, meta, kind = layers[0]
    largest = data[0] if meta.get("multiscale") else data
    arr = largest.compute() if hasattr(largest, "compute") else largest
    assert ground_truth_sha256(arr, rec.get("sha256_kind")) == expected_sha256(rec)
