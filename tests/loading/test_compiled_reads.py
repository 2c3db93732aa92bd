"""The compiled reader of many small chunks (``formats/_bulk``): the same values as the
data written by zarr-python, every chunk on the event stream and in the cache, and every
unusual chunk (missing, corrupt, truncated, oversized, a bomb, a symlink, a FIFO) left to
the per-chunk path, which flags it, while the rest of the read goes on."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.formats import _bulk
from napari_chunkview.loading import EVENTS, ChunkCache, LevelArray

pytestmark = pytest.mark.usefixtures("compiled_reader")


def _write(path: Path, data: np.ndarray, chunks: tuple[int, ...], **kw: Any) -> Path:
    z = zarr.create_array(path, shape=data.shape, chunks=chunks, dtype=data.dtype, **kw)
    z[...] = data
    return path


class _Spy:
    """A LevelArray with its own cache, recording what each compiled read returned."""

    def __init__(self, path: Path) -> None:
        lv = open_pyramid(path).levels[0]
        self.arr = LevelArray(
            lv.source, name=f"b{os.urandom(4).hex()}", cache=ChunkCache(256 << 20)
        )
        self.statuses: list[np.ndarray | None] = []
        src = self.arr.source
        orig = src.read_bulk

        def spy(*a: Any, **k: Any) -> Any:
            got = orig(*a, **k)
            self.statuses.append(None if got is None else got[0].copy())
            return got

        src.read_bulk = spy  # type: ignore[method-assign]

    @property
    def compiled(self) -> int:
        """Chunks the compiled reader decoded."""
        return sum(int((s == _bulk.OK).sum()) for s in self.statuses if s is not None)


BLOSC = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)


@pytest.mark.parametrize(
    ("dtype", "kw"),
    [
        ("uint16", {"zarr_format": 2, "compressors": BLOSC}),
        ("uint8", {"zarr_format": 2,
                   "compressors": numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE)}),
        ("float32", {"zarr_format": 2, "compressors": None}),
        ("int64", {"zarr_format": 2, "compressors": BLOSC,
                   "chunk_key_encoding": {"name": "v2", "separator": "/"}}),
        ("uint16", {"zarr_format": 3, "compressors": zarr.codecs.BloscCodec(cname="lz4")}),
        ("float64", {"zarr_format": 3, "compressors": None,
                     "chunk_key_encoding": {"name": "default", "separator": "."}}),
    ],
    ids=["v2-blosc", "v2-blosc-zstd-u8", "v2-raw", "v2-nested-i8", "v3-blosc", "v3-raw-dot"],
)
def test_compiled_reads_equal_the_data(tmp_path: Path, dtype: str, kw: dict[str, Any]) -> None:
    rng = np.random.default_rng(5)
    data = (rng.random((3, 130, 170)) * 200).astype(dtype)
    path = _write(tmp_path / "a.zarr", data, (1, 16, 20), **kw)
    spy = _Spy(path)
    for sel in [
        (1, slice(None), slice(None)),  # a whole plane: 9 x 9 chunks, edge chunks clipped
        (slice(None), slice(7, 121), slice(3, 160)),  # a box across chunk borders
        (2, slice(0, 64), slice(0, 80)),  # exactly 4 x 4 chunks
    ]:
        spy.arr.cache.clear()
        np.testing.assert_array_equal(np.asarray(spy.arr[sel]), data[sel])
    assert spy.compiled > 0 and all(s is not None and (s == _bulk.OK).all() for s in spy.statuses)


def test_four_dimensional_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    data = rng.integers(0, 1000, size=(2, 3, 40, 50), dtype=np.uint16)
    spy = _Spy(_write(tmp_path / "a.zarr", data, (1, 2, 16, 16), zarr_format=2, compressors=BLOSC))
    np.testing.assert_array_equal(np.asarray(spy.arr[:, :, :, :]), data)
    np.testing.assert_array_equal(np.asarray(spy.arr[1, 1:3, 5:39, :]), data[1, 1:3, 5:39, :])
    assert spy.compiled > 0


def test_chunks_are_cached_and_reported_once(tmp_path: Path) -> None:
    data = np.arange(2 * 128 * 128, dtype=np.uint16).reshape(2, 128, 128)
    spy = _Spy(_write(tmp_path / "a.zarr", data, (1, 16, 16), zarr_format=2, compressors=BLOSC))
    arr = spy.arr
    seen: list[tuple[str, tuple[int, ...], int]] = []
    unsubscribe = EVENTS.subscribe(
        lambda e: seen.append((e.kind, e.index, e.nbytes_stored)) if e.source == arr.name else None
    )
    try:
        np.testing.assert_array_equal(np.asarray(arr[1, :, :]), data[1])
        chunks = list(arr.source.grid.chunks_in_box([(1, 2), (0, 128), (0, 128)]))
        assert sorted(i for k, i, _ in seen if k == "requested") == sorted(chunks)
        done = {i: n for k, i, n in seen if k == "done"}
        assert sorted(done) == sorted(chunks)
        for idx, nbytes in done.items():  # stored sizes are the files' sizes
            assert nbytes == os.path.getsize(tmp_path / "a.zarr" / ".".join(map(str, idx)))
        assert all(arr.state(i) == "loaded" for i in chunks)
        cached = arr.cache.peek((arr._token, chunks[0]))
        assert cached is not None and not cached.flags.writeable
        seen.clear()
        reads = len(spy.statuses)
        np.testing.assert_array_equal(np.asarray(arr[1, 8:120, :]), data[1, 8:120])
        assert len(spy.statuses) == reads  # all from the cache
        assert {k for k, *_ in seen} == {"cache_hit"}
    finally:
        unsubscribe()


def _blosc_bomb(nbytes: int) -> bytes:
    return bytes(numcodecs.Blosc("zstd", 9).encode(np.zeros(nbytes, np.uint8)))


def test_unusual_chunks_go_to_the_per_chunk_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    data = rng.integers(0, 60000, size=(1, 160, 160), dtype=np.uint16)
    root = _write(tmp_path / "a.zarr", data, (1, 16, 16), zarr_format=2, compressors=BLOSC,
                  fill_value=3)
    outside = tmp_path / "outside.bin"
    outside.write_bytes((root / "0.0.0").read_bytes())
    good = (root / "0.9.9").read_bytes()
    broken = {
        (0, 1, 1): None,  # missing
        (0, 1, 2): b"garbage, not blosc at all",
        (0, 2, 3): good[: len(good) // 2],  # truncated
        (0, 4, 5): _blosc_bomb(64 << 20),  # a valid stream of 64 MiB in a 512-byte chunk
        (0, 5, 6): bytes(BLOSC.encode(np.zeros(16 * 16 * 4, np.uint8))),  # another size
        (0, 6, 7): "symlink-out",
        (0, 7, 8): "fifo",
    }
    for idx, content in broken.items():
        f = root / ".".join(map(str, idx))
        f.unlink()
        if content == "symlink-out":
            f.symlink_to(outside)
        elif content == "fifo":
            os.mkfifo(f)
        elif content is not None:
            f.write_bytes(content)  # type: ignore[arg-type]
    # unusual but readable, by the per-chunk path: a symlink inside the dataset, and a
    # blosc stream followed by more bytes than its header says (blosc ignores them)
    (root / "0.8.8").unlink()
    (root / "0.8.8").symlink_to(root / "0.9.9")
    (root / "0.3.4").write_bytes(good + b"\0" * 64)
    spy = _Spy(root)
    got = np.asarray(spy.arr[0, :, :])
    expect = data[0].copy()
    for _, y, x in broken:
        expect[y * 16 : y * 16 + 16, x * 16 : x * 16 + 16] = 3
    expect[128:144, 128:144] = expect[48:64, 64:80] = data[0, 144:160, 144:160]
    np.testing.assert_array_equal(got, expect)
    arr = spy.arr
    assert arr.state((0, 1, 1)) == "missing"
    for idx in list(broken)[1:]:
        assert arr.state(idx) == "failed", idx
    assert "outside" in arr.failures[(0, 6, 7)]
    assert all(arr.state(i) == "loaded" for i in [(0, 8, 8), (0, 3, 4), (0, 0, 0)])
    (status,) = [s for s in spy.statuses if s is not None]
    assert int((status != _bulk.OK).sum()) == len(broken) + 2  # all but these: compiled
    assert stat.S_ISFIFO(os.lstat(root / "0.7.8").st_mode)  # nothing was written


def test_a_folder_linked_out_of_the_dataset_is_refused(tmp_path: Path) -> None:
    data = np.arange(64 * 64, dtype=np.uint16).reshape(1, 64, 64)
    root = _write(tmp_path / "a.zarr", data, (1, 8, 8), zarr_format=2, compressors=BLOSC,
                  chunk_key_encoding={"name": "v2", "separator": "/"}, fill_value=0)
    away = tmp_path / "away"
    (root / "0" / "3").rename(away)
    (root / "0" / "3").symlink_to(away, target_is_directory=True)
    spy = _Spy(root)
    got = np.asarray(spy.arr[0, :, :])
    expect = data[0].copy()
    expect[24:32, :] = 0
    np.testing.assert_array_equal(got, expect)
    assert spy.statuses == [None]  # the compiled reader declined the whole read
    assert all(spy.arr.state((0, 3, x)) == "failed" for x in range(8))


def test_reads_while_it_is_not_ready_go_chunk_by_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.arange(128 * 128, dtype=np.uint16).reshape(1, 128, 128)
    spy = _Spy(_write(tmp_path / "a.zarr", data, (1, 16, 16), zarr_format=2, compressors=BLOSC))
    monkeypatch.setitem(_bulk._state, "kernel", None)
    monkeypatch.setattr(_bulk, "_started", _Set())  # as if its build were under way
    np.testing.assert_array_equal(np.asarray(spy.arr[0, :, :]), data[0])
    assert spy.statuses == []


class _Set:
    def is_set(self) -> bool:
        return True

    def set(self) -> None:
        pass


def test_sources_the_compiled_reader_does_not_take(tmp_path: Path) -> None:
    data = np.arange(64 * 64, dtype=np.uint16).reshape(1, 64, 64)
    cases = {
        "F-order": {"zarr_format": 2, "compressors": BLOSC, "order": "F"},
        "zlib": {"zarr_format": 2, "compressors": numcodecs.Zlib(1)},
        "filters": {"zarr_format": 2, "compressors": BLOSC, "filters": [numcodecs.Delta("u2")]},
        "big-endian": {"zarr_format": 3, "compressors": None,
                       "serializer": zarr.codecs.BytesCodec(endian="big")},
        "sharded-zstd": {"zarr_format": 3, "shards": (1, 32, 32)},  # (zarr-python default)
    }
    for name, kw in cases.items():
        path = _write(tmp_path / f"{name}.zarr", data, (1, 8, 8), **kw)
        src = open_pyramid(path).levels[0].source
        assert not src.bulk_capable, name  # type: ignore[attr-defined]
        arr = LevelArray(src, name=f"n{os.urandom(4).hex()}", cache=ChunkCache(64 << 20))
        np.testing.assert_array_equal(np.asarray(arr[0, :, :]), data[0])


@pytest.mark.parametrize("separator", [".", "/"])
def test_one_and_two_dimensional_arrays(tmp_path: Path, separator: str) -> None:
    rng = np.random.default_rng(9)
    enc = {"name": "v2", "separator": separator}
    for data, chunks in [
        (rng.integers(0, 255, size=1000, dtype=np.uint8), (10,)),
        (rng.random((90, 130)).astype(np.float32), (16, 16)),
    ]:
        path = _write(tmp_path / f"{data.ndim}{separator}.zarr", data, chunks, zarr_format=2,
                      compressors=BLOSC, chunk_key_encoding=enc)
        spy = _Spy(path)
        np.testing.assert_array_equal(np.asarray(spy.arr[...]), data)
        sel = (slice(55, 987),) if data.ndim == 1 else (slice(5, 88), slice(17, 129))
        spy.arr.cache.clear()
        np.testing.assert_array_equal(np.asarray(spy.arr[sel]), data[sel])
        assert spy.compiled > 0 and all(s is not None and (s == _bulk.OK).all()
                                        for s in spy.statuses)


def test_the_background_build_waits_for_reads_to_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked by reads (``when_quiet``), the build starts only once reads (cache hits too)
    have paused."""
    import threading
    import time

    built: list[float] = []
    monkeypatch.setitem(_bulk._state, "kernel", None)
    monkeypatch.setattr(_bulk, "_started", threading.Event())
    monkeypatch.setattr(_bulk, "_done", threading.Event())
    monkeypatch.setattr(_bulk, "_now", threading.Event())
    monkeypatch.setattr(_bulk, "QUIET", 0.3)
    monkeypatch.setattr(_bulk, "MAX_WAIT", 60.0)
    monkeypatch.setattr(
        _bulk, "_compile", lambda: built.append(time.monotonic()) or (lambda *a: None)
    )
    monkeypatch.setattr(_bulk, "_smoke", lambda fn: None)
    for _ in range(4):  # reads keep asking for 0.4 s
        assert not _bulk.warm_up(when_quiet=True)
        time.sleep(0.1)
    for _ in range(6):  # then only find their chunks cached, for 0.6 s (z-steps in a chunk row)
        _bulk.busy()
        time.sleep(0.1)
    last = time.monotonic()
    assert _bulk._done.wait(30) and len(built) == 1
    assert built[0] >= last + 0.15  # not while the reads were going on
    assert _bulk.kernel() is not None


