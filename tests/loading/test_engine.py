"""The read path: exactly the chunks in view, events for each, one bounded cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.loading import (
    MISSING,
    ChunkCache,
    ChunkEvent,
    EventStream,
    LevelArray,
    LoadStats,
)


@pytest.fixture
def sparse(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """6×6 chunks of 4×4; chunk (1, 1) never written, chunk (2, 2) corrupted."""
    path = tmp_path / "s.zarr"
    a = zarr.create_array(path, shape=(24, 24), chunks=(4, 4), dtype="uint16", fill_value=7)
    data = np.arange(24 * 24, dtype="uint16").reshape(24, 24)
    for i in range(6):
        for j in range(6):
            if (i, j) != (1, 1):
                a[i * 4 : i * 4 + 4, j * 4 : j * 4 + 4] = data[i * 4 : i * 4 + 4, j * 4 : j * 4 + 4]
    (path / "c" / "2" / "2").write_bytes(b"\x00garbage")
    expected = data.copy()
    expected[4:8, 4:8] = 7
    expected[8:12, 8:12] = 7
    return path, expected


def _level(path: Path, cache: ChunkCache, events: EventStream) -> LevelArray:
    src = open_pyramid(path).levels[0].source
    return LevelArray(src, name="t/0", cache=cache, events=events)


def test_reads_exactly_the_chunks_in_view(sparse: tuple[Path, np.ndarray]) -> None:
    path, expected = sparse
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = _level(path, ChunkCache(1 << 20), stream)
    assert la.source.has_fast_path  # type: ignore[attr-defined]

    view = la[2:10, 3:6]  # rows 2..9 → chunk rows 0..2, cols 3..5 → chunk cols 0..1
    np.testing.assert_array_equal(view, expected[2:10, 3:6])
    requested = sorted(e.index for e in events if e.kind == "requested")
    assert requested == [(i, j) for i in range(3) for j in range(2)]
    kinds = {e.index: e.kind for e in events if e.kind != "requested"}
    assert kinds == {
        (i, j): ("missing" if (i, j) == (1, 1) else "done") for i in range(3) for j in range(2)
    }
    done = [e for e in events if e.kind == "done"]
    assert all(e.nbytes_decoded == 4 * 4 * 2 and e.nbytes_stored > 0 and e.ms >= 0 for e in done)
    assert {e.key for e in done} >= {"c/0/0", "c/2/1"}

    # the same view again comes from the cache: no new request
    events.clear()
    np.testing.assert_array_equal(la[2:10, 3:6], expected[2:10, 3:6])
    assert {e.kind for e in events} == {"cache_hit"}
    assert la.state((1, 1)) == "missing" and la.state((0, 0)) == "loaded"
    assert la.state((5, 5)) == "not_loaded"


def test_corrupt_chunk_is_failed_and_the_rest_reads(sparse: tuple[Path, np.ndarray]) -> None:
    path, expected = sparse
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = _level(path, ChunkCache(1 << 20), stream)
    np.testing.assert_array_equal(la[:, :], expected)
    failed = [e for e in events if e.kind == "failed"]
    assert [e.index for e in failed] == [(2, 2)] and failed[0].reason
    assert la.state((2, 2)) == "failed" and list(la.failures) == [(2, 2)]


def test_cache_is_bounded_and_shared(sparse: tuple[Path, np.ndarray]) -> None:
    path, expected = sparse
    cache = ChunkCache(max_bytes=5 * 32)  # room for five 4×4 uint16 chunks
    la = _level(path, cache, EventStream())
    for i in range(0, 24, 4):
        np.testing.assert_array_equal(la[i : i + 4, :], expected[i : i + 4, :])
        assert cache.nbytes <= cache.max_bytes
    assert cache.evictions > 0
    assert len(cache) <= 5 + 1


def test_stats_follow_the_stream(sparse: tuple[Path, np.ndarray]) -> None:
    path, _ = sparse
    stream = EventStream()
    stats = LoadStats()
    stream.subscribe(stats)
    la = _level(path, ChunkCache(1 << 20), stream)
    np.asarray(la[:, :])
    np.asarray(la[:4, :4])
    snap = stats.snapshot()
    assert snap["requested"] == 36 and snap["done"] == 34
    assert snap["missing"] == 1 and snap["failed"] == 1
    assert snap["cache_hits"] == 1 and snap["in_flight"] == 0
    assert snap["bytes_decoded"] == 34 * 32
    assert snap["latency_ms"][50] >= 0


def test_no_listener_no_events(sparse: tuple[Path, np.ndarray]) -> None:
    stream = EventStream()
    assert not stream.active
    unsubscribe = stream.subscribe(lambda e: None)
    assert stream.active
    unsubscribe()
    assert not stream.active


def test_dask_levels_read_through_the_engine(sparse: tuple[Path, np.ndarray]) -> None:
    path, expected = sparse
    pyr = open_pyramid(path)
    np.testing.assert_array_equal(pyr.levels[0].data.compute(), expected)
    assert pyr.levels[0].array.state((2, 2)) == "failed"
    assert MISSING is not None


def test_sharded_inner_chunks_are_read_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "sh.zarr"
    a = zarr.create_array(path, shape=(16, 16), chunks=(4, 4), shards=(8, 8), dtype="int32",
                          fill_value=-1)
    data = np.arange(256, dtype="int32").reshape(16, 16)
    a[:8, :8] = data[:8, :8]
    a[8:12, 8:12] = data[8:12, 8:12]  # one inner chunk of the last shard
    expected = np.full((16, 16), -1, dtype="int32")
    expected[:8, :8] = data[:8, :8]
    expected[8:12, 8:12] = data[8:12, 8:12]
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = _level(path, ChunkCache(1 << 20), stream)
    assert la.source.grid.shard_shape == (8, 8)
    assert la.source.has_fast_path  # type: ignore[attr-defined]
    np.testing.assert_array_equal(la[9:14, 9:14], expected[9:14, 9:14])
    states = {e.index: e.kind for e in events if e.kind != "requested"}
    assert states == {(2, 2): "done", (2, 3): "missing", (3, 2): "missing", (3, 3): "missing"}
    np.testing.assert_array_equal(la[:, :], expected)
    assert all(e.key.startswith("c/") for e in events if e.key)


def test_slicing_is_lazy_and_composes(sparse: tuple[Path, np.ndarray]) -> None:
    path, expected = sparse
    events: list[ChunkEvent] = []
    stream = EventStream()
    stream.subscribe(events.append)
    la = _level(path, ChunkCache(1 << 20), stream)
    view = la[3:20, 5:23]
    assert view.shape == (17, 18) and events == []  # nothing read yet
    plane = view[4]  # row 7 of the level
    assert plane.shape == (18,) and plane.ndim == 1
    sub = plane[2:6]
    np.testing.assert_array_equal(np.asarray(sub), expected[7, 7:11])
    assert sorted(e.index for e in events if e.kind == "done") == [(1, 1), (1, 2)] or sorted(
        e.index for e in events if e.kind in ("done", "missing")
    ) == [(1, 1), (1, 2)]
    np.testing.assert_array_equal(np.asarray(la[::5, 2]), expected[::5, 2])  # steps read at once
    assert int(np.asarray(la[7, 9])) == expected[7, 9]
