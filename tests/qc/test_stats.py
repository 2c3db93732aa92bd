"""Statistics from the scan, checked against numpy on the data that was written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview.qc import run_qc
from napari_chunkview.qc._stats import PERCENTILES, StatsPartial, finalize


def _write(path: Path, data: np.ndarray, chunks: tuple[int, ...], fill: object = 0) -> None:
    arr = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, chunks=chunks,
                            fill_value=fill)
    arr[...] = data


def test_exact_statistics_of_16_bit_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(3000, 700, (40, 50)).clip(0, 65535).astype("uint16")
    _write(tmp_path / "a.zarr", data, (16, 16))
    st = run_qc(tmp_path / "a.zarr").levels[0].stats
    assert st is not None and st.exact
    assert (st.count, st.min, st.max) == (data.size, data.min(), data.max())
    assert st.mean == pytest.approx(data.mean()) and st.std == pytest.approx(data.std())
    for q in PERCENTILES:
        assert st.percentiles[f"p{q:g}"] == np.percentile(data, q, method="inverted_cdf")
    assert sum(st.hist_counts) == data.size and st.saturated_count == 0


def test_missing_chunks_count_as_the_fill_value(tmp_path: Path) -> None:
    data = np.full((32, 32), 7, dtype="int16")
    data[:16, :16] = 5  # one chunk of another value ...
    data[16:, 16:] = -3  # ... and one that equals the fill value: zarr-python omits it
    _write(tmp_path / "f.zarr", data, (16, 16), fill=-3)
    report = run_qc(tmp_path / "f.zarr")
    st = report.levels[0].stats
    assert st is not None and (st.count, st.min, st.max) == (1024, -3, 7)
    assert st.mean == pytest.approx(data.mean())
    assert report.levels[0].counts["missing"] == 1


def test_saturation_is_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    data = rng.integers(10, 200, (64, 64)).astype("uint8")
    data[:8, :40] = 255  # 320 of 4096 pixels clipped
    _write(tmp_path / "s.zarr", data, (32, 32))
    report = run_qc(tmp_path / "s.zarr")
    [f] = report.findings
    assert (f.code, f.severity, f.where.level, f.count) == ("stats.saturated", "warning", 0, 320)
    assert report.levels[0].stats.saturated_fraction == pytest.approx(320 / 4096)  # type: ignore[union-attr]
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def test_float_statistics_nan_and_inf(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = rng.normal(0.5, 0.1, (48, 48)).astype("float32")
    data[3, 4] = np.nan
    data[40, 41] = np.inf
    _write(tmp_path / "f.zarr", data, (16, 16), fill=0.0)
    report = run_qc(tmp_path / "f.zarr")
    [f] = report.findings
    assert f.code == "stats.nan" and "1 NaN and 1 infinite" in f.what
    st = report.levels[0].stats
    finite = data[np.isfinite(data)]
    assert st is not None and not st.exact
    assert (st.min, st.max) == (float(finite.min()), float(finite.max()))
    assert st.mean == pytest.approx(float(finite.mean()), rel=1e-6)
    assert st.percentiles["p50"] == pytest.approx(float(np.median(finite)), abs=0.01)
    assert st.saturated_count is None


def test_wide_integers_keep_exact_extremes_and_saturation(tmp_path: Path) -> None:
    data = np.arange(100 * 64, dtype="int32").reshape(100, 64) * 1000
    data[0, 0] = np.iinfo("int32").max
    _write(tmp_path / "i.zarr", data, (32, 32))
    st = run_qc(tmp_path / "i.zarr").levels[0].stats
    assert st is not None and st.max == np.iinfo("int32").max and st.saturated_count == 1
    assert st.count == data.size and sum(st.hist_counts) == pytest.approx(data.size, rel=0.01)


def test_partials_merge_in_any_grouping() -> None:
    rng = np.random.default_rng(6)
    parts = [rng.integers(0, 4096, 1000).astype("uint16") for _ in range(4)]
    whole = StatsPartial("<u2")
    for p in parts:
        whole.add(p)
    left, right = StatsPartial("<u2"), StatsPartial("<u2")
    left.add(parts[0])
    left.add(parts[1])
    right.add(parts[2])
    right.add(parts[3])
    left.merge(right)
    assert finalize(left) == finalize(whole)


def test_partials_pickle_compactly() -> None:
    import pickle

    p = StatsPartial("<u2")
    p.add(np.arange(1000, 1200, dtype="uint16"))
    data = pickle.dumps(p)
    assert len(data) < 8000  # not the 512 KiB of a full 16-bit histogram
    back = pickle.loads(data)
    assert finalize(back) == finalize(p) and len(back.hist) == 65536
