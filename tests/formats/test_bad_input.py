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
        "zarr_format": 2,
        "shape": [4, 4],
        "chunks": [2, 2],
        "dtype": "<u2",
        "compressor": None,
        "fill_value": 0,
        "filters": None,
        "order": "C",
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
    with pytest.raises(MetadataError, match=r"zarr\.json"):
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
    a = zarr.create_array(
        path, shape=(6, 6), chunks=(2, 2), dtype="uint16", zarr_format=2, compressors=None
    )
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
    with pytest.raises(PermissionError):  # the read-only store refuses zarr-python's write
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


# -- hardening (issue 7): more of the same, at the unit level ----------------------------------
def test_deeply_nested_json_is_a_metadata_error(tmp_path: Path) -> None:
    d = tmp_path / "deep.zarr"
    d.mkdir()
    (d / ".zarray").write_text("[" * 100_000 + "]" * 100_000)  # RecursionError in json
    with pytest.raises(MetadataError, match="not valid JSON"):
        open_pyramid(d)


@pytest.mark.parametrize("field", ["shape", "chunks"])
def test_extents_beyond_int64_are_refused(tmp_path: Path, field: str) -> None:
    d = _v2_array(tmp_path / "a.zarr", **{field: [2**63, 4]})
    with pytest.raises(MetadataError, match=r"2\*\*63"):
        open_pyramid(d)


def test_v3_chunk_edge_zero_is_refused(tmp_path: Path) -> None:
    """zarr-python silently reads a stored chunk edge of 0 as 1: we refuse it."""
    path = tmp_path / "z.zarr"
    zarr.create_array(path, shape=(4, 4), chunks=(2, 2), dtype="uint8", zarr_format=3)
    doc = json.loads((path / "zarr.json").read_text())
    doc["chunk_grid"]["configuration"]["chunk_shape"] = [0, 2]
    (path / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(MetadataError, match="edge below 1"):
        open_pyramid(path)


def _bomb_codecs() -> list[object]:
    """One codec of every id ``bounded_decode`` bounds (default settings), but our
    read-only gzip-or-zlib (it cannot encode; its inflater is gzip's, tested here)."""
    import numcodecs

    from napari_chunkview.formats._inflate import BOUNDED_CODEC_IDS

    ids = [cid for cid in BOUNDED_CODEC_IDS if cid != "chunkview.gzip_or_zlib"]
    return [numcodecs.get_codec({"id": cid}) for cid in ids]


@pytest.mark.parametrize("codec", _bomb_codecs(), ids=lambda c: c.codec_id)
def test_bounded_decode_refuses_bombs_and_keeps_good_chunks(codec: object) -> None:
    import tracemalloc

    from napari_chunkview.formats._inflate import bounded_decode

    good = np.arange(4096, dtype="<u2").tobytes()
    enc = codec.encode(good)  # type: ignore[attr-defined]
    assert bytes(bounded_decode(codec, enc, len(good), exact=True)) == good
    assert bytes(bounded_decode(codec, enc, 10 * len(good))) == good  # an upper bound only
    with pytest.raises(ValueError):
        bounded_decode(codec, enc, len(good) + 1, exact=True)
    bomb = codec.encode(bytes(32 << 20))  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"more than|declares"):
            bounded_decode(codec, bomb, 8192, exact=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # far below the 32 MiB it would inflate to (lzma's decoder dictionary alone is 8 MiB)
    assert peak < 12 << 20, f"{peak / 2**20:.1f} MiB"


def test_local_range_reads_are_clamped(tmp_path: Path) -> None:
    """A hostile shard index asks for 2**62 bytes: we read what the file holds."""
    from zarr.abc.store import RangeByteRequest, SuffixByteRequest

    (tmp_path / "f").write_bytes(b"0123456789")
    root, _ = open_root(tmp_path)
    assert root.fetch([("f", RangeByteRequest(2, 2**62))]) == [b"23456789"]
    assert root.fetch([("f", RangeByteRequest(2**62, 2**62 + 5))]) == [b""]
    assert root.fetch([("f", SuffixByteRequest(2**62))]) == [b"0123456789"]


def test_symlinks_leaving_the_root_are_neither_read_nor_listed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (outside / "sub").mkdir()
    (outside / "sub" / "x").write_bytes(b"x")
    data = tmp_path / "data"
    data.mkdir()
    (data / "real").write_bytes(b"real")
    os.symlink(outside / "secret", data / "file-link")
    os.symlink(outside / "sub", data / "dir-link")
    os.symlink(data / "real", data / "inside-link")
    root, _ = open_root(data)
    got = root.fetch(
        [
            ("real", None),
            ("file-link", None),
            ("dir-link/x", None),
            ("inside-link", None),
            ("nope", None),
        ]
    )
    assert got[0] == b"real" and got[3] == b"real" and got[4] is None
    for refused in got[1:3]:
        assert refused == b"" and "outside the dataset" in refused.reason  # type: ignore[union-attr]
    with pytest.raises(UnsafePathError):
        root.get_json("dir-link/x")
    listed = dict(root.iter_sizes("") or ())
    assert listed == {"real": 4}  # symlinks are not listed, nor followed
    assert list(root.iter_sizes("dir-link") or ()) == []
