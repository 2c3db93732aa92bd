"""Box reads through tensorstore (``formats/_ts_engine``): same values as the per-chunk
path, missing and broken chunks still found one by one, symlinks never followed out of
the dataset, every chunk still on the event stream and in the cache."""

from __future__ import annotations

import os
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.loading import EVENTS, ChunkCache, LevelArray


def _write(path: Path, data: np.ndarray, chunks: tuple[int, ...], **kw: object) -> Path:
    z = zarr.create_array(path, shape=data.shape, chunks=chunks, dtype=data.dtype, **kw)  # type: ignore[arg-type]
    z[...] = data
    return path


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 60000, size=(6, 100, 90), dtype=np.uint16)


def _fresh(path: Path, box_reads: bool = True) -> tuple[LevelArray, list[str]]:
    """A LevelArray with its own cache, and a record of how each read went."""
    lv = open_pyramid(path).levels[0]
    arr = LevelArray(lv.source, name=f"t{os.urandom(4).hex()}", cache=ChunkCache(64 << 20))
    arr._boxes = box_reads
    arr._box_worth_it = box_reads  # these chunks are small: force the box path
    arr._bulk = False  # (and not the compiled reader: tests/loading/test_compiled_reads.py)
    calls: list[str] = []
    src = arr.source
    orig = src.read_stored

    def spy(box, indices):  # type: ignore[no-untyped-def]
        try:
            out = orig(box, indices)
        except Exception:
            calls.append("raised")
            raise
        calls.append("none" if out is None else "read")
        return out

    src.read_stored = spy  # type: ignore[method-assign]
    return arr, calls


@pytest.mark.parametrize(
    "kw",
    [
        {"zarr_format": 2, "compressors": numcodecs.Blosc("lz4", 5, 1)},
        {"zarr_format": 2, "compressors": numcodecs.Zlib(3), "order": "F"},
        {"zarr_format": 2, "compressors": None,
         "chunk_key_encoding": {"name": "v2", "separator": "/"}},
        {"zarr_format": 3},
        {"zarr_format": 3, "shards": (2, 64, 60)},
    ],
    ids=["v2-blosc", "v2-zlib-F", "v2-raw-nested", "v3-zstd", "v3-sharded"],
)
def test_box_reads_equal_the_data(tmp_path: Path, data: np.ndarray, kw: dict) -> None:  # type: ignore[type-arg]
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), **kw)
    arr, calls = _fresh(path)
    sels = [(slice(None),) * 3, (3, slice(5, 97), slice(1, 89)), (slice(1, 5), 40, slice(None))]
    for sel in sels:
        np.testing.assert_array_equal(np.asarray(arr[sel]), data[sel])
    assert "read" in calls  # the box path was really taken
    # and the chunks it read are cached: a second read reads nothing
    calls.clear()
    np.testing.assert_array_equal(np.asarray(arr[3, 5:97, 1:89]), data[3, 5:97, 1:89])
    assert calls == []


def test_missing_and_corrupt_chunks_are_found_one_by_one(tmp_path: Path, data: np.ndarray) -> None:
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=2,
                  compressors=numcodecs.Blosc("lz4", 5, 1), fill_value=7)
    os.remove(path / "1.1.1")
    (path / "2.0.2").write_bytes(b"garbage, not blosc")
    arr, calls = _fresh(path)
    seen: list[tuple[str, tuple[int, ...]]] = []
    unsubscribe = EVENTS.subscribe(
        lambda e: seen.append((e.kind, e.index)) if e.source == arr.name else None
    )
    try:
        got = np.asarray(arr[:, :, :])
    finally:
        unsubscribe()
    # the box read failed (a missing chunk) or was declined (the garbage chunk's "blosc
    # header" declares 700 MB): then chunk by chunk
    assert calls and "read" not in calls and set(calls) <= {"raised", "none"}
    expect = data.copy()
    expect[2:4, 32:64, 30:60] = 7
    expect[4:6, 0:32, 60:90] = 7  # the corrupt chunk is filled and flagged
    np.testing.assert_array_equal(got, expect)
    assert arr.state((1, 1, 1)) == "missing"
    assert arr.state((2, 0, 2)) == "failed"
    assert "blosc" in arr.failures[(2, 0, 2)].lower() or "decode" in arr.failures[(2, 0, 2)].lower()
    assert ("missing", (1, 1, 1)) in seen and ("failed", (2, 0, 2)) in seen
    assert arr.state((0, 0, 0)) == "loaded"


