"""Thin reads through big chunks with the compiled reader (``formats/_bulk_kernel``
``_read_span``): a z-plane decodes only the blosc blocks that hold it. The values equal
what zarr-python wrote, whatever the plane, codec, shuffle, dtype or block layout; a chunk
that is not right (a corrupt block table, a truncated file, a bomb) is left to the
per-chunk path, which flags it."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
from zarr.codecs import BloscCodec

from napari_chunkview import open_pyramid
from napari_chunkview.formats import _bulk
from napari_chunkview.loading import ChunkCache, LevelArray, settle
from tests.loading.test_compiled_reads import _write

pytestmark = pytest.mark.usefixtures("compiled_reader")


class _Spy:
    """A LevelArray with its own cache, recording each compiled read's statuses and any
    box read by tensorstore."""

    def __init__(self, path: Path) -> None:
        lv = open_pyramid(path).levels[0]
        self.arr = LevelArray(
            lv.source, name=f"t{os.urandom(4).hex()}", cache=ChunkCache(256 << 20)
        )
        assert self.arr._thin_compiled
        self.statuses: list[np.ndarray] = []
        self.boxes = 0
        src = self.arr.source
        bulk, stored = src.read_bulk, src.read_stored

        def spy_bulk(*a: Any, **k: Any) -> Any:
            got = bulk(*a, **k)
            if got is not None:
                self.statuses.append(got[0].copy())
            return got

        def spy_stored(*a: Any, **k: Any) -> Any:
            self.boxes += 1
            return stored(*a, **k)

        src.read_bulk = spy_bulk  # type: ignore[method-assign]
        src.read_stored = spy_stored  # type: ignore[method-assign]

    def read(self, sel: Any) -> np.ndarray:
        """Read ``sel`` from an empty cache (so that the thin path runs)."""
        settle()
        self.arr.cache.clear()
        return np.asarray(self.arr[sel])


def _values(shape: tuple[int, ...], dtype: str, seed: int = 3) -> np.ndarray:
    """Smooth values that blosc compresses (a memcpyed chunk is read whole)."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape).sum(axis=0)
    return ((grid % 251) + rng.integers(0, 4, size=shape)).astype(dtype)


CASES = [
    # 40x64x64 uint16 = 320 KiB: blocks of 256 KiB and a leftover block
    ("uint16", (80, 130, 100), (40, 64, 64), {"zarr_format": 2, "compressors": numcodecs.Blosc(
        "lz4", 5, numcodecs.Blosc.SHUFFLE)}),
    ("uint8", (70, 128, 96), (64, 64, 96), {"zarr_format": 2, "compressors": numcodecs.Blosc(
        "zstd", 3, numcodecs.Blosc.BITSHUFFLE), "chunk_key_encoding": {
        "name": "v2", "separator": "/"}}),
    ("float32", (50, 70, 64), (32, 64, 64), {"zarr_format": 3, "compressors": BloscCodec(
        cname="lz4", clevel=9, shuffle="shuffle")}),
    # noise blosc cannot compress: stored as it is (flagged memcpyed), read whole
    ("uint16", (60, 64, 128), (40, 64, 64), {"zarr_format": 2, "compressors": numcodecs.Blosc(
        "lz4", 5, numcodecs.Blosc.NOSHUFFLE)}),
    # 1 MiB chunks: four blocks or more
    ("uint16", (200, 64, 128), (128, 32, 128), {"zarr_format": 2, "compressors": numcodecs.Blosc(
        "blosclz", 9, numcodecs.Blosc.NOSHUFFLE)}),
]


