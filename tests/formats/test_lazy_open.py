"""Opening reads metadata only: no chunk, whatever the size of the pyramid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.formats import ReadEvent, open_root


@pytest.fixture
def huge_plain_pyramid(tmp_path: Path) -> Path:
    """A zarr v3 group s0…s2 with 2**21 chunks at level 0; one chunk actually stored."""
    root = tmp_path / "huge.zarr"
    g = zarr.open_group(root, mode="w", zarr_format=3)
    for i, n in enumerate((4096, 2048, 1024)):
        a = g.create_array(f"s{i}", shape=(n // 4, n, n), chunks=(8, 32, 32), dtype="uint16")
        if i == 0:
            a[:8, :32, :32] = np.arange(8 * 32 * 32, dtype="uint16").reshape(8, 32, 32)
    return root


def test_open_reads_no_chunk(huge_plain_pyramid: Path) -> None:
    root, _ = open_root(huge_plain_pyramid)
    reads: list[ReadEvent] = []
    root.add_listener(reads.append)
    pyr = open_pyramid(root)
    level0 = pyr.levels[0]
    assert level0.grid.n_chunks > 10**6
    assert [lv.shape for lv in pyr.levels] == [
        (1024, 4096, 4096), (512, 2048, 2048), (256, 1024, 1024)
    ]
    assert reads, "the listener saw no read at all"
    chunk_reads = [r.key for r in reads if not r.metadata]
    assert chunk_reads == []
    # dask graphs stay lazy and small to build
    assert level0.data.shape == level0.shape
    assert level0.data.numblocks[0] <= 1 << 16

    # and the first read touches exactly the stored chunk it needs
    reads.clear()
    block = np.asarray(level0.data[0:8, 0:32, 0:32])
    assert block.sum() == np.arange(8 * 32 * 32, dtype="uint16").sum()
    keys = sorted({r.key for r in reads if not r.metadata})
    assert keys and all(k.startswith("s0/c/") for k in keys)


def test_terabyte_metadata_only_array_opens(tmp_path: Path) -> None:
    a = zarr.create_array(
        tmp_path / "tb.zarr", shape=(2**20, 2**20, 2**10), chunks=(64, 64, 64), dtype="uint8"
    )
    assert a.nbytes >= 2**50
    pyr = open_pyramid(tmp_path / "tb.zarr")
    lv = pyr.levels[0]
    assert lv.shape == (2**20, 2**20, 2**10)
    assert lv.logical_nbytes == 2**50
    assert np.asarray(lv.data[5, 5, :4]).tolist() == [0, 0, 0, 0]