def _replace_inner_chunk(shard: Path, flat: int, n: int, payload: bytes) -> None:
    """Point inner chunk ``flat`` of a shard (index at the end, with crc32c) at
    ``payload``, appended to the shard."""
    raw = shard.read_bytes()
    tail = 16 * n + 4
    body = raw[:-tail]
    index = np.frombuffer(raw[-tail:-4], "<u8").reshape(n, 2).copy()
    index[flat] = (len(body), len(payload))
    shard.write_bytes(body + payload + bytes(numcodecs.CRC32C().encode(index.tobytes())))


def test_sharded_blosc_box_reads_check_every_inner_header(tmp_path: Path, data: np.ndarray) -> None:
    """Shards with blosc inner chunks are read by tensorstore once every inner chunk's
    blosc header was checked through the shard index; a shard holding a blosc bomb (a
    valid stream that declares 64 MiB for a 3.6 KiB chunk) is never handed to it."""
    blosc = zarr.codecs.BloscCodec(cname="zstd", clevel=1)
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=3, shards=(2, 64, 60),
                  compressors=blosc, fill_value=5)
    arr, calls = _fresh(path)
    np.testing.assert_array_equal(np.asarray(arr[:, :, :]), data)
    assert calls and set(calls) == {"read"}  # tensorstore read them all
    bomb = bytes(numcodecs.Blosc("zstd", 9).encode(np.zeros(64 << 20, np.uint8)))
    _replace_inner_chunk(path / "c" / "1" / "0" / "1", 2, 4, bomb)  # chunk (1, 1, 2)
    arr, calls = _fresh(path)
    got = np.asarray(arr[:, :, :])
    assert "read" not in calls and "none" in calls  # declined before tensorstore saw it
    expect = data.copy()
    expect[2:4, 32:64, 60:90] = 5
    np.testing.assert_array_equal(got, expect)
    assert arr.state((1, 1, 2)) == "failed" and "declares" in arr.failures[(1, 1, 2)]
    assert arr.state((1, 1, 1)) == "loaded" and arr.state((0, 0, 0)) == "loaded"


def test_an_inner_chunk_out_of_bounds_is_refused_by_both_paths(
    tmp_path: Path, data: np.ndarray
) -> None:
    """An index entry longer than any stored form of the chunk (a valid stream followed by
    100 KiB of padding) is refused by the per-chunk path; the box path declines its shard
    instead of handing it to tensorstore, so both say the same."""
    blosc = zarr.codecs.BloscCodec(cname="zstd", clevel=1)
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=3, shards=(2, 64, 60),
                  compressors=blosc, fill_value=5)
    chunk = bytes(numcodecs.Blosc("zstd", 1).encode(data[2:4, 32:64, 60:90].copy()))
    _replace_inner_chunk(path / "c" / "1" / "0" / "1", 2, 4, chunk + bytes(100 << 10))
    arr, calls = _fresh(path)
    got = np.asarray(arr[:, :, :])
    assert "read" not in calls and "none" in calls
    expect = data.copy()
    expect[2:4, 32:64, 60:90] = 5
    np.testing.assert_array_equal(got, expect)
    assert arr.state((1, 1, 2)) == "failed" and "out of bounds" in arr.failures[(1, 1, 2)]
    assert arr.state((1, 0, 2)) == "loaded"


def test_box_reads_emit_every_chunk(tmp_path: Path, data: np.ndarray) -> None:
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=2,
                  compressors=numcodecs.Zlib(1))
    arr, calls = _fresh(path)
    seen: list[tuple[str, tuple[int, ...], int]] = []
    unsubscribe = EVENTS.subscribe(
        lambda e: seen.append((e.kind, e.index, e.nbytes_stored)) if e.source == arr.name else None
    )
    try:
        np.asarray(arr[2:4, 0:64, 0:60])  # 4 chunks: one box
    finally:
        unsubscribe()
    assert calls == ["read"]
    done = {(i, n) for k, i, n in seen if k == "done"}
    assert {i for i, _ in done} == {(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)}
    for idx, nbytes in done:  # stored sizes are the files' sizes
        assert nbytes == (path / ".".join(map(str, idx))).stat().st_size
    assert sum(k == "requested" for k, _, _ in seen) == 4


