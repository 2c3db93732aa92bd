"""Levels with absurd declared sizes (metadata written by zarr-python, no chunk files):
QC finishes its report, flags a level too big for its 64-bit arithmetic instead of
crashing, caps a sample at ``MAX_SAMPLED_CHUNKS`` and says so, and plans in time and
memory that do not grow with the grid. Normal datasets sample the same chunks as before."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from napari_chunkview.qc import QCReport, html_report, run_qc
from napari_chunkview.qc._plan import MAX_SAMPLED_CHUNKS, MAX_SCANNABLE, sample_flat

from .conftest import Written, chunk_file, garbage
from .test_report import validate

#: A hang guard, not a speed requirement: planning must not walk a 2**40-chunk grid.
WALL = 20.0


def only(report: QCReport, code: str) -> list:  # type: ignore[type-arg]
    return [f for f in report.findings if f.code == code]


def empty_array(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Path:
    """A zarr v3 array declared by zarr-python: metadata only, every chunk missing."""
    zarr.create_array(str(path), shape=shape, chunks=chunks, dtype="uint8", zarr_format=3)
    assert [p.name for p in path.iterdir()] == ["zarr.json"]
    return path


def timed_qc(target: str | Path, **kw: Any) -> QCReport:
    t0 = time.perf_counter()
    report = run_qc(target, **kw)
    assert time.perf_counter() - t0 < WALL
    return report


@pytest.mark.parametrize("sample", [None, 0.01, 1.0])
def test_level_beyond_int64_is_flagged_not_scanned(tmp_path: Path, sample: float | None) -> None:
    path = empty_array(tmp_path / "huge.zarr", (2**62, 2**62), (1, 1))
    report = timed_qc(path, sample=sample)
    assert report.complete and report.exit_code() == 0
    [note] = only(report, "scan.too_big")
    assert note.severity == "warning" and note.where.level == 0
    assert str(2**124) in note.what and "too many to scan" in note.what
    [lv] = report.levels
    assert lv.n_chunks == 2**124 and not lv.scanned and lv.counts == {}
    assert lv.storage is not None and lv.storage.exact and lv.storage.stored_chunks == 0
    assert validate(report)["levels"][0]["n_chunks"] == 2**124
    assert "scan.too_big" in html_report(report)


def test_too_many_elements_is_flagged(tmp_path: Path) -> None:
    """2**60 chunks fit int64, their 2**80 elements do not (the histogram counts them)."""
    path = empty_array(tmp_path / "wide.zarr", (2**40, 2**40), (2**10, 2**10))
    [note] = only(timed_qc(path), "scan.too_big")
    assert f"declares {2**80} elements" in note.what and str(MAX_SCANNABLE) in note.what


def test_other_levels_still_scanned(ngff: Written) -> None:
    """One level of an OME-Zarr pyramid redeclared absurdly big: the planted defect in
    another level is still found and the report is complete."""
    _, key = chunk_file(ngff, 0, (1, 1, 1))
    garbage(ngff.path / key)
    zarr.create_array(
        str(ngff.path / "s2"),
        shape=(4, 2**62, 2**62),
        chunks=(1, 1, 1),
        dtype="uint16",
        zarr_format=3,
        overwrite=True,
    )
    for sample in (None, 0.5):
        report = timed_qc(ngff.path, sample=sample)
        assert report.complete
        by_path = {lv.path: lv for lv in report.levels}
        assert not by_path["s2"].scanned and by_path["s0"].scanned and by_path["s1"].scanned
        [big] = only(report, "scan.too_big")
        assert report.levels[big.where.level].path == "s2"
        if sample is None:
            [bad] = only(report, "chunk.undecodable")
            assert (bad.where.key, report.levels[bad.where.level].path) == (key, "s0")
        validate(report)


@pytest.mark.parametrize("side", [2**20, 2**31])  # 2**40 and 2**62 chunks
def test_sample_is_capped(tmp_path: Path, side: int) -> None:
    path = empty_array(tmp_path / "big.zarr", (side, side), (1, 1))
    n = side * side
    report = timed_qc(path, sample=0.01)
    assert report.complete
    [note] = only(report, "scan.capped")
    assert note.severity == "info" and f"capped at {MAX_SAMPLED_CHUNKS} chunks" in note.what
    assert f"({n // 100 + (n % 100 > 0)} of its {n} chunks)" in note.what
    [lv] = report.levels
    assert lv.counts["scanned"] == lv.counts["missing"] == MAX_SAMPLED_CHUNKS
    assert lv.sample == MAX_SAMPLED_CHUNKS / n
    assert only(report, "level.empty")  # the listing still says: nothing stored at all
    validate(report)
    full = timed_qc(path)  # listed: every chunk known missing without a request
    assert not only(full, "scan.capped") and full.levels[0].counts["missing"] == n


def test_sampling_is_seeded_and_bounded() -> None:
    """The three ways of drawing (Floyd, bounded shuffle, draw-and-dedupe) give distinct,
    sorted, in-range indices, the same ones for the same seed."""
    for n, k in ((2**62, 1000), (100, 60), (9 * 2**20, 2**19)):
        a = sample_flat(np.random.default_rng([0, 1, n]), n, k)
        b = sample_flat(np.random.default_rng([0, 1, n]), n, k)
        assert np.array_equal(a, b) and len(a) == k
        assert len(np.unique(a)) == k and np.all(np.diff(a) > 0)
        assert 0 <= a[0] and a[-1] < n
    c = sample_flat(np.random.default_rng([0, 2, n]), n, k)
    assert not np.array_equal(a, c)
    # spread over the grid, not bunched at its start
    assert a[k // 2] / n == pytest.approx(0.5, abs=0.01)


def test_normal_sample_unchanged(ngff: Written) -> None:
    """A normal level samples exactly the chunks it sampled before the cap existed:
    ``rng.choice`` seeded with (image, level, n_chunks)."""
    first, again = run_qc(ngff.path, sample=0.5), run_qc(ngff.path, sample=0.5)
    assert not [f for f in first.findings if f.code.startswith("scan.")]
    for li, lv in enumerate(first.levels):
        n = lv.n_chunks
        rng = np.random.default_rng([0, li, n])
        expected = np.sort(rng.choice(n, size=max(1, -(-n // 2)), replace=False))
        states, states_again = lv.states, again.levels[li].states
        assert states is not None and states_again is not None
        seen = np.flatnonzero(states.ravel() != 0)  # 0: not scanned
        assert np.array_equal(seen, expected)
        assert np.array_equal(states, states_again)
        assert lv.sample == 0.5 and lv.counts == again.levels[li].counts


def test_huge_level_over_http(served: tuple[Path, str]) -> None:
    """Without a listing the level would be auto-sampled; it is flagged before that."""
    root, url = served
    empty_array(root / "huge.zarr", (2**62, 2**62), (1, 1))
    for sample in (None, 0.5):
        report = timed_qc(f"{url}/huge.zarr", sample=sample)
        assert report.complete and [f.code for f in report.findings] == ["scan.too_big"]
        storage = report.levels[0].storage
        assert storage is not None and not storage.exact
