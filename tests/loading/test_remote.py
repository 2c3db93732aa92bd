"""http(s):// and s3:// go through the same adapters and read byte-identical data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import NotRecognisedError, open_pyramid
from napari_chunkview.loading import ChunkCache, ChunkEvent, EventStream, LevelArray

from .._s3 import upload_tree


def _write_pyramid(folder: Path) -> Path:
    path = folder / "p.zarr"
    g = zarr.open_group(path, mode="w", zarr_format=3)
    rng = np.random.default_rng(1)
    for i, n in enumerate((64, 32, 16)):
        a = g.create_array(f"s{i}", shape=(4, n, n), chunks=(1, 8, 8), shards=(2, 16, 16),
                           dtype="uint16")
        a[:] = rng.integers(0, 60000, (4, n, n), dtype="uint16")
    a = g["s0"]
    return path


def _assert_same(local: Path, url: str, **opts: object) -> None:
    lp = open_pyramid(local)
    rp = open_pyramid(url, **opts)
    assert [lv.shape for lv in rp.levels] == [lv.shape for lv in lp.levels]
    assert rp.provenance.convention == lp.provenance.convention
    for lv_l, lv_r in zip(lp.levels, rp.levels, strict=True):
        assert lv_r.source.has_fast_path  # type: ignore[attr-defined]
        np.testing.assert_array_equal(lv_r.data.compute(), lv_l.data.compute())


def test_http_reads_byte_identical(http_root: tuple[Path, str]) -> None:
    folder, base = http_root
    local = _write_pyramid(folder)
    _assert_same(local, f"{base}/p.zarr")


def test_http_view_reads_only_its_chunks(http_root: tuple[Path, str]) -> None:
    folder, base = http_root
    _write_pyramid(folder)
    src = open_pyramid(f"{base}/p.zarr").levels[0].source
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = LevelArray(src, "remote/s0", ChunkCache(1 << 20), stream)
    np.asarray(la[1, 8:24, 0:8])
    assert sorted(e.index for e in events if e.kind == "done") == [(1, 1, 0), (1, 2, 0)]


def test_http_missing_dataset_is_a_clear_error(http_root: tuple[Path, str]) -> None:
    _, base = http_root
    with pytest.raises(NotRecognisedError, match=r"nope\.zarr"):
        open_pyramid(f"{base}/nope.zarr")


def test_s3_reads_byte_identical(s3_endpoint: str, tmp_path: Path) -> None:
    pytest.importorskip("s3fs")
    local = _write_pyramid(tmp_path)
    upload_tree(s3_endpoint, "bucket", local)
    _assert_same(local, "s3://bucket/p.zarr", client_kwargs={"endpoint_url": s3_endpoint})


def test_s3_n5_reads_byte_identical(s3_endpoint: str, tmp_path: Path) -> None:
    pytest.importorskip("s3fs")
    corpus = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
    src = corpus / "napari-n5" / "data" / "n5viewer.n5"
    if not src.is_dir():
        pytest.skip("conformance corpus not found beside the repo")
    local = tmp_path / "n5viewer.n5"
    shutil.copytree(src, local)
    upload_tree(s3_endpoint, "bucket", local)
    _assert_same(local, "s3://bucket/n5viewer.n5", client_kwargs={"endpoint_url": s3_endpoint})