def test_symlinked_chunk_leaving_the_dataset_is_not_read(tmp_path: Path, data: np.ndarray) -> None:
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=2, compressors=None)
    secret = tmp_path / "outside.bin"
    secret.write_bytes((path / "0.0.0").read_bytes())  # a valid chunk, but not ours to read
    os.remove(path / "0.0.0")
    os.symlink(secret, path / "0.0.0")
    arr, calls = _fresh(path)
    np.asarray(arr[0:2, 0:64, 0:60])
    assert "read" not in calls  # tensorstore (which follows links) was not asked
    assert arr.state((0, 0, 0)) != "loaded"


def test_box_reads_can_be_turned_off(tmp_path: Path, data: np.ndarray) -> None:
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=2)
    arr, calls = _fresh(path, box_reads=False)
    np.testing.assert_array_equal(np.asarray(arr[:, :, :]), data)
    assert calls == []


def test_mended_metadata_keeps_the_per_chunk_path(tmp_path: Path, data: np.ndarray) -> None:
    """Legacy nested keys without ``dimension_separator`` (the document says '.'): we read
    '/' keys, tensorstore would read '.' keys, so it is not used."""
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=2,
                  chunk_key_encoding={"name": "v2", "separator": "/"})
    meta = (path / ".zarray").read_text()
    import json

    doc = json.loads(meta)
    doc.pop("dimension_separator", None)
    (path / ".zarray").write_text(json.dumps(doc))
    arr, calls = _fresh(path)
    np.testing.assert_array_equal(np.asarray(arr[:, :, :]), data)
    assert "read" not in calls


def test_virtual_levels_read_strided_boxes(tmp_path: Path, data: np.ndarray) -> None:
    from napari_chunkview.loading._virtual import StridedSource

    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=2,
                  compressors=numcodecs.Blosc("zstd", 3, 2))
    base = open_pyramid(path).levels[0].source
    src = StridedSource(base, (1, 4, 3))
    arr = LevelArray(src, name=f"v{os.urandom(4).hex()}", cache=ChunkCache(64 << 20))
    calls: list[object] = []
    orig = base.read_stored

    def spy(box, indices, step=None):  # type: ignore[no-untyped-def]
        out = orig(box, indices, step)
        calls.append(step)
        return out

    base.read_stored = spy  # type: ignore[method-assign]
    np.testing.assert_array_equal(np.asarray(arr[:, :, :]), data[:, ::4, ::3])
    np.testing.assert_array_equal(np.asarray(arr[1, 3:20, 2:25]), data[1, ::4, ::3][3:20, 2:25])
    assert (1, 4, 3) in calls
    # a missing stored chunk: the strided box read fails, chunk by chunk finds it
    os.remove(path / "0.1.1")
    arr2 = LevelArray(StridedSource(base, (1, 4, 3)), name=f"v{os.urandom(4).hex()}",
                      cache=ChunkCache(64 << 20))
    got = np.asarray(arr2[:, :, :])
    expect = data.copy()
    expect[0:2, 32:64, 30:60] = 0
    np.testing.assert_array_equal(got, expect[:, ::4, ::3])


def test_a_box_with_a_few_cached_chunks_is_still_read_whole(
    tmp_path: Path, data: np.ndarray
) -> None:
    """A sample read first (contrast limits) caches a few chunks; the full view that
    follows must not fall back to thousands of single-chunk reads."""
    path = _write(tmp_path / "a.zarr", data, (2, 32, 30), zarr_format=2,
                  compressors=numcodecs.Blosc("lz4", 5, 1))
    arr, calls = _fresh(path)
    np.asarray(arr[0, 0, 0])  # one chunk, read alone
    assert calls == []
    np.testing.assert_array_equal(np.asarray(arr[:, :, :]), data)
    assert calls == ["read"]
    assert all(arr.state(i) == "loaded" for i in arr.source.grid.chunks_in_box(
        [(0, n) for n in arr.shape]))