def test_an_output_that_does_not_fit_the_box_is_refused_not_overrun(tmp_path: Path) -> None:
    """The loop copies lines with ``memcpy``: a chunk whose region would fall outside
    ``out`` (a geometry bug in the caller) is left to the per-chunk path, not written
    past the buffer."""
    data = np.arange(2 * 64 * 64, dtype=np.uint16).reshape(2, 64, 64)
    path = _write(tmp_path / "g.zarr", data, (1, 16, 16), zarr_format=2, compressors=BLOSC)
    src: Any = open_pyramid(path).levels[0].source
    box = [(1, 2), (0, 64), (0, 64)]
    chunks = list(src.grid.chunks_in_box(box))
    guard = np.full(64 * 64 + 64, 7, np.uint16)  # a plane, then 64 sentinels
    short = guard[: 48 * 64].reshape(1, 48, 64)  # three quarters of the plane
    status, _, _ = src.read_bulk(chunks, box, short, False, lambda fns: [f() for f in fns])
    rows = np.array([c[1] for c in chunks])
    assert (status[rows < 3] == _bulk.OK).all() and (status[rows == 3] == _bulk.FALLBACK).all()
    np.testing.assert_array_equal(short, data[1:2, :48])
    assert (guard[48 * 64:] == 7).all()  # nothing written past the short block
