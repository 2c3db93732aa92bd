"""N5 read through the ``N5`` adapter and the ``chunkview.n5`` block codec, on blocks
written by real writers (tensorstore, z5py) and by n5-java (corpus copies).

Axis order, once for all tests here: ``expected`` is always the array in C order
(…, z, y, x), the view the plugin must show. tensorstore's n5 driver exposes an N5
dataset in *N5 order* (shape == ``dimensions``, x first), so we hand it ``expected.T``;
z5py exposes the reversed (C) order, so it gets ``expected`` as is. Either way the block
files on disk are the same, and ``open_pyramid(...).levels[0].data`` must equal
``expected``.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorstore as ts

from napari_chunkview import MetadataError, UnsupportedError, open_pyramid
from napari_chunkview.formats import open_node
from napari_chunkview.formats._n5_codec import N5BlockCodec
from napari_chunkview.loading import LevelArray
from tests.corpus import CORPUS, SKIP_REASON

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=SKIP_REASON)

#: C-order shape and chunk shape: no axis is a multiple of its chunk (edge blocks).
SHAPE = (5, 7, 9)
CHUNKS = (2, 3, 4)

TS_COMPRESSIONS: list[dict[str, Any]] = [
    {"type": "raw"},
    {"type": "gzip"},
    {"type": "gzip", "useZlib": True},
    {"type": "bzip2"},
    {"type": "xz"},
    {"type": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1},
    {"type": "zstd"},
]


def _expected(dtype: str = "uint16", seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is None:
        return rng.standard_normal(SHAPE).astype(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 60000), SHAPE).astype(dtype)


def ts_write(path: Path, expected: np.ndarray, compression: dict[str, Any],
             region: tuple[slice, ...] | None = None) -> None:
    """Write ``expected`` (C order) with tensorstore's n5 driver; only ``region`` (C
    order) when given, so blocks outside it are never written."""
    store = ts.open(
        {
            "driver": "n5",
            "kvstore": {"driver": "file", "path": str(path)},
            "metadata": {
                "dimensions": list(expected.shape[::-1]),
                "blockSize": list(CHUNKS[::-1]),
                "dataType": expected.dtype.name,
                "compression": compression,
            },
            "create": True,
        }
    ).result()
    region = region or tuple(slice(None) for _ in expected.shape)
    store[region[::-1]] = expected[region].T  # tensorstore indexes in N5 order


def level0(path: Path | str) -> Any:
    return open_pyramid(path).levels[0]


@pytest.mark.parametrize("compression", TS_COMPRESSIONS, ids=lambda c: json.dumps(c))
def test_tensorstore_written_reads_back(tmp_path: Path, compression: dict[str, Any]) -> None:
    expected = _expected()
    ts_write(tmp_path / "a", expected, compression)
    lv = level0(tmp_path / "a")
    assert lv.shape == SHAPE and lv.grid.chunk_shape == CHUNKS
    assert lv.dtype == np.dtype("uint16")  # native byte order for napari
    np.testing.assert_array_equal(lv.data.compute(), expected)
    assert lv.codecs[1].name == compression["type"]


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "uint64", "float32", "float64"])
def test_data_types(tmp_path: Path, dtype: str) -> None:
    expected = _expected(dtype, seed=3)
    ts_write(tmp_path / "a", expected, {"type": "gzip"})
    lv = level0(tmp_path / "a")
    assert lv.dtype == np.dtype(dtype)  # native byte order
    np.testing.assert_array_equal(lv.data.compute(), expected)


def test_missing_blocks_read_as_zero(tmp_path: Path) -> None:
    full = _expected()
    region = (slice(0, 2), slice(0, 3), slice(0, 8))  # blocks (0,0,0) and (0,0,1) only
    expected = np.zeros_like(full)
    expected[region] = full[region]
    ts_write(tmp_path / "a", full, {"type": "gzip"}, region)
    lv = level0(tmp_path / "a")
    stored = [p for p in (tmp_path / "a").rglob("*") if p.is_file() and p.name != "attributes.json"]
    assert len(stored) == 2
    assert not (tmp_path / "a" / lv.chunk_key((2, 2, 2))).exists()
    np.testing.assert_array_equal(lv.data.compute(), expected)


def test_keys_are_n5_order(tmp_path: Path) -> None:
    container = tmp_path / "c.n5"
    ts_write(container / "s0", _expected(), {"type": "raw"})
    pyr = open_pyramid(container)  # implicit root group (no root attributes.json)
    lv = pyr.levels[0]
    assert lv.chunk_key((2, 1, 0)) == "s0/0/1/2"
    assert lv.key_template == "s0/{2}/{1}/{0}"
    assert lv.key_encoding == "N5 '/' (axes reversed)"
    assert (container / lv.chunk_key((2, 2, 2))).is_file()  # the last (edge) block


@pytest.mark.parametrize("compression", ["raw", "gzip", "bzip2", "xz", "lz4", "blosc", "zstd"])
def test_z5py_written_truncated_edge_blocks(tmp_path: Path, compression: str) -> None:
    z5 = pytest.importorskip("z5py")
    expected = _expected(seed=1)
    f = z5.File(str(tmp_path / "z.n5"), mode="w", use_zarr_format=False)
    ds = f.create_dataset("a", shape=SHAPE, chunks=CHUNKS, dtype="uint16", compression=compression)
    ds[:] = expected  # z5py takes C order
    edge = (tmp_path / "z.n5" / "a" / "2" / "2" / "2").read_bytes()
    # z5py truncates edge blocks: header dims (N5 order) are 9-8, 7-6, 5-4
    assert struct.unpack(">HH3I", edge[:16]) == (0, 3, 1, 1, 1)
    np.testing.assert_array_equal(level0(tmp_path / "z.n5" / "a").data.compute(), expected)
    node = open_node(tmp_path / "z.n5")
    assert node.kind == "group" and node.axes_reversed and node.children() == ["a"]
    assert node.attrs.get("n5")


def _tensorstore_read_c_order(path: Path) -> np.ndarray:
    store = ts.open({"driver": "n5", "kvstore": {"driver": "file", "path": str(path)}}).result()
    return np.asarray(store.read().result()).T  # N5 order → C order


@needs_corpus
def test_n5_java_lz4_matches_raw(tmp_path: Path) -> None:
    base = CORPUS / "zarr_implementations/data/n5-java.n5"
    truth = _tensorstore_read_c_order(base / "raw")  # tensorstore cannot read lz4
    assert truth.shape == (512, 512, 3)
    np.testing.assert_array_equal(level0(base / "lz4").data.compute(), truth)


@needs_corpus
def test_legacy_compression_type(tmp_path: Path) -> None:
    src = CORPUS / "saalfeldlab-n5/src/test/resources/backward"
    shutil.copytree(src / "data-1.5.0.n5", tmp_path / "old.n5")
    truth = _tensorstore_read_c_order(src / "data-2.5.1.n5/raw")  # same data, N5 2.5.1
    lv = level0(tmp_path / "old.n5" / "raw")
    np.testing.assert_array_equal(lv.data.compute(), truth)
    assert lv.codecs[1].name == "raw"
    assert "compressionType" in open_pyramid(tmp_path / "old.n5" / "raw").provenance.format_details


def test_legacy_compression_type_gzip(tmp_path: Path) -> None:
    expected = _expected()
    ts_write(tmp_path / "a", expected, {"type": "gzip"})
    attrs = json.loads((tmp_path / "a/attributes.json").read_text())
    attrs["compressionType"] = attrs.pop("compression")["type"]
    (tmp_path / "a/attributes.json").write_text(json.dumps(attrs))
    np.testing.assert_array_equal(level0(tmp_path / "a").data.compute(), expected)


def _broken(tmp_path: Path, block: tuple[int, int, int], data: bytes) -> tuple[Any, np.ndarray]:
    """A raw dataset whose block at C index ``block`` is replaced by ``data``."""
    expected = _expected()
    ts_write(tmp_path / "a", expected, {"type": "raw"})
    lv = level0(tmp_path / "a")
    (tmp_path / "a" / lv.chunk_key(block)).write_bytes(data)
    box = lv.grid.chunk_box(block)
    expected[tuple(slice(a, b) for a, b in box)] = 0
    return lv, expected


def test_varlength_block_is_flagged_and_filled(tmp_path: Path) -> None:
    payload = np.arange(24, dtype=">u2").tobytes()
    varlength = struct.pack(">HH3II", 1, 3, 4, 3, 2, 24) + payload  # mode 1 + element count
    lv, expected = _broken(tmp_path, (1, 1, 1), varlength)
    la = LevelArray(lv.source, "a")
    np.testing.assert_array_equal(la[...], expected)
    assert list(la.failures) == [(1, 1, 1)]
    assert "varlength" in la.failures[(1, 1, 1)]
    np.testing.assert_array_equal(lv.data.compute(), expected)  # the dask path never raises
    codec = N5BlockCodec({"type": "raw"}, [2, 3, 4], ">u2")
    with pytest.raises(UnsupportedError, match="varlength"):
        codec.decode(varlength)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00",  # shorter than a header
        struct.pack(">HH3I", 0, 3, 4, 3, 2) + b"\x00" * 7,  # payload too short
        struct.pack(">HH3I", 0, 3, 4, 3, 2) + b"\x00" * 49,  # payload too long
        struct.pack(">HH3I", 0, 3, 5, 3, 2) + b"\x00" * 60,  # dims exceed blockSize
        struct.pack(">HH2I", 0, 2, 4, 3) + b"\x00" * 24,  # wrong rank
        struct.pack(">HH3I", 7, 3, 4, 3, 2) + b"\x00" * 48,  # unknown mode
    ],
    ids=["short-header", "short-payload", "long-payload", "too-big", "rank", "mode"],
)
def test_corrupt_raw_block_is_flagged(tmp_path: Path, data: bytes) -> None:
    lv, expected = _broken(tmp_path, (0, 1, 0), data)
    la = LevelArray(lv.source, "a")
    np.testing.assert_array_equal(la[...], expected)
    assert list(la.failures) == [(0, 1, 0)]


def test_truncated_gzip_block_is_flagged(tmp_path: Path) -> None:
    expected = _expected()
    ts_write(tmp_path / "a", expected, {"type": "gzip"})
    lv = level0(tmp_path / "a")
    block = tmp_path / "a" / lv.chunk_key((1, 0, 1))
    block.write_bytes(block.read_bytes()[:30])
    expected[2:4, 0:3, 4:8] = 0
    la = LevelArray(lv.source, "a")
    np.testing.assert_array_equal(la[...], expected)
    assert list(la.failures) == [(1, 0, 1)]


def test_decompression_is_bounded() -> None:
    """A small block whose gzip payload inflates to far more than the header says."""
    bomb = zlib.compress(b"\x00" * (64 << 20))
    codec = N5BlockCodec({"type": "gzip"}, [2, 3, 4], ">u2")
    with pytest.raises(ValueError, match="more than 48 bytes"):
        codec.decode(struct.pack(">HH3I", 0, 3, 4, 3, 2) + bomb)


def _dataset(tmp_path: Path, **attrs: Any) -> Path:
    d = tmp_path / "d"
    d.mkdir(exist_ok=True)
    doc = {"dimensions": [9, 7], "blockSize": [4, 3], "dataType": "uint16",
           "compression": {"type": "raw"}}
    doc.update(attrs)
    (d / "attributes.json").write_text(json.dumps({k: v for k, v in doc.items() if v is not None}))
    return d


def test_object_data_type_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="object"):
        open_pyramid(_dataset(tmp_path, dataType="object"))


def test_unknown_compression_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="snappy"):
        open_pyramid(_dataset(tmp_path, compression={"type": "snappy"}))


@pytest.mark.parametrize(
    "attrs",
    [
        {"dimensions": "9,7"},
        {"dimensions": [9.5, 7]},
        {"blockSize": [4]},
        {"blockSize": [0, 3]},
        {"blockSize": None},
        {"dataType": "uint12"},
        {"compression": "gzip"},
        {"compression": None},
        {"dimensions": [2**40, 2**40], "blockSize": [2**20, 2**20]},  # > 2 GB blocks
    ],
    ids=lambda a: json.dumps(a),
)
def test_bad_dataset_attributes_are_metadata_errors(tmp_path: Path, attrs: dict) -> None:
    with pytest.raises(MetadataError, match=r"attributes\.json"):
        open_pyramid(_dataset(tmp_path, **attrs))


@pytest.mark.parametrize("text", ["{", "[1, 2]", '"n5"', "\xff garbage"])
def test_malformed_attributes_json(tmp_path: Path, text: str) -> None:
    d = tmp_path / "x.n5"
    d.mkdir()
    (d / "attributes.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(MetadataError, match=r"attributes\.json"):
        open_pyramid(d)


def test_zarr_dirs_are_not_claimed(tmp_path: Path) -> None:
    from napari_chunkview.formats import open_root
    from napari_chunkview.formats.n5 import N5

    d = tmp_path / "looks.n5"
    d.mkdir()
    (d / ".zgroup").write_text('{"zarr_format": 2}')
    root, _ = open_root(d)
    assert not N5().sniff(root, "")
    assert open_node(d).format == "zarr v2"


def test_implicit_groups(tmp_path: Path) -> None:
    container = tmp_path / "c.n5"
    ts_write(container / "g" / "s0", _expected(), {"type": "raw"})
    node = open_node(container)
    assert node.format == "N5" and node.kind == "group" and node.attrs == {}
    assert node.children() == ["g"]
    g = node.child("g")
    assert g is not None and g.kind == "group" and g.children() == ["s0"]
    s0 = g.child("s0")
    assert s0 is not None and s0.kind == "array" and s0.children() == []
    assert s0.attrs["dimensions"] == [9, 7, 5] and s0.axes_reversed
    assert node.child("nothing") is None


def test_reads_report_real_block_keys(tmp_path: Path) -> None:
    """zarr-python asks for C-order keys under a virtual path; the store reads (and reports)
    the N5 block files, and a real block key maps to itself."""
    from napari_chunkview.formats import ReadEvent, open_root

    container = tmp_path / "c.n5"
    ts_write(container / "s0", _expected(), {"type": "gzip"})
    root, _ = open_root(container)
    reads: list[ReadEvent] = []
    root.add_listener(reads.append)
    lv = open_pyramid(root).levels[0]
    lv.data.compute()
    blocks = {p.relative_to(container).as_posix() for p in (container / "s0").rglob("*")
              if p.is_file() and p.name != "attributes.json"}
    assert {r.key for r in reads if not r.metadata} == blocks
    for idx in [(0, 0, 0), (2, 1, 0), (0, 2, 1)]:
        key = lv.chunk_key(idx)
        assert root.map_key(key) == key and key in blocks


def test_per_chunk_fast_path_agrees(tmp_path: Path) -> None:
    """If the source offers fetch + decode (the loading layer's per-chunk path), they
    give the same chunks as the zarr-python read."""
    expected = _expected()
    ts_write(tmp_path / "a", expected, {"type": "zstd"})
    src = level0(tmp_path / "a").source
    if not getattr(src, "has_fast_path", False):
        pytest.skip("this source has no per-chunk fast path")
    idx = [(0, 0, 0), (2, 2, 2), (1, 0, 1)]
    for i, raw in zip(idx, src.fetch(idx), strict=True):
        box = src.grid.chunk_box(i)
        chunk = src.decode(i, raw)[tuple(slice(0, b - a) for a, b in box)]
        np.testing.assert_array_equal(chunk, expected[tuple(slice(a, b) for a, b in box)])