@pytest.mark.parametrize(
    ("box", "step", "banded"),
    [
        ([(1, 6), (3, 100), (0, 88)], None, False),  # its chunks hold < 2x the box: one call
        ([(0, 6), (3, 4), (0, 88)], None, True),  # a thin box through its chunks
        ([(1, 6), (3, 100), (0, 88)], (1, 3, 2), True),
        ([(1, 6), (3, 100), (0, 88)], (2, 7, 5), True),
    ],
)
def test_big_box_reads_go_band_by_band(
    tmp_path: Path,
    data: np.ndarray,
    box: list[tuple[int, int]],
    step: tuple[int, ...] | None,
    banded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read whose chunks hold much more than the block (strided, or thin) is split into
    bands along the first axis (bounded memory in tensorstore): the bands put together
    are the box. A plain box is read in one call."""
    from napari_chunkview.formats._ts_engine import BoxReader

    path = _write(tmp_path / "a.zarr", data, (2, 16, 15), zarr_format=2,
                  compressors=numcodecs.Zstd(1))
    reader = open_pyramid(path).levels[0].source.box_reader()
    assert reader is not None
    calls: list[object] = []
    store = reader._store

    class Counting:
        def __getitem__(self, sel):  # type: ignore[no-untyped-def]
            calls.append(sel)
            return store[sel]

    monkeypatch.setattr(BoxReader, "BAND_CHUNKS", 1)
    reader._store = Counting()
    got = reader(box, step)
    k = step or (1, 1, 1)
    sel = tuple(slice(a, b, s) for (a, b), s in zip(box, k, strict=True))
    np.testing.assert_array_equal(got, data[sel])
    assert (len(calls) > 1) == banded


def _split_reader(path: Path) -> tuple[LevelArray, list[list[tuple[int, ...]]]]:
    """A LevelArray on the path of small chunks while the compiled reader is not ready
    (chunk by chunk, split with tensorstore for large reads), recording the chunks
    handed to tensorstore."""
    lv = open_pyramid(path).levels[0]
    arr = LevelArray(lv.source, name=f"s{os.urandom(4).hex()}", cache=ChunkCache(64 << 20))
    assert not arr._box_worth_it  # small chunks: no plain box reads
    arr._bulk = False  # the path used until the compiled reader is ready
    started: list[list[tuple[int, ...]]] = []
    orig = arr.source.start_read_stored

    def spy(box, indices):  # type: ignore[no-untyped-def]
        started.append(list(indices))
        return orig(box, indices)

    arr.source.start_read_stored = spy  # type: ignore[method-assign]
    return arr, started


def test_a_read_of_many_small_chunks_is_split_with_tensorstore(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = rng.integers(0, 60000, size=(2, 330, 310), dtype=np.uint16)
    path = _write(tmp_path / "a.zarr", data, (1, 20, 20), zarr_format=2,
                  compressors=numcodecs.Blosc("lz4", 5, 1))
    arr, started = _split_reader(path)
    seen: list[tuple[str, tuple[int, ...]]] = []
    unsubscribe = EVENTS.subscribe(
        lambda e: seen.append((e.kind, e.index)) if e.source == arr.name else None
    )
    try:
        got = np.asarray(arr[1, 3:329, 5:307])  # 17 x 16 = 272 chunks, edges clipped
    finally:
        unsubscribe()
    np.testing.assert_array_equal(got, data[1, 3:329, 5:307])
    assert len(started) == 1 and 0 < len(started[0]) < 272  # tensorstore read a part
    chunks = list(arr.source.grid.chunks_in_box([(1, 2), (3, 329), (5, 307)]))
    assert sorted(i for k, i in seen if k == "done") == sorted(chunks)  # each once
    assert sorted(i for k, i in seen if k == "requested") == sorted(chunks)
    assert all(arr.state(i) == "loaded" for i in chunks)
    started.clear()
    np.testing.assert_array_equal(np.asarray(arr[1, :, :]), data[1])  # cached: not re-read
    assert started == [] or all(i not in chunks for i in started[0])


def test_a_split_read_still_finds_missing_and_broken_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    data = rng.integers(0, 60000, size=(1, 320, 320), dtype=np.uint16)
    path = _write(tmp_path / "a.zarr", data, (1, 20, 20), zarr_format=2,
                  compressors=numcodecs.Blosc("lz4", 5, 1), fill_value=9)
    os.remove(path / "0.14.3")  # both in the far half (tensorstore's)
    (path / "0.15.7").write_bytes(b"garbage, not blosc at all")
    arr, started = _split_reader(path)
    got = np.asarray(arr[0, :, :])
    assert started and (0, 14, 3) in started[0] and (0, 15, 7) in started[0]
    expect = data.copy()
    expect[0, 280:300, 60:80] = 9
    expect[0, 300:320, 140:160] = 9
    np.testing.assert_array_equal(got, expect[0])
    assert arr.state((0, 14, 3)) == "missing"
    assert arr.state((0, 15, 7)) == "failed" and "blosc" in arr.failures[(0, 15, 7)]
    assert arr.state((0, 0, 0)) == "loaded" and arr.state((0, 13, 3)) == "loaded"
