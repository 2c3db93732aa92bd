"""Thin reads through big chunks (a z-plane of 64³ chunks): the box alone is read by
tensorstore, then the whole chunks are read into the cache in the background
(``LevelArray._read_thin``). The values are right, every chunk is reported once, reads
of chunks being read ahead wait for them or take them back, and broken chunks are still
found one by one."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec

from napari_chunkview import open_pyramid
from napari_chunkview.loading import EVENTS, ChunkCache, LevelArray, settle, warm_up
from napari_chunkview.loading._level_array import _ahead_pool

#: 40x64x64 uint16 chunks: 320 KiB, above the size where a thin box is read thin
CHUNKS = (40, 64, 64)


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.integers(0, 60000, size=(80, 150, 128), dtype=np.uint16)  # 2x3x2 chunks


def _write(path: Path, data: np.ndarray, **kw: object) -> Path:
    z = zarr.create_array(path, shape=data.shape, chunks=CHUNKS, dtype=data.dtype, **kw)  # type: ignore[arg-type]
    z[...] = data
    return path


@pytest.fixture(params=["tensorstore", "compiled"])
def engine(request: pytest.FixtureRequest) -> str:
    """Which reader reads the thin box: tensorstore, or the compiled reader once built."""
    if request.param == "compiled" and not warm_up(timeout=300):
        pytest.fail("the compiled reader could not be built")
    return str(request.param)


def _fresh(
    path: Path, engine: str, cache_mb: int = 64
) -> tuple[LevelArray, list[tuple[tuple[int, int], ...]]]:
    """A LevelArray with its own cache, recording the boxes read thin (by tensorstore or
    by the compiled reader: the read-ahead uses neither)."""
    lv = open_pyramid(path).levels[0]
    arr = LevelArray(lv.source, name=f"ra{os.urandom(4).hex()}", cache=ChunkCache(cache_mb << 20))
    if engine == "tensorstore":
        arr._thin_compiled = False
    boxes: list[tuple[tuple[int, int], ...]] = []
    src = arr.source
    stored, bulk = src.read_stored, src.read_bulk

    def spy_stored(box, indices, step=None):  # type: ignore[no-untyped-def]
        boxes.append(tuple(box))
        return stored(box, indices, step)

    def spy_bulk(indices, box, out, keep, run_parts):  # type: ignore[no-untyped-def]
        assert not keep
        boxes.append(tuple(box))
        return bulk(indices, box, out, keep, run_parts)

    src.read_stored = spy_stored  # type: ignore[method-assign]
    src.read_bulk = spy_bulk  # type: ignore[method-assign]
    return arr, boxes


@pytest.fixture
def events() -> Iterator[list[tuple[str, str, tuple[int, ...]]]]:
    seen: list[tuple[str, str, tuple[int, ...]]] = []
    unsubscribe = EVENTS.subscribe(lambda e: seen.append((e.source, e.kind, e.index)))
    yield seen
    unsubscribe()


Seen = list[tuple[str, str, tuple[int, ...]]]


def _kinds(seen: Seen, arr: LevelArray) -> Counter[tuple[str, tuple[int, ...]]]:
    return Counter((k, i) for s, k, i in seen if s == arr.name)


PLANE_CHUNKS = {(0, j, k) for j in range(3) for k in range(2)}


@pytest.mark.parametrize(
    "kw",
    [
        {"zarr_format": 2, "compressors": numcodecs.Blosc("lz4", 5, 1)},
        {"zarr_format": 2, "compressors": numcodecs.Zstd(1),
         "chunk_key_encoding": {"name": "v2", "separator": "/"}},
        {"zarr_format": 3, "shards": (40, 128, 128),
         "compressors": BloscCodec(cname="zstd")},
    ],
    ids=["v2-blosc", "v2-zstd-nested", "v3-sharded-blosc"],
)
def test_a_thin_read_answers_then_reads_whole_chunks_ahead(
    tmp_path: Path, data: np.ndarray, kw: dict, engine: str  # type: ignore[type-arg]
) -> None:
    arr, boxes = _fresh(_write(tmp_path / "a.zarr", data, **kw), engine)
    sharded = arr.source.grid.shard_shape is not None
    seen: list[tuple[str, str, tuple[int, ...]]] = []
    # (with a listener, shards go chunk by chunk: that path knows each inner chunk's
    # stored size, so the sharded case is read without one)
    unsubscribe = None if sharded else EVENTS.subscribe(
        lambda e: seen.append((e.source, e.kind, e.index)))
    try:
        np.testing.assert_array_equal(np.asarray(arr[10, 3:140, :]), data[10, 3:140, :])
        assert settle(timeout=30)
    finally:
        if unsubscribe is not None:
            unsubscribe()
    assert boxes == [((10, 11), (3, 140), (0, 128))]  # the thin box, no more
    for idx in PLANE_CHUNKS:
        assert arr.state(idx) == "loaded"
    if not sharded:
        counts = _kinds(seen, arr)
        for idx in PLANE_CHUNKS:  # one requested/done pair a chunk, from the read-ahead
            assert counts[("requested", idx)] == 1 and counts[("done", idx)] == 1
        assert not any(k == "failed" for k, _ in counts)
    # the rest of the chunk row is in the cache: no more reads
    for z in range(0, 40, 7):
        np.testing.assert_array_equal(np.asarray(arr[z]), data[z])
    assert len(boxes) == 1
    assert arr._ahead == {} and not arr._in_flight


def _block_ahead_pool() -> threading.Event:
    """Occupy every read-ahead thread until the event is set (by the test, or after 20 s
    so that a failing test does not hang)."""
    release = threading.Event()
    pool = _ahead_pool()
    started = threading.Barrier(pool._max_workers + 1)

    def hold() -> None:
        started.wait()
        release.wait()

    for _ in range(pool._max_workers):
        pool.submit(hold)
    started.wait(10)
    threading.Timer(20, release.set).start()
    return release


def test_a_read_takes_back_read_ahead_that_has_not_started(
    tmp_path: Path, data: np.ndarray, events: list, engine: str  # type: ignore[type-arg]
) -> None:
    arr, boxes = _fresh(_write(tmp_path / "a.zarr", data, zarr_format=2,
                               compressors=numcodecs.Blosc("zstd", 3, 2)), engine)
    release = _block_ahead_pool()
    try:
        np.testing.assert_array_equal(np.asarray(arr[5]), data[5])
        for idx in PLANE_CHUNKS:  # queued: in flight, not cached
            assert arr.state(idx) == "in_flight"
        # the next plane reads the chunks itself, whole, at once
        np.testing.assert_array_equal(np.asarray(arr[6]), data[6])
        assert not release.is_set()  # (it did not wait for the blocked read-ahead)
        for idx in PLANE_CHUNKS:
            assert arr.state(idx) == "loaded"
        assert len(boxes) == 1
    finally:
        release.set()
    assert settle(timeout=30)
    counts = _kinds(events, arr)
    for idx in PLANE_CHUNKS:  # read once, by the second read; the read-ahead was dropped
        assert counts[("done", idx)] == 1 and counts[("requested", idx)] == 1
    np.testing.assert_array_equal(np.asarray(arr[39]), data[39])
    assert arr._ahead == {}


def test_a_read_waits_for_read_ahead_under_way(
    tmp_path: Path, data: np.ndarray, events: list, engine: str  # type: ignore[type-arg]
) -> None:
    arr, boxes = _fresh(_write(tmp_path / "a.zarr", data, zarr_format=2,
                               compressors=numcodecs.Blosc("lz4", 5, 1)), engine)
    src: Any = arr.source
    fetch = src.fetch
    fetching = threading.Event()

    def slow_fetch(batch):  # type: ignore[no-untyped-def]
        if threading.current_thread().name.startswith("chunkview-ahead"):
            fetching.set()
            threading.Event().wait(0.3)  # the read-ahead is under way for a while
        return fetch(batch)

    src.fetch = slow_fetch
    np.testing.assert_array_equal(np.asarray(arr[20, 64:128]), data[20, 64:128])
    assert fetching.wait(10)
    np.testing.assert_array_equal(np.asarray(arr[21, 64:128]), data[21, 64:128])
    counts = _kinds(events, arr)
    touched = {(0, 1, 0), (0, 1, 1)}
    for idx in touched:  # the second read waited, then found them cached
        assert counts[("done", idx)] == 1
        assert counts[("cache_hit", idx)] == 1
    assert len(boxes) == 1
    assert settle(timeout=30)


def test_a_thin_read_too_big_to_cache_is_only_read_thin(
    tmp_path: Path, data: np.ndarray, events: list, engine: str  # type: ignore[type-arg]
) -> None:
    # 6 chunks of 320 KiB against an eighth of a 8 MiB cache
    arr, boxes = _fresh(_write(tmp_path / "a.zarr", data, zarr_format=2,
                               compressors=numcodecs.Blosc("lz4", 5, 1)), engine, cache_mb=8)
    np.testing.assert_array_equal(np.asarray(arr[50]), data[50])
    assert settle(timeout=30)
    plane = {(1, j, k) for j in range(3) for k in range(2)}
    counts = _kinds(events, arr)
    for idx in plane:
        assert arr.state(idx) == "not_loaded"
        assert counts[("requested", idx)] == 1 and counts[("done", idx)] == 1
    assert arr.cache.nbytes == 0 and not arr._in_flight
    np.testing.assert_array_equal(np.asarray(arr[51]), data[51])
    assert len(boxes) == 2  # read thin again


def test_broken_and_missing_chunks_in_a_thin_read_are_found_one_by_one(
    tmp_path: Path, data: np.ndarray, engine: str
) -> None:
    path = _write(tmp_path / "a.zarr", data, zarr_format=2,
                  compressors=numcodecs.Blosc("lz4", 5, 1), fill_value=9)
    (path / "0.1.1").write_bytes(b"\x02\x01" + os.urandom(300))  # not blosc
    (path / "0.2.0").unlink()
    arr, _ = _fresh(path, engine)
    got = np.asarray(arr[7])
    expect = data[7].copy()
    expect[64:128, 64:128] = 9
    expect[128:, 0:64] = 9
    np.testing.assert_array_equal(got, expect)
    assert settle(timeout=30)
    assert arr.state((0, 1, 1)) == "failed"
    assert arr.state((0, 2, 0)) == "missing"
    assert arr.state((0, 0, 0)) == "loaded"


_EXIT_SCRIPT = """
import sys, threading, time
import numpy as np
from napari_chunkview import open_pyramid
from napari_chunkview.loading import ChunkCache, LevelArray
from napari_chunkview.loading import _level_array as la