@pytest.mark.parametrize(
    ("dtype", "shape", "chunks", "kw"), CASES,
    ids=["v2-lz4", "v2-zstd-bitshuffle-u8", "v3-lz4-f4", "v2-noise", "v2-4-blocks"],
)
def test_thin_reads_equal_the_data(
    tmp_path: Path, dtype: str, shape: tuple[int, ...], chunks: tuple[int, ...],
    kw: dict[str, Any], request: pytest.FixtureRequest,
) -> None:
    data = _values(shape, dtype)
    if "noise" in request.node.name:
        data = np.random.default_rng(1).integers(0, 65535, size=shape, dtype=dtype)
    spy = _Spy(_write(tmp_path / "a.zarr", data, chunks, **kw))
    c0 = chunks[0]
    last = shape[0] - 1
    selections = [
        0, 1, c0 // 2, c0 - 1, c0, last,  # planes: first, inside, last of a chunk, edge chunk
        (c0 + 3, slice(5, shape[1] - 7), slice(2, shape[2] - 1)),  # part of a plane
        (slice(c0 - 1, c0 + 1), slice(None), slice(None)),  # two planes in two chunk rows
        (slice(None), 9, slice(None)),  # a y-plane spans whole chunks: read whole
    ]
    for sel in selections:
        np.testing.assert_array_equal(spy.read(sel), data[sel], err_msg=str(sel))
    assert spy.statuses and all((s == _bulk.OK).all() for s in spy.statuses)
    assert spy.boxes == 0  # tensorstore was not needed
    settle()
    assert not spy.arr._in_flight and not spy.arr.failures


def _blocks(path: Path) -> tuple[int, int, list[int]]:
    """(file size, block size, the start of each block) of a blosc chunk file."""
    raw = path.read_bytes()
    nbytes, block, cbytes = struct.unpack_from("<3I", raw, 4)
    n = -(-nbytes // block)
    return cbytes, block, list(struct.unpack_from(f"<{n}I", raw, 16))


def test_a_plane_decodes_only_the_blocks_that_hold_it(tmp_path: Path) -> None:
    data = _values((40, 64, 128), "uint16")  # two chunks (a single one is read whole)
    path = _write(tmp_path / "a.zarr", data, (40, 64, 64), zarr_format=2,
                  compressors=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE), fill_value=3)
    chunk = path / "0.0.0"
    size, block, starts = _blocks(chunk)
    assert len(starts) == 2 and block == 256 << 10  # planes 0-31 | 32-39
    raw = bytearray(chunk.read_bytes())
    raw[starts[1]:size] = os.urandom(size - starts[1])  # the second block's data ruined
    chunk.write_bytes(bytes(raw))
    spy = _Spy(path)
    # the first block alone is decoded for plane 5: right, by the compiled reader
    np.testing.assert_array_equal(spy.read(5), data[5])
    assert (spy.statuses[-1] == _bulk.OK).all()
    settle()  # (the read-ahead of the whole chunk finds the ruined block: flagged)
    assert spy.arr.state((0, 0, 0)) == "failed"
    # plane 35 needs the second block: the per-chunk path says what is wrong
    got = spy.read(35)
    assert spy.statuses[-1].tolist() == [_bulk.FALLBACK, _bulk.OK]
    assert spy.arr.state((0, 0, 0)) == "failed"
    assert (got[:, :64] == 3).all()
    np.testing.assert_array_equal(got[:, 64:], data[35, :, 64:])


