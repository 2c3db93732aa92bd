"""A huge single level gets virtual coarse levels: exact decimated values, small reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.loading import CACHE, EVENTS, ChunkEvent, _virtual


@pytest.fixture
def big_level(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, np.ndarray]:
    # shrink the thresholds so a small array plays the huge one
    monkeypatch.setattr(_virtual, "MAX_COARSEST_SIDE", 256)
    monkeypatch.setattr(_virtual, "TARGET_SIDE", 64)
    path = tmp_path / "big.zarr"
    data = np.random.default_rng(3).integers(0, 1000, (3, 512, 384), dtype="uint16")
    a = zarr.create_array(path, shape=data.shape, chunks=(1, 64, 64), dtype="uint16")
    a[:] = data
    return path, data


def test_virtual_levels_are_exact_decimations(big_level: tuple[Path, np.ndarray]) -> None:
    path, data = big_level
    pyr = open_pyramid(path)
    assert [lv.shape for lv in pyr.levels] == [
        (3, 512, 384), (3, 256, 192), (3, 128, 96), (3, 64, 48),
    ]
    assert [bool(lv.virtual) for lv in pyr.levels] == [False, True, True, True]
    assert pyr.stored_levels == pyr.levels[:1]
    for k, lv in enumerate(pyr.levels[1:], start=1):
        f = 2**k
        expected = data[:, ::f, ::f]  # the 3 z planes are too thin to decimate
        np.testing.assert_array_equal(np.asarray(lv.array[:, :, :]), expected)
        np.testing.assert_array_equal(lv.data.compute(), expected)
        assert lv.scale[1:] == (float(f), float(f))


def test_coarsest_frame_reads_each_stored_chunk_once_and_caches_small(
    big_level: tuple[Path, np.ndarray],
) -> None:
    path, data = big_level
    pyr = open_pyramid(path)
    coarsest = pyr.levels[-1]
    events: list[ChunkEvent] = []
    unsubscribe = EVENTS.subscribe(events.append)
    try:
        before = CACHE.nbytes
        frame = np.asarray(coarsest.array[1])
    finally:
        unsubscribe()
    np.testing.assert_array_equal(frame, data[1, ::8, ::8])
    done = [e for e in events if e.kind == "done"]
    # one virtual chunk per stored chunk of the plane: 8×6 of them
    assert len(done) == 8 * 6
    assert len({e.key for e in done}) == 8 * 6
    # only the decimated chunks are cached, not the stored ones they came from
    assert CACHE.nbytes - before <= frame.nbytes
    assert pyr.levels[0].array.state((1, 0, 0)) == "not_loaded"