ran = []
batch = la.LevelArray._ahead_batch
la.LevelArray._ahead_batch = lambda self, b: (ran.append(len(b)), batch(self, b))[1]
arr = LevelArray(open_pyramid(sys.argv[1]).levels[0].source, name="exit",
                 cache=ChunkCache(64 << 20))
arr._thin_compiled = False
pool = la._ahead_pool()
for _ in range(pool._max_workers):  # every read-ahead thread busy for a moment
    pool.submit(time.sleep, 0.5)
np.asarray(arr[5])  # a thin read: its read-ahead is queued behind them
assert arr.state((0, 0, 0)) == "in_flight", arr.state((0, 0, 0))
# reported once the interpreter has joined the pool's threads (``atexit`` runs after)
import atexit
atexit.register(lambda: print("read-ahead batches run:", len(ran), flush=True))
"""


def test_queued_read_ahead_is_dropped_at_exit(tmp_path: Path, data: np.ndarray) -> None:
    """Closing the interpreter (napari) does not wait for read-ahead nobody will see:
    the batches still queued are cancelled before the pool's threads are joined."""
    import subprocess
    import sys

    path = _write(tmp_path / "a.zarr", data, zarr_format=2,
                  compressors=numcodecs.Blosc("zstd", 3, 2))
    script = tmp_path / "exit.py"
    script.write_text(_EXIT_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "read-ahead batches run: 0" in done.stdout, done.stdout + done.stderr
