"""The chunk integrity scan on datasets written by real writers, clean and with planted
defects: each defect is found at its level, chunk index and store key, and the clean twin
reports nothing at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_chunkview import open_pyramid
from napari_chunkview.qc import QCReport, run_qc

from .conftest import (
    Written,
    chunk_file,
    garbage,
    n5_block,
    rewrite_shard_index,
    set_n5_header_dims,
    truncate,
)


def codes(report: QCReport, severity: str | None = None) -> list[str]:
    return [f.code for f in report.findings if severity in (None, f.severity)]


def only(report: QCReport, code: str) -> list:  # type: ignore[type-arg]
    return [f for f in report.findings if f.code == code]


@pytest.mark.parametrize("fixture", ["ngff", "ngff04", "n5v", "sharded"])
def test_clean_twins_report_nothing(fixture: str, request: pytest.FixtureRequest) -> None:
    written: Written = request.getfixturevalue(fixture)
    report = run_qc(written.path)
    assert report.findings == (), [f.what for f in report.findings]
    assert report.complete and report.exit_code() == 0
    for lv in report.levels:
        assert lv.scanned and lv.counts["failed"] == 0
        assert lv.counts["ok"] == lv.n_chunks == lv.storage.stored_chunks  # type: ignore[union-attr]
        assert lv.stats is not None and lv.stats.exact


def test_deleted_chunk_is_missing_and_flagged_as_lost(ngff: Written) -> None:
    path, key = chunk_file(ngff, 0, (1, 2, 1))
    path.unlink()
    report = run_qc(ngff.path)
    [lost] = only(report, "chunk.missing_data")
    assert lost.severity == "error"
    assert (lost.where.level, lost.where.path, lost.where.chunk, lost.where.key) == (
        0, "s0", (1, 2, 1), key,
    )
    [note] = only(report, "chunk.missing")
    assert note.severity == "info" and note.count == 1 and note.where.chunk == (1, 2, 1)
    assert report.exit_code() == 1
    level0 = report.levels[0]
    assert level0.counts["missing"] == 1 and level0.states is not None
    assert level0.states[1, 2, 1] == 3  # the chunk-state map shows it


def test_deleted_chunk_of_the_coarsest_level_is_checked_against_the_finer(ngff: Written) -> None:
    path, key = chunk_file(ngff, 2, (1, 0, 0))
    path.unlink()
    [lost] = only(run_qc(ngff.path), "chunk.missing_data")
    assert (lost.where.level, lost.where.chunk, lost.where.key) == (2, (1, 0, 0), key)
    assert "level 1" in lost.what


def test_empty_regions_skipped_by_the_writer_are_not_errors(tmp_path: Path) -> None:
    """zarr-python omits chunks that are all fill value: missing, but nothing lost."""
    from .conftest import write_ngff

    written = write_ngff(tmp_path / "sparse.ome.zarr")
    for i, data in enumerate(written.levels):
        arr = zarr.open_array(str(written.path / f"s{i}"), mode="a")
        data = data.copy()
        data[:, : data.shape[1] // 2] = 0  # top half empty at every level
        arr[...] = data
    report = run_qc(written.path)
    assert codes(report, "error") == [] and codes(report, "warning") == []
    # only level 0 has chunk rows that are entirely empty (32 of its 50 empty rows)
    [note] = only(report, "chunk.missing")
    assert note.where.level == 0 and note.count == 2 * 3


def test_truncated_and_garbage_chunks(ngff: Written) -> None:
    t_path, t_key = chunk_file(ngff, 0, (0, 0, 2))
    truncate(t_path)
    g_path, g_key = chunk_file(ngff, 1, (1, 1, 0))
    garbage(g_path)
    report = run_qc(ngff.path)
    found = {
        (f.where.level, f.where.chunk, f.where.key): f for f in only(report, "chunk.undecodable")
    }
    assert set(found) == {(0, (0, 0, 2), t_key), (1, (1, 1, 0), g_key)}
    assert all(f.severity == "error" and f.why and f.fix for f in found.values())
    assert report.levels[0].counts["failed"] == 1 and report.levels[1].counts["failed"] == 1


def test_truncated_raw_chunk_has_the_wrong_size(tmp_path: Path) -> None:
    from .conftest import write_ngff

    written = write_ngff(tmp_path / "raw.ome.zarr", version="0.4", compressor=False)
    path, key = chunk_file(written, 0, (1, 1, 2))
    truncate(path)
    [f] = run_qc(written.path).findings
    assert (f.code, f.where.level, f.where.chunk, f.where.key) == ("chunk.size", 0, (1, 1, 2), key)
    assert "1024 elements, expected 2048" in f.what


def test_all_fill_stored_chunks_could_be_omitted(tmp_path: Path) -> None:
    path = tmp_path / "fill.zarr"
    arr = zarr.create_array(str(path), shape=(32, 32), chunks=(8, 8), dtype="uint8",
                            fill_value=0, config={"write_empty_chunks": True})
    data = np.random.default_rng(0).integers(1, 255, (32, 32)).astype("uint8")
    data[8:16, 16:24] = 0
    data[24:, :8] = 0
    arr[...] = data
    report = run_qc(path)
    [f] = report.findings
    assert (f.code, f.severity, f.count, f.where.chunk) == ("chunk.all_fill", "info", 2, (1, 2))
    assert f.where.key == "c/1/2"
    assert report.exit_code() == 0


def test_n5_header_truncation_and_garbage(n5v: Written) -> None:
    hdr, hdr_key = n5_block(n5v, 0, (0, 1, 1))
    set_n5_header_dims(hdr, [8, 16, 3])  # interior block, blockSize is [16, 16, 3]
    cut, cut_key = n5_block(n5v, 0, (1, 0, 1))
    truncate(cut)
    bad, bad_key = n5_block(n5v, 1, (0, 0, 0))
    garbage(bad)
    report = run_qc(n5v.path)
    where = {(f.code, f.where.level, f.where.chunk, f.where.key) for f in report.findings}
    assert where == {
        ("n5.header", 0, (0, 1, 1), hdr_key),
        ("chunk.size", 0, (1, 0, 1), cut_key),
        ("n5.header", 1, (0, 0, 0), bad_key),
    }
    assert hdr_key == "s0/1/1/0"  # N5 keys list x first: C-order (z, y, x) reversed
    header = next(f for f in report.findings if f.where.key == hdr_key)
    assert "[8, 16, 3]" in header.what and "[16, 16, 3]" in header.what


def test_n5_truncated_edge_blocks_are_fine(n5v: Written) -> None:
    """z5py writes edge blocks cropped to the dataset: not a header problem."""
    level = open_pyramid(n5v.path).levels[0]
    assert level.shape[1] % level.grid.chunk_shape[1]  # there are edge blocks
    assert run_qc(n5v.path, level=0).findings == ()


def test_corrupt_and_out_of_bounds_shard_indexes(sharded: Written) -> None:
    crc = sharded.path / "c/1/1"
    raw = bytearray(crc.read_bytes())
    raw[-10] ^= 0xFF  # bit rot in the index: crc32c no longer matches
    crc.write_bytes(bytes(raw))

    def point_outside(index: np.ndarray) -> None:
        index[1, 2, 0] = 10**6

    rewrite_shard_index(sharded.path / "c/0/1", point_outside)
    report = run_qc(sharded.path)
    [corrupt] = only(report, "shard.index")
    assert (corrupt.where.key, corrupt.count, corrupt.where.chunk) == ("c/1/1", 16, (4, 4))
    assert "crc32c" in corrupt.what
    [outside] = only(report, "shard.bounds")
    # inner chunk (1, 2) of shard (0, 1) is chunk (1, 6) of the array
    assert (outside.where.key, outside.where.chunk, outside.count) == ("c/0/1", (1, 6), 1)
    assert report.levels[0].counts["failed"] == 17
    assert len(report.findings) == 2
    # the storage count goes on past the corrupt index and says which shard it skipped
    figures = report.levels[0].storage
    assert figures is not None and list(figures.unreadable) == [(1, 1)]
    assert "crc32c" in figures.unreadable[(1, 1)]


def test_level_and_sample_limit_the_scan(ngff: Written) -> None:
    garbage(chunk_file(ngff, 0, (0, 0, 0))[0])
    only_2 = run_qc(ngff.path, level=2)
    assert [lv.scanned for lv in only_2.levels] == [False, False, True]
    assert "chunk.undecodable" not in codes(only_2)
    sampled = run_qc(ngff.path, sample=0.5)
    level0 = sampled.levels[0]
    assert level0.counts["scanned"] == np.ceil(0.5 * level0.n_chunks)
    assert level0.sample == 0.5
    again = run_qc(ngff.path, sample=0.5)  # seeded: the same chunks every time
    assert again.to_dict()["levels"] == sampled.to_dict()["levels"]


def test_cancel_returns_a_partial_report(ngff: Written) -> None:
    import threading

    cancel = threading.Event()
    seen: list[tuple[str, int, int]] = []

    def progress(phase: str, done: int, total: int) -> None:
        seen.append((phase, done, total))
        if phase == "scanning chunks" and done > 0:
            cancel.set()

    garbage(chunk_file(ngff, 2, (0, 0, 0))[0])
    report = run_qc(ngff.path, progress=progress, cancel=cancel, workers=1)
    assert not report.complete and report.exit_code() == 130
    assert any(p.startswith("listing") for p, _, _ in seen)
    scanned = sum(lv.counts.get("scanned", 0) for lv in report.levels)
    total = sum(lv.n_chunks for lv in report.levels)
    assert 0 < scanned < total
    assert report.to_dict()["complete"] is False


def test_over_http_without_listing(
    served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from napari_chunkview.qc import _plan

    from .conftest import write_ngff

    root, url = served
    written = write_ngff(root / "image.ome.zarr")
    path, key = chunk_file(written, 0, (0, 1, 1))
    path.unlink()
    report = run_qc(f"{url}/image.ome.zarr")
    assert not report.levels[0].storage.exact  # type: ignore[union-attr]
    [lost] = only(report, "chunk.missing_data")
    assert (lost.where.chunk, lost.where.key) == ((0, 1, 1), key)
    monkeypatch.setattr(_plan, "MAX_UNLISTED_CHUNKS", 4)
    sampled = run_qc(f"{url}/image.ome.zarr")
    notes = only(sampled, "scan.sampled")
    assert [f.where.level for f in notes] == [0, 1]  # 24 and 8 chunks; s2 has 2
    assert sampled.levels[0].counts["scanned"] == 4
