"""Bad input gives a clear error of our own (or a flagged chunk), never a crash, never a
read outside the root, never a write into it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import (
    ChunkviewError,
    MetadataError,
    NotRecognisedError,
    UnsafePathError,
    UnsupportedError,
    open_pyramid,
)
from napari_chunkview.formats import join_path, open_root
from napari_chunkview.loading import LevelArray


def _v2_array(path: Path, **zarray: object) -> Path:
    path.mkdir(parents=True)
    doc = {
        "zarr_format": 2, "shape": [4, 4], "chunks": [2, 2], "dtype": "<u2",
        "compressor": None, "fill_value": 0, "filters": None, "order": "C",
    }
    doc.update(zarray)
    (path / ".zarray").write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "text",
    ["{", "[1, 2]", "null", '"shape"', "\xff\xfe garbage", '{"zarr_format": 2, "shape": '],
)
def test_malformed_json_is_a_metadata_error(tmp_path: Path, text: str) -> None:
    d = tmp_path / "bad.zarr"
    d.mkdir()
    (d / ".zarray").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(MetadataError, match=r"\.zarray"):
        open_pyramid(d)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shape", "4,4"),
        ("shape", [4.5, 4]),
        ("shape", [-4, 4]),
        ("chunks", [0, 2]),
        ("chunks", [2]),
        ("dtype", "<q9"),
        ("dtype", 7),
    ],
)
def test_wrong_types_are_metadata_errors(tmp_path: Path, field: str, value: object) -> None:
    d = _v2_array(tmp_path / "a.zarr", **{field: value})
    with pytest.raises(MetadataError) as info:
        open_pyramid(d)
    assert "a.zarr" in str(info.value)


def test_unknown_codec_is_unsupported_and_named(tmp_path: Path) -> None:
    d = _v2_array(tmp_path / "a.zarr", compressor={"id": "no-such-codec"})
    with pytest.raises(UnsupportedError, match="no-such-codec"):
        open_pyramid(d)


def test_v3_bad_metadata(tmp_path: Path) -> None:
    d = tmp_path / "v3.zarr"
    d.mkdir()
    (d / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "array", "shape": [4]}))
    with pytest.raises(MetadataError, match="zarr.json"):
        open_pyramid(d)
    (d / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "banana"}))
    with pytest.raises(MetadataError, match="node_type"):
        open_pyramid(d)


def test_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hello")
    with pytest.raises(NotRecognisedError):
        open_pyramid(tmp_path / "plain")
    with pytest.raises(FileNotFoundError):
        open_pyramid(tmp_path / "missing")


def test_absurd_shapes_open_lazily(tmp_path: Path) -> None:
    d = _v2_array(tmp_path / "big.zarr", shape=[2**40, 2**40, 2**40], chunks=[1, 1, 1])
    pyr = open_pyramid(d)
    assert pyr.levels[0].shape == (2**40,) * 3
    assert all(n <= 1 << 16 for n in pyr.levels[0].data.numblocks)
    # napari's read path slices exactly what it asks for
    assert np.asarray(pyr.levels[0].array[7, 7, 3:5]).tolist() == [0, 0]
    # dask reads whole blocks: an absurd block is refused clearly, not with a MemoryError
    with pytest.raises(ChunkviewError, match="refusing to read"):
        pyr.levels[0].data[7, 7, 3:5].compute()


@pytest.mark.parametrize(
    "rel", ["../x", "a/../../x", "/etc/passwd", "http://evil/x", "file:///etc", "C:\\x", "~/x"]
)
def test_join_path_refuses_escapes(rel: str) -> None:
    with pytest.raises(UnsafePathError):
        join_path("group", rel)


def test_join_path_normalises() -> None:
    assert join_path("a", "./s0/") == "a/s0"
    assert join_path("", "s0") == "s0"


def test_corrupt_chunk_is_flagged_and_the_rest_reads(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    a = zarr.create_array(path, shape=(6, 6), chunks=(2, 2), dtype="uint16", zarr_format=2,
                          compressors=None)
    a[:] = np.arange(36, dtype="uint16").reshape(6, 6) + 1
    (path / "1.1").write_bytes(b"garbage")  # wrong size for a raw 2x2 uint16 chunk
    pyr = open_pyramid(path)
    out = pyr.levels[0].data.compute()
    expected = np.arange(36, dtype="uint16").reshape(6, 6) + 1
    expected[2:4, 2:4] = 0  # the fill value
    np.testing.assert_array_equal(out, expected)
    la = LevelArray(pyr.levels[0].source, "c")
    np.asarray(la[...])
    assert list(la.failures) == [(1, 1)]


def test_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "w.zarr"
    a = zarr.create_array(path, shape=(4,), chunks=(2,), dtype="uint8", zarr_format=3)
    a[:] = 1
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in path.rglob("*") if p.is_file()}
    pyr = open_pyramid(path)
    pyr.levels[0].data.compute()
    src = pyr.levels[0].source
    with pytest.raises(Exception):  # zarr-python refuses to write a read-only array
        src.array[:] = 2  # type: ignore[attr-defined]
    root, _ = open_root(path)
    import asyncio

    from zarr.core.buffer import default_buffer_prototype

    buf = default_buffer_prototype().buffer.from_bytes(b"x")
    with pytest.raises(PermissionError):
        asyncio.run(root.store.set("zarr.json", buf))
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in path.rglob("*") if p.is_file()}
    assert before == after


def test_errors_are_ours(tmp_path: Path) -> None:
    d = _v2_array(tmp_path / "x.zarr", shape="nope")
    with pytest.raises(ChunkviewError):
        open_pyramid(d)
    assert os.path.exists(d / ".zarray")