@pytest.mark.parametrize("damage", ["table", "truncated", "bomb", "declared"])
def test_chunks_that_are_not_right_go_to_the_per_chunk_path(tmp_path: Path, damage: str) -> None:
    data = _values((40, 128, 64), "uint16")
    path = _write(tmp_path / "a.zarr", data, (40, 64, 64), zarr_format=2,
                  compressors=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE), fill_value=3)
    chunk = path / "0.1.0"
    raw = bytearray(chunk.read_bytes())
    if damage == "table":  # the first block starts past the end of the file
        struct.pack_into("<I", raw, 16, len(raw) + 100)
    elif damage == "truncated":
        raw = raw[: len(raw) // 2]
    elif damage == "bomb":  # a valid stream that declares 64 MiB
        raw = bytearray(numcodecs.Blosc("zstd", 9).encode(np.zeros(64 << 20, np.uint8)))
    else:  # a header that declares a little more than the chunk
        struct.pack_into("<I", raw, 4, 40 * 64 * 64 * 2 + 2)
    chunk.write_bytes(bytes(raw))
    spy = _Spy(path)
    got = spy.read(7)
    status = spy.statuses[-1]
    assert status.tolist() == [_bulk.OK, _bulk.FALLBACK]  # chunk (0, 0, 0) and (0, 1, 0)
    np.testing.assert_array_equal(got[:64], data[7, :64])
    assert (got[64:] == 3).all()
    assert spy.arr.state((0, 1, 0)) == "failed"
    settle()
    assert spy.arr.state((0, 0, 0)) == "loaded"


SHARDED = {"zarr_format": 3, "shards": (40, 128, 128), "compressors": BloscCodec(cname="lz4")}


def test_sharded_thin_reads_equal_the_data(tmp_path: Path) -> None:
    """Inner chunks are read at the places their shard's index gives; inner chunks that
    are not stored (all fill: zarr-python leaves them out) and a shard that is not
    stored are left to the per-chunk path, which reads them as the fill value."""
    data = _values((80, 256, 192), "uint16")
    data[:40, 64:128, 64:128] = 0  # one inner chunk of fill, not stored
    data[40:, 128:, :] = 0  # a whole shard row of fill
    path = _write(tmp_path / "a.zarr", data, (40, 64, 64), **SHARDED)
    assert not (path / "c" / "1" / "1" / "0").exists()
    spy = _Spy(path)
    for sel in [3, 39, 40, 41, 79, (17, slice(30, 200), slice(5, 150))]:
        np.testing.assert_array_equal(spy.read(sel), data[sel], err_msg=str(sel))
        assert spy.statuses[-1].tolist().count(_bulk.OK) >= 1
    # plane 3: 4x3 inner chunks, the one of fill left to the per-chunk path
    first = spy.statuses[0]
    assert len(first) == 12 and first.tolist().count(_bulk.FALLBACK) == 1
    assert spy.boxes == 0
    settle()
    assert spy.arr.state((0, 1, 1)) == "missing" and not spy.arr.failures


@pytest.mark.parametrize("damage", ["bomb", "out-of-bounds", "index-crc"])
def test_broken_shards_go_to_the_per_chunk_path(tmp_path: Path, damage: str) -> None:
    from tests.loading.test_box_reads import _replace_inner_chunk

    data = _values((40, 128, 256), "uint16")
    path = _write(tmp_path / "a.zarr", data, (40, 64, 64), fill_value=3, **SHARDED)
    shard = path / "c" / "0" / "0" / "1"  # inner chunks (0, 0..1, 2..3)
    if damage == "bomb":  # inner chunk (0, 1, 3): a valid stream that declares 64 MiB
        bomb = bytes(numcodecs.Blosc("zstd", 9).encode(np.zeros(64 << 20, np.uint8)))
        _replace_inner_chunk(shard, 3, 4, bomb)
    elif damage == "out-of-bounds":  # its entry points past the end of the shard
        raw = bytearray(shard.read_bytes())
        index = np.frombuffer(raw[-68:-4], "<u8").reshape(4, 2).copy()
        index[3] = (len(raw) + 10, index[3, 1])
        shard.write_bytes(bytes(raw[:-68]) + bytes(numcodecs.CRC32C().encode(index.tobytes())))
    else:  # the index's checksum does not match: the whole shard is unreadable
        raw = bytearray(shard.read_bytes())
        raw[-1] ^= 0xFF
        shard.write_bytes(bytes(raw))
    spy = _Spy(path)
    got = spy.read(9)
    expect = data[9].copy()
    bad = [(0, 0, 2), (0, 0, 3), (0, 1, 2), (0, 1, 3)] if damage == "index-crc" else [(0, 1, 3)]
    for _, j, k in bad:
        expect[j * 64:(j + 1) * 64, k * 64:(k + 1) * 64] = 3
    np.testing.assert_array_equal(got, expect)
    for idx in bad:
        assert spy.arr.state(idx) == "failed", idx
    assert spy.statuses[-1].tolist().count(_bulk.OK) == 8 - len(bad)
