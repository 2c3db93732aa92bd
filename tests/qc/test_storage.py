"""Stored / missing chunk counts and stored bytes, exact or sampled (and saying which)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.qc import Cancelled, key_pattern, scan_storage


def test_key_pattern_parses_templates() -> None:
    assert key_pattern("s0/c/{0}/{1}").match("s0/c/3/14").groups() == ("3", "14")
    m = key_pattern("s0/{2}/{1}/{0}").match("s0/7/8/9")
    assert (m["a0"], m["a1"], m["a2"]) == ("9", "8", "7")
    dotted = key_pattern("a.b/{0}.{1}")
    assert dotted.match("a.b/1.2") and not dotted.match("axb/1.2")


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_listing_counts_stored_chunks_exactly(tmp_path: Path, zarr_format: int) -> None:
    path = tmp_path / "a.zarr"
    a = zarr.create_array(path, shape=(10, 10), chunks=(4, 4), dtype="int32",
                          zarr_format=zarr_format, fill_value=0)
    a[:] = np.arange(100, dtype="int32").reshape(10, 10) + 1
    removed = path / ("1.2" if zarr_format == 2 else "c/1/2")
    removed.unlink()
    files = [
        p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "zarr.json"))
    ]
    f = scan_storage(open_pyramid(path).levels[0])
    assert (f.n_chunks, f.stored_chunks, f.missing_chunks) == (9, 8, 1)
    assert f.exact and f.method == "listing"
    assert (1, 2) not in f.stored and (0, 0) in f.stored
    assert f.stored_bytes == sum(p.stat().st_size for p in files)
    assert f.ratio is not None and f.ratio > 0


def test_sharded_counts_inner_chunks_from_shard_indexes(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    a = zarr.create_array(path, shape=(16, 16), chunks=(4, 4), shards=(8, 8), dtype="uint8",
                          fill_value=0)
    a[:8, :8] = 1  # four inner chunks of shard (0, 0)
    a[8:12, 12:16] = 2  # one inner chunk of shard (1, 1)
    f = scan_storage(open_pyramid(path).levels[0])
    assert f.method == "listing + shard indexes" and f.exact
    assert f.stored == frozenset({(0, 0), (0, 1), (1, 0), (1, 1), (2, 3)})
    assert f.n_chunks == 16 and f.missing_chunks == 11


def test_too_many_keys_falls_back_to_sampling(tmp_path: Path) -> None:
    path = tmp_path / "a.zarr"
    a = zarr.create_array(path, shape=(64, 64), chunks=(4, 4), dtype="uint8", fill_value=0)
    a[:32, :] = 5  # half the chunks stored
    f = scan_storage(open_pyramid(path).levels[0], max_keys=10, sample=200)
    assert not f.exact and f.method.startswith("sample of")
    assert f.stored is None
    assert 0.3 < f.stored_chunks / f.n_chunks < 0.7


def test_n5_and_cancel(tmp_path: Path) -> None:
    ts = pytest.importorskip("tensorstore")
    path = tmp_path / "d.n5"
    t = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(path)},
                 "metadata": {"dimensions": [20, 12], "blockSize": [8, 8], "dataType": "uint16",
                              "compression": {"type": "gzip"}}, "create": True}).result()
    t[:8, :8].write(np.ones((8, 8), "uint16")).result()  # N5 order: one block (0, 0)
    t[16:20, 8:12].write(np.ones((4, 4), "uint16")).result()  # block (2, 1)
    level = open_pyramid(path).levels[0]
    f = scan_storage(level)
    assert f.exact and f.n_chunks == 6
    assert f.stored == frozenset({(0, 0), (1, 2)})  # C order: (y, x) = reversed N5 indices
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        scan_storage(level, cancel=cancel)
