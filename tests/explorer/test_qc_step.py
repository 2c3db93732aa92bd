"""The inspector's QC step without any GUI (a ``MagicMock(spec=QCView)`` whose
``call_in_main`` runs at once, on the worker): progress, ranked findings and where they
are, cancel with partial results, failures, following pyramids, saving, teardown."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from napari_chunkview import open_pyramid
from napari_chunkview.explorer import QCRow, QCState, QCStep, QCView, locate
from napari_chunkview.model import SEVERITIES, Location

from ._datasets import Dataset


def make_view() -> MagicMock:
    view = MagicMock(spec=QCView)
    view.call_in_main.side_effect = lambda fn: fn()
    return view


def states(view: MagicMock) -> list[QCState]:
    return [c.args[0] for c in view.set_qc.call_args_list]


def step_for(ds: Dataset, **kw: Any) -> tuple[QCStep, MagicMock, Any]:
    view = make_view()
    step = QCStep(view, **kw)
    pyr = open_pyramid(ds.path)
    step.show(pyr, "nested")
    return step, view, pyr


def test_a_run_reports_progress_then_ranked_findings(v2_nested: Dataset) -> None:
    step, view, _pyr = step_for(v2_nested, throttle=0.0)
    assert states(view)[-1].status == "idle" and states(view)[-1].levels == ("0", "1")
    job = step.run()
    assert job is not None and step.wait(60) and not step.busy
    seen = states(view)
    running = [s for s in seen if s.status == "running"]
    assert running[0].phase == "starting"
    scans = [(s.done, s.total) for s in running if s.phase == "scanning chunks"]
    n_chunks = 48 + 12  # both levels: 3x4x4 and 3x2x2 chunks
    assert scans[-1] == (n_chunks - 1, n_chunks - 1)  # the missing one is known from the listing
    assert [d for d, _ in scans] == sorted(d for d, _ in scans)
    assert any(s.phase.startswith("listing") for s in running)
    final = seen[-1]
    assert final.status == "done" and final.report is job.report and job.report.complete
    assert final.counts == job.report.counts() == {"error": 2, "warning": 0, "info": 1}
    assert final.summary().startswith("2 errors · 0 warnings · 1 note — ")
    ranks = [SEVERITIES.index(r.severity) for r in final.rows]
    assert ranks == sorted(ranks)  # most severe first
    by_code = {r.code: r for r in final.rows}
    bad, gone = by_code["chunk.undecodable"], by_code["chunk.missing_data"]
    assert (bad.location.level, bad.location.chunk, bad.location.key) == (0, (2, 1, 1), "0/2/1/1")
    assert (gone.location.level, gone.location.chunk) == (0, (1, 0, 0))
    assert bad.navigable and "incorrect header check" in bad.what
    assert bad.where == "level 0 (0), chunk (2, 1, 1), key 0/2/1/1"
    # where the corrupt chunk is: level 0, z 4-6, y and x 16-32 (chunks 2x16x16)
    target = step.target(bad)
    assert target is not None and (target.level, target.chunk) == (0, (2, 1, 1))
    assert target.box == ((4, 6), (16, 32), (16, 32))
    assert target.point == (5.0, 24.0, 24.0) and target.slice_index == (4, 23, 23)
    for (a, b), p, i in zip(target.box, target.point, target.slice_index, strict=True):
        assert a <= p < b and a <= i < b
    assert v2_nested.corrupt[0] == {target.chunk} and v2_nested.missing[0] == {gone.location.chunk}
    step.close()


def test_locate_levels_chunks_and_nowhere(v2_nested: Dataset) -> None:
    pyr = open_pyramid(v2_nested.path)
    level = locate(pyr, Location(level=1, path="1"))
    assert level is not None and level.chunk is None and level.box == ((0, 6), (0, 32), (0, 32))
    # the array path wins over a level index that does not match it
    by_path = locate(pyr, Location(level=0, path="1", chunk=(0, 1, 1)))
    assert (
        by_path is not None and by_path.level == 1 and by_path.box == ((0, 2), (16, 32), (16, 32))
    )
    edge = locate(pyr, Location(level=0, chunk=(2, 3, 3)))
    assert edge is not None and edge.box == ((4, 6), (48, 64), (48, 64))
    assert locate(pyr, Location()) is None  # group metadata: no place in the image
    assert locate(pyr, Location(level=7)) is None
    assert locate(pyr, Location(image="labels/none", level=0)) is None
    outside = locate(pyr, Location(level=0, chunk=(9, 9, 9)))  # not in the grid: the level
    assert outside is not None and outside.chunk is None


def test_cancel_returns_partial_results(v2_nested: Dataset) -> None:
    view = make_view()
    step = QCStep(view, throttle=0.0)
    pyr = open_pyramid(v2_nested.path)
    step.show(pyr, "nested")

    def set_qc(state: QCState) -> None:  # cancel once the scan has read some chunks
        if state.phase == "scanning chunks" and 0 < state.done < state.total:
            step.cancel()

    view.set_qc.side_effect = set_qc
    job = step.run()
    assert job is not None and step.wait(60)
    seen = states(view)
    assert any(s.phase == "cancelling" for s in seen)
    final = seen[-1]
    assert final.status == "cancelled" and not job.report.complete
    assert final.summary().startswith("Cancelled — partial results: ")
    scanned = sum(lv.counts.get("scanned", 0) for lv in job.report.levels)
    assert 0 < scanned < 60  # some chunks were read, not all
    assert final.rows == tuple(QCRow.of(f) for f in job.report.findings)  # what was found
    ranks = [SEVERITIES.index(r.severity) for r in final.rows]
    assert ranks == sorted(ranks)
    step.close()


def test_a_failed_run_says_why(v2_nested: Dataset) -> None:
    step, view, _pyr = step_for(v2_nested)
    job = step.run(level=5)  # no such level: the engine refuses
    assert job is not None and step.wait(30)
    final = states(view)[-1]
    assert final.status == "failed" and "level 5 does not exist" in final.error
    assert final.summary().startswith("QC failed: level 5 does not exist")
    assert job.report is None and job.error == final.error
    step.close()


def test_options_and_runs_follow_their_pyramid(v2_nested: Dataset, ngff_sharded: Dataset) -> None:
    step, view, nested = step_for(v2_nested)
    job = step.run(level=1, sample=0.5)
    assert job is not None and step.wait(60)
    done = states(view)[-1]
    assert (done.status, done.level, done.sample) == ("done", 1, 0.5)
    assert "(level 1 scanned, 50% of the chunks sampled)" in done.summary()
    scanned = {lv.index: lv.scanned for lv in job.report.levels}
    assert scanned == {0: False, 1: True}
    # another pyramid: nothing checked yet; coming back shows the run again
    step.show(open_pyramid(ngff_sharded.path), "sharded")
    other = states(view)[-1]
    assert (other.status, other.title, other.rows) == ("idle", "sharded", ())
    step.show(nested, "nested")
    assert states(view)[-1].report is job.report
    step.show(None)
    assert states(view)[-1] == QCState()
    step.close()


def test_save_json_and_html(v2_nested: Dataset, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    step, view, _pyr = step_for(v2_nested)
    job = step.run()
    assert job is not None and step.wait(60)
    for name in ("report.json", "report.html"):
        path = tmp_path / name
        step.save(path)
        deadline = time.monotonic() + 30
        while not states(view)[-1].note and time.monotonic() < deadline:
            time.sleep(0.05)
        assert states(view)[-1].note == f"Saved the report to {name}"
        step.set_note("")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["summary"] == {"error": 2, "warning": 0, "info": 1}
    assert {f["code"] for f in data["findings"]} >= {"chunk.undecodable", "chunk.missing_data"}
    html = (tmp_path / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") or "<html" in html[:200]
    assert "chunk.undecodable" in html
    step.close()


def test_close_drops_late_results(v2_nested: Dataset) -> None:
    posted: list[Any] = []
    view = MagicMock(spec=QCView)
    view.call_in_main.side_effect = posted.append  # hold results back
    step = QCStep(view)
    step.show(open_pyramid(v2_nested.path), "nested")
    job = step.run()
    assert job is not None
    n = view.set_qc.call_count
    step.close()
    assert job.cancel.is_set() and step.wait(60)
    for fn in posted:  # delivered after close: dropped
        fn()
    assert view.set_qc.call_count == n
    assert step.run() is None  # closed: no new run


def test_a_label_image_shows_the_run_of_its_image(tmp_path: Path) -> None:
    pytest.importorskip("ome_zarr")
    from ..qt._support import write_ome_zarr

    written = write_ome_zarr(tmp_path / "with_labels.ome.zarr", version="0.4", labels=True)
    pyr = open_pyramid(written.path)
    [cells] = pyr.labels
    view = make_view()
    step = QCStep(view)
    step.show(pyr, "image")
    job = step.run(level=2)  # scans the image's smallest level (not the labels')
    assert job is not None and step.wait(60)
    assert {(lv.image, lv.scanned) for lv in job.report.levels if lv.index == 2} == {
        ("", True),
        (cells.path, False),
    }
    step.show(cells, "cells")  # no run of its own: its image's run, which covered it
    assert step.job is job and states(view)[-1].report is job.report
    assert states(view)[-1].levels == tuple(lv.path for lv in cells.stored_levels)
    target = locate(pyr, Location(image=cells.path, level=0, chunk=(0, 0, 0)))
    assert target is not None and target.image is cells and target.level == 0
    own = step.run()  # a run of the labels themselves replaces it for them
    assert own is not None and own is not job and step.wait(60)
    assert step.job is own and own.report.levels[0].image == cells.path
    step.show(pyr, "image")
    assert step.job is job
    step.close()
